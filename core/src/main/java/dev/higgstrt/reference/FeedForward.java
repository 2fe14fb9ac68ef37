package dev.higgstrt.reference;

/**
 * One feed-forward path of a decoder layer on the CPU, in FP32: for every position routed to the
 * path, {@code x += down(silu(gate(n)) * up(n))} with {@code n = RMSNorm(x) * norm}. The dual FFN
 * applies it twice, once per path; the GPU plugin is checked against it.
 */
public final class FeedForward {
    private FeedForward() {
    }

    /**
     * Adds the path's output to the rows of {@code x} [tokens, hidden] whose {@code routed} flag is set.
     *
     * @param norm  the path's post-attention RMSNorm weight [hidden]
     * @param gate  [inter, hidden], row-major
     * @param up    [inter, hidden]
     * @param down  [hidden, inter]
     */
    public static void addPath(float[] x, int tokens, boolean[] routed, float[] norm, float eps, float[] gate,
                               float[] up, float[] down, int hidden, int inter) {
        addPath(x, tokens, routed, norm, eps, gate, up, down, hidden, inter, LinearInputs.NONE, 0, false);
    }

    /**
     * {@link #addPath(float[], int, boolean[], float[], float, float[], float[], float[], int, int)}
     * with the activations of its linear layers passed through {@code hook} as {@code layer}'s
     * text or audio ({@code audioPath}) MLP sites.
     */
    public static void addPath(float[] x, int tokens, boolean[] routed, float[] norm, float eps, float[] gate,
                               float[] up, float[] down, int hidden, int inter, LinearInputs hook, int layer,
                               boolean audioPath) {
        if (x.length < (long) tokens * hidden || routed.length < tokens || norm.length != hidden
                || gate.length != (long) inter * hidden || up.length != (long) inter * hidden
                || down.length != (long) hidden * inter) {
            throw new IllegalArgumentException("feed-forward operand sizes do not match hidden " + hidden
                    + ", intermediate " + inter + ", tokens " + tokens);
        }
        int n = 0;
        int[] rows = new int[tokens];
        for (int i = 0; i < tokens; i++) {
            if (routed[i]) {
                rows[n++] = i;
            }
        }
        if (n == 0) {
            return;
        }
        float[] in = new float[n * hidden];
        for (int r = 0; r < n; r++) {
            Kernels.rmsNorm(x, rows[r] * hidden, norm, eps, in, r * hidden, hidden);
        }
        float[] g = new float[n * inter];
        float[] u = new float[n * inter];
        LinearSite gateUp = LinearSite.ffn(audioPath, false);
        LinearSite downSite = LinearSite.ffn(audioPath, true);
        hook.input(layer, gateUp, in, n, hidden);
        Kernels.matmul(in, n, hidden, gate, inter, g);
        Kernels.matmul(in, n, hidden, up, inter, u);
        hook.output(layer, gateUp, g, n, inter);
        hook.output(layer, gateUp, u, n, inter);
        Kernels.siluMul(g, u, n * inter);
        float[] out = new float[n * hidden];
        hook.input(layer, downSite, g, n, inter);
        Kernels.matmul(g, n, inter, down, hidden, out);
        hook.output(layer, downSite, out, n, hidden);
        for (int r = 0; r < n; r++) {
            for (int j = 0; j < hidden; j++) {
                x[rows[r] * hidden + j] += out[r * hidden + j];
            }
        }
    }
}
