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
        if (t instanceof picocli.CommandLine.ExecutionException e && e.getCause() != null) {
            return describe(e.getCause());
        }
        return switch (t) {
            case NoSuchFileException e -> e.getFile() + ": " + (e.getReason() == null ? "no such file or folder" : e.getReason());
            case AccessDeniedException e -> e.getFile() + ": permission denied";
            case NotDirectoryException e -> e.getFile() + ": not a folder";
            case FileAlreadyExistsException e -> e.getFile() + ": " + (e.getReason() == null ? "already exists" : e.getReason());
            case OutOfMemoryError e -> "out of memory (" + e.getMessage() + "): give the JVM more with "
                    + "HIGGS_TRT_JAVA_OPTS, for example HIGGS_TRT_JAVA_OPTS=-Xmx8g bin/higgs-trt ...";
            case CliPaths.BadInput e -> e.getMessage();
            case dev.higgstrt.safetensors.SafetensorsFormatException e when e.file() != null ->
                    e.file() + ": " + e.tensor().map(n -> "tensor '" + n + "': ").orElse("") + e.detail();
            default -> t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        };
    }
}
