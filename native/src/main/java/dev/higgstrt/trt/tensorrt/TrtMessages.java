package dev.higgstrt.trt.tensorrt;

/**
 * How {@link TrtLogger} files TensorRT's messages. Kept apart from the logger, which is a native
 * callback class, so that the rules load and test without TensorRT.
 */
public final class TrtMessages {
    private TrtMessages() {
    }

    /** Where a message goes. */
    public enum Level {
        /** An error: logged as one and remembered for the exception of a failed call. */
        ERROR,
        /** A warning. */
        WARN,
        /** Information, and the builder's notes on tactics it skipped. */
        DEBUG,
        /** TensorRT's verbose output. */
        TRACE
    }

    /**
     * The level of a message of TensorRT's severity (0 internal error, 1 error, 2 warning, 3 info,
     * 4 verbose). The builder reports as errors the tactics it tries for a layer and skips because
     * they do not take a tensor's type ({@code Error Code 9: Skipping tactic 0x... due to exception
     * Unsupported data type Bool.}), then picks another and the build succeeds: those go to DEBUG.
     *
     * @param severity TensorRT's severity value
     * @param message  the message
     * @return where it goes
     */
    public static Level level(int severity, String message) {
        return switch (severity) {
            case 0, 1 -> isSkippedTactic(message) ? Level.DEBUG : Level.ERROR;
            case 2 -> Level.WARN;
            case 3 -> Level.DEBUG;
            default -> Level.TRACE;
        };
    }

    private static boolean isSkippedTactic(String message) {
        return message != null && message.startsWith("Error Code 9: Skipping tactic ");
    }
}
