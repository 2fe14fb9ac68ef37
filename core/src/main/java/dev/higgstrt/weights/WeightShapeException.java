package dev.higgstrt.weights;

/** A weight operation whose shapes or dtypes do not fit, with a message naming the weights. */
public class WeightShapeException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /**
     * An exception with this message.
     *
     * @param message the message
     */
    public WeightShapeException(String message) {
        super(message);
    }
}
