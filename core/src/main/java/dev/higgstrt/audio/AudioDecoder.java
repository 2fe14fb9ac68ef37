package dev.higgstrt.audio;

/**
 * Codes to samples: the CPU reference ({@link CodecDecoder}) or a codec engine. Implementations
 * are thread-safe, or say otherwise.
 */
public interface AudioDecoder {
    /**
     * The codec's geometry.
     *
     * @return the config
     */
    CodecConfig config();

    /**
     * Decodes codes [K][T] to {@code T * samplesPerFrame} samples, not clamped.
     *
     * @param codes one row per quantizer, codes in [0, codebookSize)
     * @return the samples
     * @throws IllegalArgumentException for codes of the wrong count, length or range
     */
    float[] decode(int[][] codes);

    /**
     * The most frames one {@link #decode} call takes.
     *
     * @return the limit ({@link Integer#MAX_VALUE} where there is none)
     */
    default int maxFrames() {
        return Integer.MAX_VALUE;
    }
}
