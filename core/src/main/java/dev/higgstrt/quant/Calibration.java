package dev.higgstrt.quant;

import dev.higgstrt.model.LinearSite;

import java.util.Objects;

/**
 * Activation ranges for static (per-tensor) activation scales: the statistics of a calibration
 * and the percentile of per-position maxima at which the range is clipped.
 *
 * @param stats      activation statistics of the source model
 * @param percentile clip at this percentile of the per-position maxima (100: the maximum)
 */
public record Calibration(ActivationStats stats, double percentile) {
    /** Canonical constructor: validates. */
    public Calibration {
        Objects.requireNonNull(stats, "stats");
        if (!(percentile > 0 && percentile <= 100)) {
            throw new IllegalArgumentException("calibration percentile must be in (0, 100], got " + percentile);
        }
    }

    /**
     * The statistics, clipped at their maxima.
     *
     * @param stats the activation statistics
     * @return the statistics, clipped at their maxima
     */
    public static Calibration of(ActivationStats stats) {
        return new Calibration(stats, 100);
    }

    /**
     * The clipped maximum |x| over all input channels of {@code site} in {@code layer}.
     *
     * @throws IllegalArgumentException when the calibration reached no input of the site
     * @param layer the layer index
     * @param site  the linear layer site
     * @return the clipped maximum |x| over all input channels of {@code site} in {@code layer}
     */
    public float inputMax(int layer, LinearSite site) {
        float[] channels = stats.inputChannelMax(layer, site).orElseThrow(() -> unreached(layer, site, "input", ""));
        float max = 0;
        for (float v : channels) {
            max = Math.max(max, v);
        }
        if (!(max > 0)) {
            throw unreached(layer, site, "input", "");
        }
        return (float) (max * stats.clipRatio(layer, site, percentile));
    }

    /** The error for a static scale of a site that no calibration position reached. */
    static IllegalArgumentException unreached(int layer, LinearSite site, String what, String alternative) {
        boolean audio = site == LinearSite.AUDIO_GATE_UP || site == LinearSite.AUDIO_DOWN;
        return new IllegalArgumentException("the calibration reached no " + what + " of " + site.id() + " in layer " + layer
                + (audio ? " (no audio positions)" : "")
                + ": a static activation scale needs one; calibrate with more varied inputs"
                + (audio ? " (include audio tokens)" : "") + alternative);
    }
}
