package dev.higgstrt.generation;

import java.util.Optional;

/**
 * The delay pattern reverted as frames arrive: codebook k of a codec column is in the frame k
 * steps later, so a column is complete K - 1 frames after its first code. Columns are clipped
 * to {@code [0, streamBos - 1]} as {@link DelayPattern#codecCodes} does; they start after an
 * all-BOS frame (a later all-BOS frame starts them again, as the last one counts there) and end
 * at the first all-EOS frame. For a generation that opens with its all-BOS frame, the columns
 * handed out are exactly {@link DelayPattern#codecCodes}' columns. Not thread-safe.
 */
public final class DelayedCodes {
    private final int k;
    private final int streamBos;
    private final int streamEos;
    private final int[][] window;
    private boolean started;
    private boolean ended;
    private int seen;

    /**
     * An empty reverter.
     *
     * @param numCodebooks K
     * @param streamBos    the stream BOS code
     * @param streamEos    the stream EOS code
     */
    public DelayedCodes(int numCodebooks, int streamBos, int streamEos) {
        this.k = numCodebooks;
        this.streamBos = streamBos;
        this.streamEos = streamEos;
        this.window = new int[numCodebooks][];
    }

    /**
     * The next frame; returns the codec column it completes, if any.
     *
     * @param frame a code per codebook, delay pattern applied
     * @return the completed column (a code per codebook), or empty
     */
    public Optional<int[]> push(int[] frame) {
        if (frame.length != k) {
            throw new IllegalArgumentException("a frame of " + frame.length + " codes, expected " + k);
        }
        if (all(frame, streamBos)) {
            started = true;
            ended = false;
            seen = 0;
            return Optional.empty();
        }
        if (!started || ended) {
            return Optional.empty();
        }
        if (all(frame, streamEos)) {
            ended = true;
            return Optional.empty();
        }
        window[seen % k] = frame.clone();
        seen++;
        if (seen < k) {
            return Optional.empty();
        }
        int column = seen - k;
        int[] codes = new int[k];
        for (int cb = 0; cb < k; cb++) {
            int code = window[(column + cb) % k][cb];
            codes[cb] = Math.max(0, Math.min(streamBos - 1, code));
        }
        return Optional.of(codes);
    }

    /**
     * Whether an all-EOS frame ended the columns.
     *
     * @return true after the all-EOS frame
     */
    public boolean ended() {
        return ended;
    }

    private static boolean all(int[] frame, int code) {
        for (int c : frame) {
            if (c != code) {
                return false;
            }
        }
        return true;
    }
}
