package dev.higgstrt.layout;

/**
 * A checkpoint that does not fit the layout: a missing or unexpected tensor, a shape that
 * differs from what the config implies, or a parallel layout that does not divide the model.
 * The message names the tensor and what was expected.
 */
public class LayoutException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /**
     * An exception with this message.
     *
     * @param message the message
     */
    public LayoutException(String message) {
        super(message);
    }
}
