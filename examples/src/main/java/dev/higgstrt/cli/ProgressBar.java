package dev.higgstrt.cli;

import java.io.PrintWriter;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/** A one-line progress bar on the terminal; silent when output is not a terminal. */
final class ProgressBar implements LongConsumer, AutoCloseable {
    private final PrintWriter err;
    private final long total;
    private final boolean enabled;
    private final AtomicLong done = new AtomicLong();
    private volatile long lastDraw;

    ProgressBar(PrintWriter err, long total) {
        this.err = err;
        this.total = Math.max(1, total);
        var console = System.console();
        this.enabled = console != null && console.isTerminal();
    }

    @Override
    public void accept(long bytes) {
        long now = done.addAndGet(bytes);
        long t = System.nanoTime();
        if (enabled && (t - lastDraw > 100_000_000L || now >= total)) {
            lastDraw = t;
            draw(now);
        }
    }

    private synchronized void draw(long now) {
        int width = 30;
        int filled = (int) Math.min(width, width * now / total);
        err.printf("\r[%s%s] %3d%% %.2f/%.2f GB", "#".repeat(filled), ".".repeat(width - filled),
                100 * now / total, now / 1e9, total / 1e9);
        err.flush();
    }

    @Override
    public void close() {
        if (enabled) {
            err.print("\r" + " ".repeat(60) + "\r");
            err.flush();
        }
    }
}
