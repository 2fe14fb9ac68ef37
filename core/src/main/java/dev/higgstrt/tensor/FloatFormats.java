package dev.higgstrt.tensor;

/**
 * Exact scalar conversions between float32, bfloat16 and IEEE half precision, given as raw
 * 16-bit patterns. Narrowing rounds to nearest, ties to even; NaN stays NaN (with its sign),
 * infinities and signed zeros are kept and subnormals are handled exactly.
 */
public final class FloatFormats {
    private FloatFormats() {
    }

    /**
     * The float32 value of a bfloat16 bit pattern (exact).
     *
     * @param bits the bits
     * @return the float32 value of a bfloat16 bit pattern (exact)
     */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /**
     * The bfloat16 bit pattern nearest to {@code value} (ties to even).
     *
     * @param value the value
     * @return the bfloat16 bit pattern nearest to {@code value} (ties to even)
     */
    public static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) {
            int high = bits >>> 16;
            // A NaN whose payload lives only in the low 16 bits must not become infinity.
            return (short) ((high & 0x7F) == 0 ? high | 0x40 : high);
        }
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }

    /**
     * The float32 value of an IEEE half-precision bit pattern (exact). A NaN becomes a quiet
     * NaN with the same sign and payload, whether or not the JIT uses the hardware instruction
     * (which quiets) or the library code (which does not).
     *
     * @param bits the bits
     * @return the float32 value of an IEEE half-precision bit pattern (exact)
     */
    public static float f16ToFloat(short bits) {
        if ((bits & 0x7C00) == 0x7C00 && (bits & 0x3FF) != 0) {
            return Float.intBitsToFloat(((bits & 0x8000) << 16) | 0x7FC0_0000 | ((bits & 0x3FF) << 13));
        }
        return Float.float16ToFloat(bits);
    }

    /**
     * The IEEE half-precision bit pattern nearest to {@code value} (ties to even). A NaN
     * becomes a quiet NaN with the same sign and the top bits of the payload, deterministically.
     *
     * @param value the value
     * @return the IEEE half-precision bit pattern nearest to {@code value} (ties to even)
     */
    public static short floatToF16(float value) {
        if (value != value) {
            int bits = Float.floatToRawIntBits(value);
            return (short) (((bits >>> 16) & 0x8000) | 0x7E00 | ((bits >>> 13) & 0x3FF));
        }
        return Float.floatToFloat16(value);
    }
}
