package dev.higgstrt.model;

/**
 * The linear layers of a decoder layer, by the activation they read: SmoothQuant calibrates and
 * smooths each site separately, and on the dual-FFN layer the text and audio MLPs are separate sites.
 */
public enum LinearSite {
    /** q, k and v (shared by both paths): the output of the input norm, all positions. */
    QKV,
    /** The attention output projection: the attention output, all positions. */
    DENSE,
    /** The text MLP's gate and up: the output of the post-attention norm, text positions. */
    GATE_UP,
    /** The text MLP's down projection: silu(gate) * up, text positions. */
    DOWN,
    /** The audio MLP's gate and up (dual-FFN layers): the audio post-attention norm's output, audio positions. */
    AUDIO_GATE_UP,
    /** The audio MLP's down projection (dual-FFN layers), audio positions. */
    AUDIO_DOWN;

    /**
     * The name used in statistics files: {@code qkv}, {@code dense}, {@code gate_up}, ...
     *
     * @return the name used in statistics files: {@code qkv}, {@code dense}, {@code gate_up}, 
     */
    public String id() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /**
     * A key for this site in {@code layer}: {@code "layer.id"}, e.g. {@code 3.gate_up}.
     *
     * @param layer the layer index
     * @return a key for this site in {@code layer}: {@code "layer.id"}, e.g
     */
    public String key(int layer) {
        return layer + "." + id();
    }

    /**
     * The site of a feed-forward path's gate/up ({@code down} false) or down projection.
     *
     * @param audioPath the audio path (else the text path)
     * @param down      the down projection (else gate and up)
     * @return the site
     */
    public static LinearSite ffn(boolean audioPath, boolean down) {
        return audioPath ? (down ? AUDIO_DOWN : AUDIO_GATE_UP) : (down ? DOWN : GATE_UP);
    }
}
