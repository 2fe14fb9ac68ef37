package dev.higgstrt.tensor;

import org.junit.jupiter.api.Test;

import java.math.BigDecimal;

import static org.assertj.core.api.Assertions.assertThat;

/** Exhaustive checks of the 16-bit float conversions over all 65,536 bit patterns. */
class FloatFormatsTest {

    /** The exact value of a half-precision pattern, decoded from the IEEE definition. */
    private static double f16Value(int bits) {
        int sign = (bits >> 15) & 1;
        int exp = (bits >> 10) & 0x1F;
        int mant = bits & 0x3FF;
        double v;
        if (exp == 0) {
            v = Math.scalb((double) mant, -24);
        } else if (exp == 31) {
            v = mant == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        } else {
            v = Math.scalb((double) (1024 + mant), exp - 25);
        }
        return sign == 1 ? -v : v;
    }

    /** The exact value of a bfloat16 pattern, decoded from its definition (8-bit exponent). */
    private static double bf16Value(int bits) {
        int sign = (bits >> 15) & 1;
        int exp = (bits >> 7) & 0xFF;
        int mant = bits & 0x7F;
        double v;
        if (exp == 0) {
            v = Math.scalb((double) mant, -133);
        } else if (exp == 255) {
            v = mant == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        } else {
            v = Math.scalb((double) (128 + mant), exp - 134);
        }
        return sign == 1 ? -v : v;
    }

    @Test
    void bf16WidensExactlyAndNarrowsBackToItselfForAllPatterns() {
        for (int bits = 0; bits < 65536; bits++) {
            float f = FloatFormats.bf16ToFloat((short) bits);
            double expected = bf16Value(bits);
            if (Double.isNaN(expected)) {
                assertThat(f).as("pattern %04x", bits).isNaN();
                short back = FloatFormats.floatToBf16(f);
                assertThat(back & 0xFFFF).as("NaN %04x kept exactly", bits).isEqualTo(bits);
            } else {
                assertThat((double) f).as("pattern %04x", bits).isEqualTo(expected);
                assertThat(Math.copySign(1.0, f)).isEqualTo((bits & 0x8000) != 0 ? -1.0 : 1.0);
                assertThat(FloatFormats.floatToBf16(f) & 0xFFFF).as("round trip %04x", bits).isEqualTo(bits);
            }
        }
    }

    @Test
    void f16WidensExactlyAndNarrowsBackToItselfForAllPatterns() {
        for (int bits = 0; bits < 65536; bits++) {
            float f = FloatFormats.f16ToFloat((short) bits);
            double expected = f16Value(bits);
            if (Double.isNaN(expected)) {
                assertThat(f).as("pattern %04x", bits).isNaN();
                short back = FloatFormats.floatToF16(f);
                assertThat(Float.isNaN(FloatFormats.f16ToFloat(back))).isTrue();
                assertThat(back & 0x8000).isEqualTo(bits & 0x8000);
            } else {
                assertThat((double) f).as("pattern %04x", bits).isEqualTo(expected);
                assertThat(FloatFormats.floatToF16(f) & 0xFFFF).as("round trip %04x", bits).isEqualTo(bits);
            }
        }
    }

    /**
     * Between every pair of adjacent finite values a and b (same sign, |a| < |b|): the exact
     * midpoint rounds to the one with the even last bit, and the float32 values just below and
     * just above the midpoint round to the nearer one.
     */
    @Test
    void narrowingRoundsToNearestEvenBetweenEveryAdjacentPair() {
        for (int format = 0; format < 2; format++) {
            boolean bf = format == 0;
            int maxFinite = bf ? 0x7F7F : 0x7BFF;
            for (int sign = 0; sign <= 0x8000; sign += 0x8000) {
                for (int lo = 0; lo < maxFinite; lo++) {
                    int a = sign | lo;
                    int b = sign | (lo + 1);
                    double va = bf ? bf16Value(a) : f16Value(a);
                    double vb = bf ? bf16Value(b) : f16Value(b);
                    float mid = (float) ((va + vb) / 2);
                    assertThat(new BigDecimal(mid)).isEqualByComparingTo(
                            new BigDecimal(va).add(new BigDecimal(vb)).divide(BigDecimal.valueOf(2)));
                    int even = (a & 1) == 0 ? a : b;
                    assertThat(narrow(bf, mid)).as("midpoint of %04x,%04x", a, b).isEqualTo(even);
                    float below = Math.nextAfter(mid, 0.0);
                    float above = Math.nextAfter(mid, sign == 0 ? Double.POSITIVE_INFINITY : Double.NEGATIVE_INFINITY);
                    assertThat(narrow(bf, below)).as("below midpoint %04x", a).isEqualTo(a);
                    assertThat(narrow(bf, above)).as("above midpoint %04x", b).isEqualTo(b);
                }
            }
        }
    }

    private static int narrow(boolean bf, float f) {
        return (bf ? FloatFormats.floatToBf16(f) : FloatFormats.floatToF16(f)) & 0xFFFF;
    }

    @Test
    void overflowBecomesInfinityAndNaNPayloadsInLowBitsStayNaN() {
        assertThat(FloatFormats.floatToBf16(Float.MAX_VALUE) & 0xFFFF).isEqualTo(0x7F80);
        assertThat(FloatFormats.floatToF16(65520f) & 0xFFFF).isEqualTo(0x7C00);
        assertThat(FloatFormats.floatToF16(65519.99f) & 0xFFFF).isEqualTo(0x7BFF);
        float lowPayloadNaN = Float.intBitsToFloat(0x7F800001);
        assertThat(FloatFormats.bf16ToFloat(FloatFormats.floatToBf16(lowPayloadNaN))).isNaN();
        float negNaN = Float.intBitsToFloat(0xFF800001);
        assertThat(FloatFormats.floatToBf16(negNaN) & 0x8000).isEqualTo(0x8000);
        assertThat(FloatFormats.floatToBf16(-0.0f) & 0xFFFF).isEqualTo(0x8000);
        assertThat(FloatFormats.floatToF16(-0.0f) & 0xFFFF).isEqualTo(0x8000);
        // Smallest subnormals: half of the smallest rounds to zero (even), just above it rounds up.
        assertThat(FloatFormats.floatToF16(0x1p-25f) & 0xFFFF).isEqualTo(0);
        assertThat(FloatFormats.floatToF16(Math.nextUp(0x1p-25f)) & 0xFFFF).isEqualTo(1);
        assertThat(FloatFormats.floatToBf16(0x1p-134f) & 0xFFFF).isEqualTo(0);
        assertThat(FloatFormats.floatToBf16(Math.nextUp(0x1p-134f)) & 0xFFFF).isEqualTo(1);
    }

    @Test
    void bulkConversionsAgreeWithScalarOnesForAllPatterns() {
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            var src = arena.allocate(65536 * 2L);
            for (int i = 0; i < 65536; i++) {
                src.set(Conversions.LE_SHORT, i * 2L, (short) i);
            }
            for (DType from : new DType[]{DType.BF16, DType.F16}) {
                var f32 = arena.allocate(65536 * 4L);
                Conversions.convert(src, from, f32, DType.F32, 65536);
                for (DType to : new DType[]{DType.BF16, DType.F16}) {
                    var out = arena.allocate(65536 * 2L);
                    Conversions.convert(f32, DType.F32, out, to, 65536);
                    var direct = arena.allocate(65536 * 2L);
                    Conversions.convert(src, from, direct, to, 65536);
                    for (int i = 0; i < 65536; i++) {
                        float v = f32.get(Conversions.LE_FLOAT, i * 4L);
                        float scalar = from == DType.BF16 ? FloatFormats.bf16ToFloat((short) i) : FloatFormats.f16ToFloat((short) i);
                        assertThat(Float.floatToRawIntBits(v)).isEqualTo(Float.floatToRawIntBits(scalar));
                        short expected = to == DType.BF16 ? FloatFormats.floatToBf16(v) : FloatFormats.floatToF16(v);
                        assertThat(out.get(Conversions.LE_SHORT, i * 2L)).isEqualTo(expected);
                        // A conversion to the same type is a copy: every pattern is kept, signalling NaNs too.
                        short directExpected = from == to ? (short) i : expected;
                        assertThat(direct.get(Conversions.LE_SHORT, i * 2L)).isEqualTo(directExpected);
                    }
                }
            }
        }
    }
}
