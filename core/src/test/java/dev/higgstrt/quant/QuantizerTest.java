package dev.higgstrt.quant;

import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.Tensor;
import dev.higgstrt.weights.Provenance;
import dev.higgstrt.weights.WeightMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class QuantizerTest {
    static final String NAME = "transformer.layers.0.mlp.down_proj.weight";
    static final int OUT = 48;
    static final int IN = 256;

    static float[] weights(long seed) {
        Random r = new Random(seed);
        float[] w = new float[OUT * IN];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (r.nextGaussian() * (1 + i / IN % 5));   // rows of different ranges
        }
        w[7] = 0;
        for (int j = 0; j < IN; j++) {
            w[3 * IN + j] = 0;   // an all-zero row: scale 0, dequantizes to 0
        }
        return w;
    }

    static WeightMap rank(float[] w, Arena arena) {
        return WeightMap.builder()
                .put(NAME, Tensor.fromFloats(DType.F32, Shape.of(OUT, IN), w, arena), Provenance.memory("test"))
                .put("transformer.layers.0.post_layernorm.weight", Tensor.fromFloats(DType.F32, Shape.of(IN), new float[IN], arena),
                        Provenance.memory("test"))
                .build();
    }

    static float[] read(dev.higgstrt.tensor.TensorSource s, Arena arena) {
        return s.cast(DType.F32).materialize(arena).toFloatArray();
    }

    @ParameterizedTest
    @EnumSource(value = QuantFormat.class, names = {"INT8_WO", "INT4_WO", "INT4_GROUP", "FP8"})
    void dequantizedWeightsAreWithinTheFormatsRounding(QuantFormat format) {
        QuantOptions o = QuantOptions.of(format);
        float[] w = weights(1);
        try (Arena arena = Arena.ofConfined()) {
            WeightMap q = Quantizer.apply(rank(w, arena), o);
            var planned = Quantizer.plan(NAME, DType.F32, Shape.of(OUT, IN), o);
            assertThat(q.names()).hasSize(3);
            for (Quantizer.Planned p : planned) {
                assertThat(q.tensor(p.name()).dtype()).isEqualTo(p.dtype());
                assertThat(q.tensor(p.name()).shape()).isEqualTo(p.shape());
            }
            assertThat(q.tensor("transformer.layers.0.post_layernorm.weight").dtype()).isEqualTo(DType.F32);
            float[] scales = read(q.tensor(planned.get(1).name()), arena);
            float[] back = read(Quantizer.dequantize(q, format, DType.F32).tensor(NAME), arena);
            int groups = format == QuantFormat.INT4_GROUP ? IN / QuantFormat.GROUP_SIZE : 1;
            for (int r = 0; r < OUT; r++) {
                for (int j = 0; j < IN; j++) {
                    float x = w[r * IN + j];
                    float err = Math.abs(back[r * IN + j] - x);
                    float scale = switch (format) {
                        case FP8 -> scales[0];
                        case INT4_GROUP -> scales[r * groups + j / QuantFormat.GROUP_SIZE];
                        default -> scales[r];
                    };
                    float bound = format == QuantFormat.FP8
                            ? Math.max(Math.abs(x) / 16, scale * 0x1p-10f) * 1.0001f
                            : scale / 2 * 1.0001f;
                    assertThat(err).as("%s row %d col %d: %s -> %s", format, r, j, x, back[r * IN + j]).isLessThanOrEqualTo(bound);
                }
            }
            // the scale is the largest magnitude over the format's largest code
            float rowMax = 0;
            for (int j = 0; j < IN; j++) {
                rowMax = Math.max(rowMax, Math.abs(w[IN + j]));
            }
            if (format == QuantFormat.INT8_WO || format == QuantFormat.INT4_WO) {
                assertThat(scales[1]).isEqualTo(rowMax / format.maxCode());
                assertThat(scales[3]).isZero();
            }
            for (int j = 0; j < IN; j++) {
                assertThat(back[3 * IN + j]).isZero();
            }
        }
    }

    @Test
    void int4PacksLowNibbleFirstAndRoundTripsEveryPair() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment packed = arena.allocate(16 * 16 / 2 * 2);
            int[] q = new int[512];
            int n = 0;
            for (int a = -8; a <= 7; a++) {
                for (int b = -8; b <= 7; b++) {
                    q[n++] = a;
                    q[n++] = b;
                }
            }
            Quantizer.pack4(q, n, packed, 0);
            assertThat(packed.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 0x88);   // -8, -8
            for (int i = 0; i < n; i++) {
                assertThat(Quantizer.unpack4(packed, i)).isEqualTo(q[i]);
            }
            int[] pair = {3, -2};
            Quantizer.pack4(pair, 2, packed, 0);
            assertThat(packed.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 0xE3);
        }
    }

    @Test
    void onlyLinearWeightsAreQuantizedAndExclusionsHold() {
        QuantOptions o = QuantOptions.of(QuantFormat.INT8_WO).excluding("lm_head");
        assertThat(Quantizer.quantizes("transformer.layers.3.attention.qkv.weight", o)).isTrue();
        assertThat(Quantizer.quantizes("transformer.layers.3.attention.dense.weight", o)).isTrue();
        assertThat(Quantizer.quantizes("transformer.layers.3.mlp.gate_up_proj.weight", o)).isTrue();
        assertThat(Quantizer.quantizes("transformer.layers.3.audio_mlp.up_proj.weight", o)).isTrue();
        assertThat(Quantizer.quantizes("transformer.layers.3.audio_post_attention_layernorm.weight", o)).isFalse();
        assertThat(Quantizer.quantizes("transformer.vocab_embedding.weight", o)).isFalse();
        assertThat(Quantizer.quantizes("lm_head.weight", o)).isFalse();
        assertThat(Quantizer.quantizes("text_lm_head.weight", o)).isFalse();
        assertThat(Quantizer.quantizes("lm_head.weight", QuantOptions.of(QuantFormat.FP8))).isTrue();
        assertThat(Quantizer.quantizes("transformer.layers.3.attention.qkv.weight", QuantOptions.NONE)).isFalse();
    }

    @Test
    void unsuitableShapesAndNonFiniteWeightsAreRefusedByName() {
        assertThatThrownBy(() -> Quantizer.plan(NAME, DType.F32, Shape.of(4, 100), QuantOptions.of(QuantFormat.INT4_GROUP)))
                .hasMessageContaining(NAME).hasMessageContaining("not a multiple of the group size 128");
        assertThatThrownBy(() -> Quantizer.plan(NAME, DType.F32, Shape.of(4, 7), QuantOptions.of(QuantFormat.INT4_WO)))
                .hasMessageContaining("odd");
        float[] w = weights(2);
        w[5 * IN + 9] = Float.NaN;
        try (Arena arena = Arena.ofConfined()) {
            WeightMap q = Quantizer.apply(rank(w, arena), QuantOptions.of(QuantFormat.INT8_WO));
            assertThatThrownBy(() -> q.tensor(NAME).materialize(arena))
                    .hasMessageContaining(NAME).hasMessageContaining("row 5, column 9");
        }
    }
}
