package dev.higgstrt.safetensors;

import java.nio.file.Path;
import java.util.Optional;

/**
 * A safetensors file, shard index or checkpoint folder that violates the format. The message
 * starts with the file name and, where one is concerned, names the tensor:
 * {@code model.safetensors: tensor 'w': data_offsets [0,10] hold 10 bytes, BF16 [3,3] needs 18}.
 */
public class SafetensorsFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The offending file (not serialized). */
    private final transient Path file;
    /** The offending tensor, or null. */
    private final String tensor;
    /** What is wrong. */
    private final String detail;

    /**
     * A violation concerning the whole file.
     *
     * @param file   the file
     * @param detail what is wrong
     */
    public SafetensorsFormatException(Path file, String detail) {
        this(file, null, detail, null);
    }

    /**
     * A violation concerning one tensor ({@code tensor} may be null).
     *
     * @param file   the file
     * @param tensor the tensor name
     * @param detail what is wrong
     */
    public SafetensorsFormatException(Path file, String tensor, String detail) {
        this(file, tensor, detail, null);
    }

    /**
     * As above, with the underlying cause.
     *
     * @param file   the file
     * @param tensor the tensor name
     * @param detail what is wrong
     * @param cause  the cause
     */
    public SafetensorsFormatException(Path file, String tensor, String detail, Throwable cause) {
        super(format(file, tensor, detail), cause);
        this.file = file;
        this.tensor = tensor;
        this.detail = detail;
    }

    private static String format(Path file, String tensor, String detail) {
        String where = file == null ? "<unknown file>" : String.valueOf(file.getFileName() == null ? file : file.getFileName());
        return where + ": " + (tensor == null ? "" : "tensor '" + tensor + "': ") + detail;
    }

    /**
     * The offending file.
     *
     * @return the offending file
     */
    public Path file() {
        return file;
    }

    /**
     * The offending tensor, if the violation concerns one.
     *
     * @return the offending tensor, if the violation concerns one
     */
    public Optional<String> tensor() {
        return Optional.ofNullable(tensor);
    }

    /**
     * What is wrong, without the file and tensor names.
     *
     * @return what is wrong, without the file and tensor names
     */
    public String detail() {
        return detail;
    }
}
