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

    private final transient Path file;
    private final String tensor;
    private final String detail;

    /** A violation concerning the whole file. */
    public SafetensorsFormatException(Path file, String detail) {
        this(file, null, detail, null);
    }

    /** A violation concerning one tensor ({@code tensor} may be null). */
    public SafetensorsFormatException(Path file, String tensor, String detail) {
        this(file, tensor, detail, null);
    }

    /** As above, with the underlying cause. */
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

    /** The offending file. */
    public Path file() {
        return file;
    }

    /** The offending tensor, if the violation concerns one. */
    public Optional<String> tensor() {
        return Optional.ofNullable(tensor);
    }

    /** What is wrong, without the file and tensor names. */
    public String detail() {
        return detail;
    }
}
