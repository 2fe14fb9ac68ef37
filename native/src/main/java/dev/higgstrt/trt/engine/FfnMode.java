package dev.higgstrt.trt.engine;

import dev.higgstrt.trt.plugin.DualFfnPlugin;

/** How an engine computes the dual FFN of its dual-FFN layers. */
public enum FfnMode {
    /** The {@link DualFfnPlugin}: each position computes its own path only. */
    PLUGIN,
    /** Both paths for every position, then a per-position select: twice the FFN work; the baseline. */
    COMPUTE_BOTH,
    /** {@link #PLUGIN} where the plugin loads, else {@link #COMPUTE_BOTH} (with a warning). */
    AUTO;

    /**
     * The name in engine files and on the command line.
     *
     * @return the name in engine files and on the command line
     */
    public String id() {
        return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }

    /**
     * Parses {@link #id()}.
     *
     * @param s the text
     * @return {@link #id()}
     */
    public static FfnMode parse(String s) {
        for (FfnMode m : values()) {
            if (m.id().equals(s)) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown FFN mode '" + s + "' (plugin, compute-both, auto)");
    }
}
