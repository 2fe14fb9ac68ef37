package dev.higgstrt.model;

/**
 * Rotary position embedding parameters, with Llama 3 frequency scaling when {@code type} is
 * {@code llama3}.
 *
 * @param theta                          base ({@code rope_theta})
 * @param type                           {@code default} or {@code llama3}
 * @param factor                         llama3: the scaling factor
 * @param lowFreqFactor                  llama3: {@code low_freq_factor}
 * @param highFreqFactor                 llama3: {@code high_freq_factor}
 * @param originalMaxPositionEmbeddings  llama3: {@code original_max_position_embeddings}
 */
public record RopeParameters(double theta, String type, double factor, double lowFreqFactor,
                             double highFreqFactor, int originalMaxPositionEmbeddings) {
    /** Canonical constructor: validates. */
    public RopeParameters {
        if (!(theta > 0) || Double.isInfinite(theta)) {
            throw new ConfigException("rope_theta must be positive, got " + theta);
        }
        if (!type.equals("default") && !type.equals("llama3")) {
            throw new ConfigException("rope type '" + type + "' is not supported (default or llama3)");
        }
        if (type.equals("llama3")) {
            if (!(factor >= 1) || !(lowFreqFactor > 0) || !(highFreqFactor > lowFreqFactor) || originalMaxPositionEmbeddings <= 0) {
                throw new ConfigException("llama3 rope scaling needs factor >= 1, 0 < low_freq_factor < high_freq_factor"
                        + " and original_max_position_embeddings > 0; got factor " + factor + ", low " + lowFreqFactor
                        + ", high " + highFreqFactor + ", original " + originalMaxPositionEmbeddings);
            }
        }
    }

    /**
     * Plain RoPE with base {@code theta}.
     *
     * @param theta the theta
     * @return plain RoPE with base {@code theta}
     */
    public static RopeParameters plain(double theta) {
        return new RopeParameters(theta, "default", 1, 1, 4, 0);
    }

    /**
     * Llama 3.2's scaling: factor 32, low 1, high 4, original 8192.
     *
     * @param theta    the theta
     * @param factor   the factor
     * @param low      the low
     * @param high     the high
     * @param original the original
     * @return llama 3.2's scaling: factor 32, low 1, high 4, original 8192
     */
    public static RopeParameters llama3(double theta, double factor, double low, double high, int original) {
        return new RopeParameters(theta, "llama3", factor, low, high, original);
    }

    /**
     * Whether llama3 scaling applies.
     *
     * @return whether llama3 scaling applies
     */
    public boolean scaled() {
        return type.equals("llama3");
    }

    /**
     * The inverse frequencies for a head of {@code headDim} dimensions: {@code headDim / 2}
     * values, llama3-scaled when configured (computed in double, rounded to float once).
     *
     * @param headDim the head dim
     * @return the inverse frequencies for a head of {@code headDim} dimensions: {@code headDim / 2} values, llama3-scaled when configured (computed in double, rounded to float once)
     */
    public float[] inverseFrequencies(int headDim) {
        float[] inv = new float[headDim / 2];
        for (int i = 0; i < inv.length; i++) {
            double f = 1.0 / Math.pow(theta, (2.0 * i) / headDim);
            if (scaled()) {
                double lowWavelen = originalMaxPositionEmbeddings / lowFreqFactor;
                double highWavelen = originalMaxPositionEmbeddings / highFreqFactor;
                double wavelen = 2 * Math.PI / f;
                if (wavelen > lowWavelen) {
                    f = f / factor;
                } else if (wavelen >= highWavelen) {
                    double smooth = (originalMaxPositionEmbeddings / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                    f = (1 - smooth) * f / factor + smooth * f;
                }
            }
            inv[i] = (float) f;
        }
        return inv;
    }
}
