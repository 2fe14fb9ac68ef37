package dev.higgstrt.reference;

import java.util.stream.IntStream;

/** The float32 arithmetic of the reference forward, multi-threaded where it pays. */
final class Kernels {
    /** Output rows per parallel task of a matrix product. */
    private static final int ROWS_PER_TASK = 16;
    /** Each thread's buffer of weight rows, grown to the widest matrix it has read. */
    private static final ThreadLocal<float[]> BLOCK = ThreadLocal.withInitial(() -> new float[0]);

    private Kernels() {
    }

    /**
     * {@code y[t][o] = sum_i x[t][i] * w[o][i]} for {@code t < tokens}: x is [tokens, in], w is
     * [out, in] (PyTorch's Linear layout), y is [tokens, out]. Rows of w are split over the cores;
     * every output element is summed by one thread in a fixed order, so results do not depend on
     * the number of threads.
     */
    static void matmul(float[] x, int tokens, int in, float[] w, int out, float[] y) {
        matmul(x, tokens, in, Matrix.of(w, out, in), out, y);
    }

    /**
     * As above, with {@code w} read in its stored type a block of {@link #ROWS_PER_TASK} rows at a
     * time into a per-thread buffer: the same sums in the same order as over a float copy.
     */
    static void matmul(float[] x, int tokens, int in, Matrix w, int out, float[] y) {
        if (w.rows() != out || w.cols() != in) {
            throw new IllegalArgumentException("weight [" + w.rows() + "," + w.cols() + "] is not [" + out + "," + in + "]");
        }
        int tasks = (out + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
        IntStream range = IntStream.range(0, tasks);
        if ((long) tokens * in * out > 1 << 16) {
            range = range.parallel();
        }
        range.forEach(task -> {
            int o0 = task * ROWS_PER_TASK;
            int o1 = Math.min(out, o0 + ROWS_PER_TASK);
            float[] heap = w.heapFloats();
            float[] wb = heap != null ? heap : block(in);
            int base = heap != null ? 0 : o0;
            if (heap == null) {
                w.read(o0, o1 - o0, wb);
            }
            for (int o = o0; o < o1; o++) {
                int wo = (o - base) * in;
                int t = 0;
                for (; t + 1 < tokens; t += 2) {
                    dot2(x, t * in, (t + 1) * in, wb, wo, in, y, t * out + o, (t + 1) * out + o);
                }
                for (; t < tokens; t++) {
                    y[t * out + o] = dot(x, t * in, wb, wo, in);
                }
            }
        });
    }

    private static float[] block(int in) {
        float[] block = BLOCK.get();
        if (block.length < ROWS_PER_TASK * in) {
            block = new float[ROWS_PER_TASK * in];
            BLOCK.set(block);
        }
        return block;
    }

    /** Dot product of {@code n} floats, with four partial sums. */
    static float dot(float[] a, int ao, float[] b, int bo, int n) {
        float s0 = 0;
        float s1 = 0;
        float s2 = 0;
        float s3 = 0;
        int i = 0;
        for (; i + 3 < n; i += 4) {
            s0 += a[ao + i] * b[bo + i];
            s1 += a[ao + i + 1] * b[bo + i + 1];
            s2 += a[ao + i + 2] * b[bo + i + 2];
            s3 += a[ao + i + 3] * b[bo + i + 3];
        }
        for (; i < n; i++) {
            s0 += a[ao + i] * b[bo + i];
        }
        return (s0 + s1) + (s2 + s3);
    }

    /**
     * Two dot products against the same row of {@code b} (loaded once), each summed exactly as
     * {@link #dot} sums it, so that results do not depend on how many tokens are batched.
     */
    static void dot2(float[] a, int a0, int a1, float[] b, int bo, int n, float[] y, int y0, int y1) {
        float s0 = 0;
        float s1 = 0;
        float s2 = 0;
        float s3 = 0;
        float r0 = 0;
        float r1 = 0;
        float r2 = 0;
        float r3 = 0;
        int i = 0;
        for (; i + 3 < n; i += 4) {
            float b0 = b[bo + i];
            float b1 = b[bo + i + 1];
            float b2 = b[bo + i + 2];
            float b3 = b[bo + i + 3];
            s0 += a[a0 + i] * b0;
            s1 += a[a0 + i + 1] * b1;
            s2 += a[a0 + i + 2] * b2;
            s3 += a[a0 + i + 3] * b3;
            r0 += a[a1 + i] * b0;
            r1 += a[a1 + i + 1] * b1;
            r2 += a[a1 + i + 2] * b2;
            r3 += a[a1 + i + 3] * b3;
        }
        for (; i < n; i++) {
            s0 += a[a0 + i] * b[bo + i];
            r0 += a[a1 + i] * b[bo + i];
        }
        y[y0] = (s0 + s1) + (s2 + s3);
        y[y1] = (r0 + r1) + (r2 + r3);
    }

    /** RMSNorm of one row of {@code x} into {@code out}, in float32 as transformers does. */
    static void rmsNorm(float[] x, int xo, float[] weight, float eps, float[] out, int oo, int n) {
        double ss = 0;
        for (int i = 0; i < n; i++) {
            float v = x[xo + i];
            ss += v * v;
        }
        float inv = (float) (1.0 / Math.sqrt((float) (ss / n) + eps));
        for (int i = 0; i < n; i++) {
            out[oo + i] = weight[i] * (x[xo + i] * inv);
        }
    }

    /** SiLU(gate) * up, in place into gate. */
    static void siluMul(float[] gate, float[] up, int n) {
        for (int i = 0; i < n; i++) {
            float g = gate[i];
            gate[i] = (float) (g / (1.0 + Math.exp(-g))) * up[i];
        }
    }
}
