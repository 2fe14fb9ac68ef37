package dev.higgstrt.generation;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

class ExponentialsTest {
    @Test
    void withinThreeTenMillionthsOfExpOverTheFloatRange() {
        int n = 200_001;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = -87f * i / (n - 1);
        }
        float[] out = new float[n];
        Exponentials.ofDifferences(v, 0f, out, new int[n], n);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            double exact = Math.exp(v[i]);
            worst = Math.max(worst, Math.abs(out[i] - exact) / exact);
        }
        assertThat(worst).isLessThan(3e-7);
        assertThat(out[0]).isEqualTo(1f);
    }

    @Test
    void differencesFromTheMaximumOfRandomScores() {
        SplittableRandom r = new SplittableRandom(7);
        int n = 1026;
        float[] v = new float[n];
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextDouble(-40, 40));
            max = Math.max(max, v[i]);
        }
        float[] out = new float[n];
        Exponentials.ofDifferences(v, max, out, new int[n], n);
        for (int i = 0; i < n; i++) {
            double exact = Math.exp(v[i] - max);
            if (v[i] - max >= -87f) {
                assertThat(Math.abs(out[i] - exact) / exact).as("value %d", i).isLessThan(3e-7);
            }
        }
    }

    @Test
    void zeroBelowTheFloatUnderflowAndAtMinusInfinity() {
        float[] v = {Float.NEGATIVE_INFINITY, -87.5f, -1000f, -Float.MAX_VALUE, 0f};
        float[] out = new float[v.length];
        Exponentials.ofDifferences(v, 0f, out, new int[v.length], v.length);
        assertThat(out).containsExactly(0f, 0f, 0f, 0f, 1f);
    }

    @Test
    void sumAddsEveryValueWhateverTheRemainder() {
        for (int n = 0; n < 11; n++) {
            float[] v = new float[n];
            double expected = 0;
            for (int i = 0; i < n; i++) {
                v[i] = i + 0.5f;
                expected += v[i];
            }
            assertThat(Exponentials.sum(v, n)).as("n %d", n).isEqualTo(expected);
        }
    }
}
