package dev.higgstrt.trt.tensorrt;

import org.bytedeco.tensorrt.nvinfer.ILogger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * TensorRT's logger bridged to SLF4J ({@code dev.higgstrt.trt.TensorRT}), at the levels {@link
 * TrtMessages} gives. It remembers the last errors so that a failed call can throw an exception
 * carrying TensorRT's own message.
 */
public final class TrtLogger extends ILogger {
    /** A logger with no errors remembered yet. */
    public TrtLogger() {
    }

    private static final Logger LOG = LoggerFactory.getLogger("dev.higgstrt.trt.TensorRT");
    private final Deque<String> errors = new ArrayDeque<>();

    @Override
    public void log(Severity severity, String msg) {
        // by value: the enum instance JavaCPP hands a callback is not always the constant
        switch (TrtMessages.level(severity.value, msg)) {
            case ERROR -> {
                LOG.error(msg);
                synchronized (errors) {
                    errors.addLast(msg);
                    if (errors.size() > 8) {
                        errors.removeFirst();
                    }
                }
            }
            case WARN -> LOG.warn(msg);
            case DEBUG -> LOG.debug(msg);
            case TRACE -> LOG.trace(msg);
        }
    }

    /**
     * The errors logged since the last call, joined, or {@code none}.
     *
     * @return the errors logged since the last call, joined, or {@code none}
     */
    public String drainErrors() {
        synchronized (errors) {
            String s = errors.isEmpty() ? "no message from TensorRT" : String.join("; ", errors);
            errors.clear();
            return s;
        }
    }
}
