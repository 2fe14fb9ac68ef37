package dev.higgstrt.text;

/** A tokenizer file that cannot be used, or text it refuses; the message names the file or the token. */
public final class TokenizerException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /**
     * A refusal.
     *
     * @param message what is wrong, naming the file or token
     */
    public TokenizerException(String message) {
        super(message);
    }

    /**
     * A refusal with its cause.
     *
     * @param message what is wrong, naming the file or token
     * @param cause   the underlying failure
     */
    public TokenizerException(String message, Throwable cause) {
        super(message, cause);
    }
}
