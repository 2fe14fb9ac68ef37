package dev.higgstrt.reference;

import java.net.URISyntaxException;
import java.nio.file.Path;

/** The transformers golden fixtures on the test class path ({@code /golden}). */
public final class Goldens {
    private Goldens() {
    }

    /** The folder or file {@code name} under {@code /golden}. */
    public static Path path(String name) {
        try {
            return Path.of(Goldens.class.getResource("/golden/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
