package dev.higgstrt.generation;

import java.util.Optional;

/**
 * How each codebook's code is chosen from its logits, as transformers' generation does it: the
 * delay pattern's masks first, then (when sampling) temperature, top-k and top-p, then a draw;
 * repetition-aware sampling (RAS) may then draw a code again. {@link #GREEDY} takes the largest
 * logit and is bit-reproducible; {@link #sample} draws with a seeded generator, so the same seed
 * gives the same frames.
 *
 * @param greedy      take the argmax (temperature, top-k and top-p unused)
 * @param temperature divides the logits before top-k and top-p, positive
 * @param topK        keep the k largest logits (0: all)
 * @param topP        keep the smallest set of codes whose probability reaches p, in (0, 1]
 * @param ras         repetition-aware sampling, if on
 * @param seed        the seed of the draws
 */
public record Sampling(boolean greedy, double temperature, int topK, double topP, Optional<Ras> ras, long seed) {
    /** Canonical constructor: checks the ranges. */
    public Sampling {
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be positive, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top-k must be 0 (off) or positive, got " + topK);
        }
        if (!(topP > 0) || topP > 1) {
            throw new IllegalArgumentException("top-p must be in (0, 1], got " + topP);
        }
        java.util.Objects.requireNonNull(ras, "ras");
    }

    /**
     * Repetition-aware sampling: when the code chosen for a codebook occurs at least
     * {@code maxRepeat} times among that codebook's last {@code window} frames (stream BOS and EOS
     * not counted), it is drawn again from the unmodified logits' distribution.
     *
     * @param window    frames looked back
     * @param maxRepeat occurrences that trigger a new draw
     */
    public record Ras(int window, int maxRepeat) {
        /** Canonical constructor: positive values. */
        public Ras {
            if (window <= 0 || maxRepeat <= 0) {
                throw new IllegalArgumentException("RAS window and max repeat must be positive, got " + window + " and " + maxRepeat);
            }
        }

        /**
         * The published checkpoint's setting.
         *
         * @return window 7, max repeat 2
         */
        public static Ras standard() {
            return new Ras(7, 2);
        }
    }

    /** Greedy decoding with RAS off: the bit-reproducible mode. */
    public static final Sampling GREEDY = new Sampling(true, 1.0, 0, 1.0, Optional.empty(), 0);

    /**
     * Sampling with transformers' defaults (temperature 1, top-k 50, top-p 1) and the published
     * checkpoint's RAS (window 7, max repeat 2).
     *
     * @param seed the seed
     * @return sampling settings
     */
    public static Sampling sample(long seed) {
        return new Sampling(false, 1.0, 50, 1.0, Optional.of(Ras.standard()), seed);
    }

    /**
     * These settings at another temperature.
     *
     * @param t the temperature
     * @return the settings
     */
    public Sampling withTemperature(double t) {
        return new Sampling(greedy, t, topK, topP, ras, seed);
    }

    /**
     * These settings with another top-k.
     *
     * @param k codes kept (0: all)
     * @return the settings
     */
    public Sampling withTopK(int k) {
        return new Sampling(greedy, temperature, k, topP, ras, seed);
    }

    /**
     * These settings with another top-p.
     *
     * @param p the probability mass kept
     * @return the settings
     */
    public Sampling withTopP(double p) {
        return new Sampling(greedy, temperature, topK, p, ras, seed);
    }

    /**
     * These settings with RAS on or off.
     *
     * @param r the RAS settings, or empty for off
     * @return the settings
     */
    public Sampling withRas(Optional<Ras> r) {
        return new Sampling(greedy, temperature, topK, topP, r, seed);
    }

    /**
     * These settings with another seed.
     *
     * @param s the seed
     * @return the settings
     */
    public Sampling withSeed(long s) {
        return new Sampling(greedy, temperature, topK, topP, ras, s);
    }
}
