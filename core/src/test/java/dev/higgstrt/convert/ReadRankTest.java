package dev.higgstrt.convert;

import dev.higgstrt.converted.ConvertedCheckpoint;
import dev.higgstrt.converted.TestConverted;
import dev.higgstrt.layout.LayoutException;
import dev.higgstrt.layout.Mapping;
import dev.higgstrt.layout.SourceTensor;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.SourceLayout;
import dev.higgstrt.quant.QuantFormat;
import dev.higgstrt.quant.QuantOptions;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.TensorSource;
import dev.higgstrt.weights.WeightMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link Converter#readRank}: each rank's weights, read back from its file for its own engine, are
 * exactly the part of the whole model that tensor parallelism gives that rank (its heads, its MLP
 * slice, its columns of dense and down, its padded rows of the head), for every layout of the
 * awkward model, including kv heads replicated where tp exceeds them.
 */
class ReadRankTest {
    @TempDir
    static Path shared;
    private static Path source;
    private static HiggsAudioConfig c;

    @BeforeAll
    static void writeSource() throws IOException {
        c = TestModels.awkward();
        source = TestModels.write(shared.resolve("src"), c, SourceLayout.TRANSFORMERS, true, DType.F32);
    }

    @ParameterizedTest(name = "tp {0} x pp {1}")
    @CsvSource({"1,1", "2,1", "4,1", "8,1", "1,2", "2,2", "4,3"})
    void everyRankHoldsItsPartOfTheWholeModel(int tp, int pp, @TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("out");
        Converter.convert(source, out, ConversionOptions.of(tp, pp), n -> { });
        List<ConvertedCheckpoint> open = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            WeightMap whole = TestConverted.open(out, open).weights();
            TreeSet<String> covered = new TreeSet<>();
            for (Mapping m : Mapping.all(tp, pp)) {
                ConvertedCheckpoint.Quantized rank = TestConverted.open(out, open).rank(m);
                assertThat(rank.scales()).isEmpty();
                for (var w : rank.weights()) {
                    TensorSource expected = expectedPart(whole.tensor(w.name()), w.name(), m);
                    assertThat(w.tensor().shape()).as(w.name() + " of rank " + m.rank()).isEqualTo(expected.shape());
                    assertThat(w.tensor().materialize(arena).toFloatArray()).as(w.name() + " of rank " + m.rank())
                            .containsExactly(expected.materialize(arena).toFloatArray());
                    covered.add(w.name());
                }
                assertThat(rank.weights().names()).as("layers of rank " + m.rank())
                        .allMatch(n -> layerOf(n) < 0 || contains(m.layers(c.numLayers()), layerOf(n)));
            }
            assertThat(covered).isEqualTo(new TreeSet<>(whole.names()));
        } finally {
            closeAll(open);
        }
    }

    @Test
    void quantizedRanksKeepTheirCodesAndRowScales(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("out");
        Converter.convert(source, out, ConversionOptions.of(2, 1).withDtype(DType.BF16)
                .withQuant(QuantOptions.of(QuantFormat.INT8_WO)), n -> { });
        List<ConvertedCheckpoint> open = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            WeightMap whole = TestConverted.open(out, open).weights();
            for (Mapping m : Mapping.all(2, 1)) {
                ConvertedCheckpoint.Quantized rank = TestConverted.open(out, open).rank(m);
                String q = SourceTensor.Q.name(SourceLayout.TRANSFORMERS, 1);
                String gate = SourceTensor.GATE.name(SourceLayout.TRANSFORMERS, 1);
                long qRows = (long) c.numHeads() / 2 * c.headDim();
                assertThat(rank.weights().tensor(q).dtype()).isEqualTo(DType.I8);
                assertThat(rank.weights().tensor(q).shape().dim(0)).isEqualTo(qRows);
                assertThat(rank.scales().get(q).shape().dim(0)).isEqualTo(qRows);
                assertThat(rank.weights().tensor(gate).shape().dim(0)).isEqualTo(c.intermediateSize() / 2);
                assertThat(rank.scales().get(gate).shape().dim(0)).isEqualTo(c.intermediateSize() / 2);
                // codes times row scales give the rank's part of the dequantized whole (BF16: within its rounding)
                var codes = rank.weights().tensor(q).materialize(arena).data();
                float[] scales = rank.scales().get(q).cast(DType.F32).materialize(arena).toFloatArray();
                float[] expected = expectedPart(whole.tensor(q), q, m).cast(DType.F32).materialize(arena).toFloatArray();
                int cols = c.hiddenSize();
                for (int i = 0; i < expected.length; i++) {
                    float deq = codes.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i) * scales[i / cols];
                    assertThat(expected[i]).as(q + " [" + i + "]").isCloseTo(deq, org.assertj.core.data.Offset.offset(Math.abs(deq) / 256 + 1e-6f));
                }
            }
        } finally {
            closeAll(open);
        }
    }

    @Test
    void aMappingOfAnotherLayoutIsRefused(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("out");
        Converter.convert(source, out, ConversionOptions.of(2, 1), n -> { });
        List<ConvertedCheckpoint> open = new ArrayList<>();
        try {
            assertThatThrownBy(() -> TestConverted.open(out, open).rank(new Mapping(4, 1, 0)))
                    .isInstanceOf(LayoutException.class).hasMessageContaining("tp 2 x pp 1").hasMessageContaining("tp 4 x pp 1");
        } finally {
            closeAll(open);
        }
    }

    private static void closeAll(List<ConvertedCheckpoint> open) throws IOException {
        for (ConvertedCheckpoint ck : open) {
            ck.close();
        }
    }

    /** The part of a whole tensor that rank {@code m} computes with, derived from the roles of tensor parallelism. */
    private static TensorSource expectedPart(TensorSource whole, String name, Mapping m) {
        int tp = m.tpSize();
        int r = m.tpRank();
        SourceTensor role = roleOf(name);
        return switch (role) {
            case Q, GATE, UP, AUDIO_GATE, AUDIO_UP -> whole.chunk(0, r, tp);
            case K, V -> {
                if (c.numKvHeads() >= tp) {
                    yield whole.chunk(0, r, tp);
                }
                long head = (long) r * c.numKvHeads() / tp;
                yield whole.slice(0, head * c.headDim(), (head + 1) * c.headDim());
            }
            case O, DOWN, AUDIO_DOWN -> whole.chunk(1, r, tp);
            case AUDIO_HEAD, TEXT_HEAD -> {
                long rows = whole.shape().dim(0);
                yield whole.padRows((rows + tp - 1) / tp * tp - rows).chunk(0, r, tp);
            }
            default -> whole;
        };
    }

    private static SourceTensor roleOf(String name) {
        for (SourceTensor t : SourceTensor.values()) {
            if (t.perLayer() ? name.endsWith("." + t.name(SourceLayout.TRANSFORMERS, 0).replaceFirst("^model\\.layers\\.0\\.", ""))
                    : name.equals(t.name(SourceLayout.TRANSFORMERS, 0))) {
                return t;
            }
        }
        throw new AssertionError("no role for " + name);
    }

    private static int layerOf(String name) {
        var matcher = java.util.regex.Pattern.compile("layers\\.(\\d+)\\.").matcher(name);
        return matcher.find() ? Integer.parseInt(matcher.group(1)) : -1;
    }

    private static boolean contains(int[] values, int v) {
        for (int x : values) {
            if (x == v) {
                return true;
            }
        }
        return false;
    }
}
