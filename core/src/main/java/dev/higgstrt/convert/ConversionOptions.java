package dev.higgstrt.convert;

import dev.higgstrt.quant.QuantOptions;
import dev.higgstrt.tensor.DType;

import java.util.Optional;

/**
 * How to convert.
 *
 * @param tp      tensor-parallel size
 * @param pp      pipeline-parallel size
 * @param dtype   target dtype, or empty to keep the checkpoint's ({@code --dtype auto})
 * @param threads ranks written at once
 * @param quant   weight quantization
 * @param allowNonFinite convert weights holding NaN or infinity instead of refusing them
 */
public record ConversionOptions(int tp, int pp, Optional<DType> dtype, int threads, QuantOptions quant,
                                boolean allowNonFinite) {
    /**
     * Options that refuse NaN and infinity in the source weights.
     *
     * @param tp      the tensor-parallel size
     * @param pp      the pipeline-parallel size
     * @param dtype   the element type
     * @param threads the threads
     * @param quant   the quantization
     */
    public ConversionOptions(int tp, int pp, Optional<DType> dtype, int threads, QuantOptions quant) {
        this(tp, pp, dtype, threads, quant, false);
    }

    /** Canonical constructor: validates. */
    public ConversionOptions {
        if (tp <= 0 || pp <= 0) {
            throw new IllegalArgumentException("tp and pp must be positive, got tp " + tp + ", pp " + pp);
        }
        java.util.Objects.requireNonNull(quant, "quant");
        if (threads <= 0) {
            throw new IllegalArgumentException("threads must be positive, got " + threads);
        }
        dtype.ifPresent(d -> {
            if (d != DType.F32 && d != DType.F16 && d != DType.BF16) {
                throw new IllegalArgumentException("target dtype must be float32, float16 or bfloat16, got " + d.torchName());
            }
        });
    }

    /**
     * tp x pp, keeping the dtype, one rank at a time per core (at most 4).
     *
     * @param tp the tensor-parallel size
     * @param pp the pipeline-parallel size
     * @return tp x pp, keeping the dtype, one rank at a time per core (at most 4)
     */
    public static ConversionOptions of(int tp, int pp) {
        return new ConversionOptions(tp, pp, Optional.empty(), Math.min(4, Runtime.getRuntime().availableProcessors()),
                QuantOptions.NONE);
    }

    /**
     * These options with another target dtype.
     *
     * @param d the d
     * @return these options with another target dtype
     */
    public ConversionOptions withDtype(DType d) {
        return new ConversionOptions(tp, pp, Optional.of(d), threads, quant, allowNonFinite);
    }

    /**
     * These options with another quantization.
     *
     * @param q the q
     * @return these options with another quantization
     */
    public ConversionOptions withQuant(QuantOptions q) {
        return new ConversionOptions(tp, pp, dtype, threads, q, allowNonFinite);
    }

    /**
     * These options writing {@code n} ranks at once.
     *
     * @param n the number of elements
     * @return these options writing {@code n} ranks at once
     */
    public ConversionOptions withThreads(int n) {
        return new ConversionOptions(tp, pp, dtype, n, quant, allowNonFinite);
    }

    /**
     * These options converting weights that hold NaN or infinity as they are (by default such a
     * weight fails the conversion with a {@link NonFiniteWeightException} naming it).
     *
     * @return these options, non-finite weights allowed
     */
    public ConversionOptions withNonFiniteAllowed() {
        return new ConversionOptions(tp, pp, dtype, threads, quant, true);
    }
}
