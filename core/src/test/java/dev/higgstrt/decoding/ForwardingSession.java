package dev.higgstrt.decoding;

import java.util.concurrent.CountDownLatch;

/**
 * A session that hands every call to another, for tests that change one thing about a real
 * session: it fails at a given forward, or waits for a latch before forwarding.
 */
public class ForwardingSession implements DecoderSession {
    /** The session every call goes to. */
    protected final DecoderSession inner;

    /**
     * Forwards to {@code inner}.
     *
     * @param inner the real session
     */
    public ForwardingSession(DecoderSession inner) {
        this.inner = inner;
    }

    @Override
    public Logits forward(TokenInput chunk) {
        return inner.forward(chunk);
    }

    @Override
    public int capacity() {
        return inner.capacity();
    }

    @Override
    public int length() {
        return inner.length();
    }

    @Override
    public void close() {
        inner.close();
    }

    /**
     * A session whose forward number {@code call} (from 1) throws {@code IllegalStateException(message)}.
     *
     * @param inner   the real session
     * @param call    the failing call
     * @param message the exception's message
     * @return the session
     */
    public static DecoderSession failingAt(DecoderSession inner, int call, String message) {
        return new ForwardingSession(inner) {
            private int calls;

            @Override
            public Logits forward(TokenInput chunk) {
                if (++calls == call) {
                    throw new IllegalStateException(message);
                }
                return inner.forward(chunk);
            }
        };
    }

    /**
     * A session whose forwards after the first {@code free} wait for {@code latch}.
     *
     * @param inner the real session
     * @param latch opens the later forwards
     * @param free  forwards that do not wait
     * @return the session
     */
    public static DecoderSession heldBy(DecoderSession inner, CountDownLatch latch, int free) {
        return new ForwardingSession(inner) {
            private int calls;

            @Override
            public Logits forward(TokenInput chunk) {
                if (calls++ >= free) {
                    try {
                        latch.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                return inner.forward(chunk);
            }
        };
    }
}
