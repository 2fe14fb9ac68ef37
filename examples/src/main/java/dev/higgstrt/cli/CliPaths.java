package dev.higgstrt.cli;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The checks of the paths a user gives, before any work: each refusal names the whole path as
 * given and what kind of thing was expected there.
 */
final class CliPaths {
    private CliPaths() {
    }

    /** A folder that must exist, for example {@code "a checkpoint folder"}. */
    static Path folder(Path p, String expected) {
        if (!Files.exists(p)) {
            throw new BadInput(p + ": no such folder (expected " + expected + ")");
        }
        if (!Files.isDirectory(p)) {
            throw new BadInput(p + ": a file, not a folder (expected " + expected + ")");
        }
        return p;
    }

    /** A file that must exist, for example {@code "a token file (JSON)"}. */
    static Path file(Path p, String expected) {
        if (!Files.exists(p)) {
            throw new BadInput(p + ": no such file (expected " + expected + ")");
        }
        if (Files.isDirectory(p)) {
            throw new BadInput(p + ": a folder, not a file (expected " + expected + ")");
        }
        return p;
    }

    /** A file or a folder that must exist. */
    static Path existing(Path p, String expected) {
        if (!Files.exists(p)) {
            throw new BadInput(p + ": no such file or folder (expected " + expected + ")");
        }
        return p;
    }

    /** A file to write: not a folder, in a folder that exists (nothing is created above it). */
    static Path outputFile(Path p, String expected) {
        if (Files.isDirectory(p)) {
            throw new BadInput(p + ": a folder (expected the path of " + expected + " to write)");
        }
        Path parent = p.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            throw new BadInput(p + ": its folder " + parent + (Files.exists(parent) ? " is a file" : " does not exist")
                    + " (create it first)");
        }
        return p;
    }

    /** A folder to write: absent or a folder, in a folder that exists or can be made. */
    static Path outputFolder(Path p, String expected) {
        if (Files.exists(p) && !Files.isDirectory(p)) {
            throw new BadInput(p + ": a file (expected " + expected + ")");
        }
        return p;
    }

    /** Bad input found by the command line itself: reported as its message alone, exit 2. */
    static final class BadInput extends RuntimeException {
        private static final long serialVersionUID = 1L;

        BadInput(String message) {
            super(message);
        }
    }
}
