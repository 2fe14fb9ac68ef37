package dev.higgstrt.reference;

import dev.higgstrt.model.LinearInputs;
import dev.higgstrt.model.LinearSite;
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
     * @param x      the activations
     * @param tokens the tokens
     * @param routed the routed
     * @param eps    the eps
     * @param hidden the hidden
     * @param inter  the inter
     */
    public static void addPath(float[] x, int tokens, boolean[] routed, float[] norm, float eps, float[] gate,
                               float[] up, float[] down, int hidden, int inter) {
        if (x.length < (long) tokens * hidden || routed.length < tokens || norm.length != hidden
                || gate.length != (long) inter * hidden || up.length != (long) inter * hidden
                || down.length != (long) hidden * inter) {
            throw new IllegalArgumentException("feed-forward operand sizes do not match hidden " + hidden
                    + ", intermediate " + inter + ", tokens " + tokens);
        }
        addPath(x, tokens, routed, new PathWeights(norm, Matrix.of(gate, inter, hidden), Matrix.of(up, inter, hidden),
                Matrix.of(down, hidden, inter)), eps, Site.NONE);
    }

    /**
     * The weights of one path: its post-attention norm [hidden], gate and up [inter, hidden] and
     * down [hidden, inter], read as stored.
     */
    record PathWeights(float[] norm, Matrix gate, Matrix up, Matrix down) {
        int hidden() {
            return norm.length;
        }

        int inter() {
            return gate.rows();
        }
    }

    /** The site of one path in one layer, for the hook. */
    record Site(LinearInputs hook, int layer, boolean audioPath) {
        static final Site NONE = new Site(LinearInputs.NONE, 0, false);
    }

    /** As the public method, reading the weights as stored and passing activations through {@code site}'s hook. */
    static void addPath(float[] x, int tokens, boolean[] routed, PathWeights w, float eps, Site site) {
        int hidden = w.hidden();
        int inter = w.inter();
        float[] norm = w.norm();
        LinearInputs hook = site.hook();
        int layer = site.layer();
        boolean audioPath = site.audioPath();
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
        Kernels.matmul(in, n, hidden, w.gate(), inter, g);
        Kernels.matmul(in, n, hidden, w.up(), inter, u);
        hook.output(layer, gateUp, g, n, inter);
        hook.output(layer, gateUp, u, n, inter);
        Kernels.siluMul(g, u, n * inter);
        float[] out = new float[n * hidden];
        hook.input(layer, downSite, g, n, inter);
        Kernels.matmul(g, n, inter, w.down(), hidden, out);
        hook.output(layer, downSite, out, n, hidden);
        for (int r = 0; r < n; r++) {
            for (int j = 0; j < hidden; j++) {
                x[rows[r] * hidden + j] += out[r * hidden + j];
            }
        }
    }
}
