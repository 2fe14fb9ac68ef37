package dev.higgstrt.model;

/** A config.json that cannot describe a model we support, with a message naming the field. */
public class ConfigException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /**
     * An exception with this message.
     *
     * @param message the message
     */
    public ConfigException(String message) {
        super(message);
    }
}
