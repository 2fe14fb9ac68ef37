package dev.higgstrt.cli;

import java.io.PrintWriter;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * Progress of a long write: a one-line bar redrawn on a terminal; elsewhere (a log, a pipe) a
 * plain line every {@link #LINE_INTERVAL_NANOS}, so that a long run is never silent.
 */
final class ProgressBar implements LongConsumer, AutoCloseable {
    static final long LINE_INTERVAL_NANOS = 5_000_000_000L;
    private final PrintWriter err;
    private final long total;
    private final boolean terminal;
    private final long start = System.nanoTime();
    private final AtomicLong done = new AtomicLong();
    private final long interval;
    private volatile long lastDraw = start;

    ProgressBar(PrintWriter err, long total) {
        this(err, total, System.console() != null && System.console().isTerminal());
    }

    ProgressBar(PrintWriter err, long total, boolean terminal) {
        this(err, total, terminal, terminal ? 100_000_000L : LINE_INTERVAL_NANOS);
    }

    ProgressBar(PrintWriter err, long total, boolean terminal, long intervalNanos) {
        this.err = err;
        this.total = Math.max(1, total);
        this.terminal = terminal;
        this.interval = intervalNanos;
    }

    @Override
    public void accept(long bytes) {
        long now = done.addAndGet(bytes);
        long t = System.nanoTime();
        if (t - lastDraw >= interval || (terminal && now >= total)) {
            lastDraw = t;
            draw(now, t);
        }
    }

    private synchronized void draw(long now, long t) {
        if (terminal) {
            int width = 30;
            int filled = (int) Math.min(width, width * now / total);
            err.printf("\r[%s%s] %3d%% %s of %s", "#".repeat(filled), ".".repeat(width - filled),
                    100 * now / total, Sizes.bytes(now), Sizes.bytes(total));
        } else {
            err.printf("%s of %s (%d%%) after %.0f s%n", Sizes.bytes(now), Sizes.bytes(total), 100 * now / total,
                    (t - start) / 1e9);
        }
        err.flush();
    }

    @Override
    public void close() {
        if (terminal) {
            err.print("\r" + " ".repeat(60) + "\r");
            err.flush();
        }
    }
}
