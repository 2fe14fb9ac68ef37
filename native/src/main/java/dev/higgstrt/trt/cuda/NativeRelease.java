package dev.higgstrt.trt.cuda;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The release of one owner's native resources, run once: by the owner's {@code close()}, or, as a
 * safety net, by a {@link Cleaner} once the owner is unreachable without having been closed, with
 * a warning that names it. The release action must not reference its owner (it would then never
 * become unreachable); it holds the native handles themselves.
 */
public final class NativeRelease implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(NativeRelease.class);
    private static final Cleaner CLEANER = Cleaner.create(Thread.ofPlatform().name("higgs-trt-cleaner").daemon().factory());
    private static final AtomicLong UNCLOSED = new AtomicLong();

    private final String what;
    private final Runnable release;
    private final AtomicBoolean done = new AtomicBoolean();
    private volatile boolean closing;
    private final Cleaner.Cleanable cleanable;

    private NativeRelease(Object owner, String what, Runnable release) {
        this.what = what;
        this.release = release;
        this.cleanable = CLEANER.register(owner, this);
    }

    /**
     * Registers {@code release} to run once: at {@link #close()}, or by the Cleaner after {@code owner} is unreachable.
     *
     * @param owner   the owner
     * @param what    the what
     * @param release the release
     * @return the registration, whose close runs the release
     */
    public static NativeRelease register(Object owner, String what, Runnable release) {
        return new NativeRelease(owner, what, release);
    }

    /** Runs the release now, from the owner's {@code close()}. Idempotent. */
    public void close() {
        closing = true;
        cleanable.clean();
    }

    /**
     * Whether the resources have been released (closed, or cleaned).
     *
     * @return whether the resources have been released (closed, or cleaned)
     */
    public boolean released() {
        return done.get();
    }

    /**
     * Owners released by the Cleaner because they were never closed, since the process started.
     *
     * @return the count of owners the Cleaner released
     */
    public static long unclosedCount() {
        return UNCLOSED.get();
    }

    @Override
    public void run() {
        if (!done.compareAndSet(false, true)) {
            return;
        }
        if (!closing) {
            UNCLOSED.incrementAndGet();
            LOG.warn("{} was never closed: released by the Cleaner after it became unreachable. Close it "
                    + "(try-with-resources) to free its native memory when you are done with it.", what);
        }
        release.run();
    }
}
