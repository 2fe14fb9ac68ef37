package dev.higgstrt.trt.tensorrt;

/** A failure reported by TensorRT or CUDA, with their own message. */
public class TrtException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * An exception with this message.
     *
     * @param message the message
     */
    public TrtException(String message) {
        super(message);
    }
}
