package dev.higgstrt.converted;

import dev.higgstrt.model.LinearInputs;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** Test helpers over converted checkpoints. */
public final class TestConverted {
    private TestConverted() {
    }

    /** Opens {@code folder} and adds it to {@code open}, which the caller closes. */
    public static ConvertedCheckpoint open(Path folder, List<ConvertedCheckpoint> open) throws IOException {
        ConvertedCheckpoint ck = ConvertedCheckpoint.open(folder);
        open.add(ck);
        return ck;
    }

    /** The activation rounding of the conversion in {@code folder}. */
    public static LinearInputs rounding(Path folder) throws IOException {
        try (ConvertedCheckpoint ck = ConvertedCheckpoint.open(folder)) {
            return ck.activationRounding();
        }
    }
}
