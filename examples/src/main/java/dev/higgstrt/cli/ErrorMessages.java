package dev.higgstrt.cli;

import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;

/** One-line descriptions of the errors the commands report. */
final class ErrorMessages {
    private ErrorMessages() {
    }

    static String describe(Throwable ex) {
        Throwable t = ex instanceof UncheckedIOException u && u.getCause() != null ? u.getCause() : ex;
        return switch (t) {
            case NoSuchFileException e -> e.getFile() + ": " + (e.getReason() == null ? "no such file or folder" : e.getReason());
            case AccessDeniedException e -> e.getFile() + ": permission denied";
            case NotDirectoryException e -> e.getFile() + ": not a folder";
            case FileAlreadyExistsException e -> e.getFile() + ": " + (e.getReason() == null ? "already exists" : e.getReason());
            case OutOfMemoryError e -> "out of memory (" + e.getMessage() + ")";
            default -> t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        };
    }
}
