package dev.higgstrt.quant;

/**
 * The FP8 E4M3 format of Hopper ({@code float8_e4m3fn}): 1 sign, 4 exponent (bias 7) and 3
 * mantissa bits, subnormals, no infinities, NaN = {@code S.1111.111}, largest finite 448.
 * Encoding rounds to nearest, ties to even, and saturates to +-448 (the quantizer's scales keep
 * values in range; saturation only guards rounding at the edge).
 */
public final class Fp8E4M3 {
    /** The largest finite value. */
    public static final float MAX = 448f;
    /** The NaN code (positive). */
    public static final byte NAN = 0x7F;

    /** Values of the positive codes 0..126, ascending. */
    private static final float[] POSITIVE = new float[127];

    static {
        for (int c = 0; c < 127; c++) {
            POSITIVE[c] = decode((byte) c);
        }
    }

    private Fp8E4M3() {
    }

    /**
     * The value of a code.
     *
     * @param code the code
     * @return the value of a code
     */
    public static float decode(byte code) {
        int b = code & 0xFF;
        int sign = b >> 7;
        int exp = (b >> 3) & 0xF;
        int man = b & 7;
        float v;
        if (exp == 15 && man == 7) {
            return Float.NaN;
        } else if (exp == 0) {
            v = man * 0x1p-9f;
        } else {
            v = (1 + man / 8f) * Math.scalb(1f, exp - 7);
        }
        return sign == 1 ? -v : v;
    }

    /**
     * The nearest code (ties to even), saturating at +-448; NaN gives {@link #NAN}.
     *
     * @param value the value
     * @return the nearest code (ties to even), saturating at +-448; NaN gives {@link #NAN}
     */
    public static byte encode(float value) {
        if (Float.isNaN(value)) {
            return NAN;
        }
        int sign = Float.floatToRawIntBits(value) >>> 31 << 7;
        float a = Math.abs(value);
        int code;
        if (a >= MAX) {
            code = 126;
        } else {
            int lo = 0;
            int hi = 126;   // POSITIVE[lo] <= a < POSITIVE[hi]
            while (hi - lo > 1) {
                int mid = (lo + hi) >>> 1;
                if (POSITIVE[mid] <= a) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            float dLo = a - POSITIVE[lo];
            float dHi = POSITIVE[hi] - a;
            code = dLo < dHi ? lo : dHi < dLo ? hi : (lo & 1) == 0 ? lo : hi;
        }
        return (byte) (sign | code);
    }
}
