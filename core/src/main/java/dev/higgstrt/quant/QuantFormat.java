package dev.higgstrt.quant;

import java.util.Locale;

/**
 * Weight quantization formats of a conversion, with TensorRT-LLM's {@code quant_algo} names.
 * Quantized weights are stored plainly as [out, in] row-major (INT4: two per byte, low nibble
 * first), never interleaved for a particular kernel.
 */
public enum QuantFormat {
    /** Weights in the target float dtype. */
    NONE(null, 0),
    /** INT8 weights, one symmetric scale per output channel: {@code per_channel_scale} [out]. */
    INT8_WO("W8A16", 127),
    /** INT4 weights packed two per byte, one scale per output channel. */
    INT4_WO("W4A16", 7),
    /** INT4 weights packed two per byte, one scale per output channel and group of 128 inputs:
     *  {@code weights_scaling_factor} [out, in / 128]. */
    INT4_GROUP("W4A16_AWQ", 7),
    /** FP8 E4M3 weights with one scale per tensor: {@code weights_scaling_factor} [1]. */
    FP8("FP8", 448),
    /** SmoothQuant W8A8: INT8 weights per output channel, activations quantized per token at run
     *  time; see {@link SmoothQuant}. */
    SQ("W8A8_SQ_PER_CHANNEL_PER_TOKEN_PLUGIN", 127),
    /** SmoothQuant W8A8 with static per-tensor activation scales from calibration. */
    SQ_PER_TENSOR("W8A8_SQ_PER_CHANNEL_PER_TENSOR_PLUGIN", 127);

    /** Group size of {@link #INT4_GROUP}. */
    public static final int GROUP_SIZE = 128;

    private final String quantAlgo;
    private final float maxCode;

    QuantFormat(String quantAlgo, float maxCode) {
        this.quantAlgo = quantAlgo;
        this.maxCode = maxCode;
    }

    /**
     * TensorRT-LLM's {@code quant_algo}, or null for {@link #NONE}.
     *
     * @return TensorRT-LLM's {@code quant_algo}, or null for {@link #NONE}
     */
    public String quantAlgo() {
        return quantAlgo;
    }

    /**
     * The largest magnitude a quantized value takes: scale = max|w| / maxCode.
     *
     * @return the largest magnitude a quantized value takes: scale = max|w| / maxCode
     */
    public float maxCode() {
        return maxCode;
    }

    /** The command line name: {@code none}, {@code int8_wo}, {@code int4_wo}, {@code int4_group}, {@code fp8},
     *
     * @return the command line name: {@code none}, {@code int8_wo}, {@code int4_wo}, {@code int4_group}, {@code fp8}, {@code sq}, {@code sq_per_tensor}
     *  {@code sq}, {@code sq_per_tensor}. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * Bits per stored weight.
     *
     * @return bits per stored weight
     */
    public int bits() {
        return switch (this) {
            case INT4_WO, INT4_GROUP -> 4;
            case INT8_WO, FP8, SQ, SQ_PER_TENSOR -> 8;
            case NONE -> 16;
        };
    }

    /**
     * Whether this is one of the SmoothQuant formats, which need activation statistics.
     *
     * @return whether this is one of the SmoothQuant formats, which need activation statistics
     */
    public boolean isSmoothQuant() {
        return this == SQ || this == SQ_PER_TENSOR;
    }

    /**
     * Parses {@link #id()}.
     *
     * @param s the text
     * @return {@link #id()}
     */
    public static QuantFormat parse(String s) {
        for (QuantFormat f : values()) {
            if (f.id().equals(s)) {
                return f;
            }
        }
        throw new IllegalArgumentException("unknown quantization '" + s + "' (none, int8_wo, int4_wo, int4_group, fp8, sq, sq_per_tensor)");
    }

    /**
     * The quantization of a {@code config.json}'s {@code quant_algo} (null: none).
     *
     * @param algo the algo
     * @return the quantization of a {@code config.json}'s {@code quant_algo} (null: none)
     */
    public static QuantFormat ofQuantAlgo(String algo) {
        if (algo == null) {
            return NONE;
        }
        for (QuantFormat f : values()) {
            if (algo.equals(f.quantAlgo)) {
                return f;
            }
        }
        throw new IllegalArgumentException("unsupported quant_algo '" + algo + "'");
    }
}
