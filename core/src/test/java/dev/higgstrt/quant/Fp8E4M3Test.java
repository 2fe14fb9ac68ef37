package dev.higgstrt.quant;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class Fp8E4M3Test {
    @Test
    void everyCodeDecodesAndEncodesBackToItself() {
        int finite = 0;
        for (int c = 0; c < 256; c++) {
            float v = Fp8E4M3.decode((byte) c);
            if ((c & 0x7F) == 0x7F) {
                assertThat(v).isNaN();
                continue;
            }
            finite++;
            byte back = Fp8E4M3.encode(v);
            // +0 and -0 keep their sign bit
            assertThat(back & 0xFF).as("code %d (%s)", c, v).isEqualTo(c);
        }
        assertThat(finite).isEqualTo(254);
        assertThat(Fp8E4M3.decode((byte) 0x7E)).isEqualTo(448f);
        assertThat(Fp8E4M3.decode((byte) 0x01)).isEqualTo(0x1p-9f);
        assertThat(Fp8E4M3.decode((byte) 0x08)).isEqualTo(0x1p-6f);
        assertThat(Fp8E4M3.decode((byte) 0x38)).isEqualTo(1f);
    }

    @Test
    void roundsToNearestWithTiesToEvenAndSaturates() {
        // between 1 (0x38) and 1.125 (0x39): the tie goes to the even code 0x38
        assertThat(Fp8E4M3.encode(1.0625f)).isEqualTo((byte) 0x38);
        assertThat(Fp8E4M3.encode(1.0626f)).isEqualTo((byte) 0x39);
        // between 1.125 (0x39) and 1.25 (0x3A): the tie goes to 0x3A
        assertThat(Fp8E4M3.encode(1.1875f)).isEqualTo((byte) 0x3A);
        // subnormals: half of the smallest rounds to zero (even), a bit more to the smallest
        assertThat(Fp8E4M3.encode(0x1p-10f)).isEqualTo((byte) 0);
        assertThat(Fp8E4M3.encode(0x1.1p-10f)).isEqualTo((byte) 1);
        assertThat(Fp8E4M3.encode(-3f)).isEqualTo((byte) (0x80 | Fp8E4M3.encode(3f)));
        assertThat(Fp8E4M3.encode(1e6f)).isEqualTo((byte) 0x7E);
        assertThat(Fp8E4M3.encode(Float.NEGATIVE_INFINITY)).isEqualTo((byte) 0xFE);
        assertThat(Fp8E4M3.encode(Float.NaN)).isEqualTo(Fp8E4M3.NAN);
    }

    @Test
    void everyFloatInRangeLandsOnANeighbouringCode() {
        java.util.Random r = new java.util.Random(3);
        for (int i = 0; i < 200_000; i++) {
            float x = (float) ((r.nextDouble() * 2 - 1) * Math.pow(2, r.nextInt(20) - 10));
            if (Math.abs(x) > 448) {
                continue;
            }
            float q = Fp8E4M3.decode(Fp8E4M3.encode(x));
            float a = Math.abs(x);
            float halfUlp = a < 0x1p-6f ? 0x1p-10f : Math.scalb(1f, Math.getExponent(a) - 4);
            assertThat(Math.abs(q - x)).as("x = %s", x).isLessThanOrEqualTo(halfUlp);
        }
    }
}
