package dev.higgstrt.convert;

import dev.higgstrt.layout.Mapping;
import dev.higgstrt.layout.HiggsAudioLayout;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.SourceLayout;
import dev.higgstrt.safetensors.SafetensorsCheckpoint;
import dev.higgstrt.safetensors.SafetensorsReader;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.Tensor;
import dev.higgstrt.weights.Weight;
import dev.higgstrt.weights.WeightMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Conversion at every tp x pp that divides the awkward test model, checked tensor by tensor
 * against an independent re-derivation with plain arrays and index arithmetic, and merged back
 * into the source exactly.
 */
class ConverterTest {
    @TempDir
    static Path shared;
    @TempDir
    Path tmp;
    private static Path source;
    private static HiggsAudioConfig config;
    private static Map<String, float[]> src;
    private final Arena arena = Arena.ofConfined();

    @BeforeAll
    static void writeSource() throws IOException {
        config = TestModels.awkward();
        source = TestModels.write(shared.resolve("src"), config, SourceLayout.TRANSFORMERS, true, DType.F32);
        src = new HashMap<>();
        try (SafetensorsReader r = SafetensorsReader.open(source.resolve("model.safetensors"))) {
            for (String n : r.infos().keySet()) {
                src.put(n, r.tensor(n).toFloatArray());
            }
        }
    }

    @AfterEach
    void close() {
        arena.close();
    }

    static Stream<Arguments> layouts() {
        List<Arguments> out = new ArrayList<>();
        for (int tp : new int[]{1, 2, 4, 8}) {
            for (int pp : new int[]{1, 2, 3, 4}) {
                out.add(Arguments.of(tp, pp));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "tp {0} x pp {1}")
    @MethodSource("layouts")
    void everyRankEqualsAnIndependentDerivationAndMergesBackExactly(int tp, int pp) throws IOException {
        Path out = tmp.resolve("out");
        Converter.Report report = Converter.convert(source, out, ConversionOptions.of(tp, pp), n -> { });
        assertThat(report.plan().dtype()).isEqualTo(DType.F32);
        HiggsAudioConfig c = config;
        int hd = c.headDim();
        int h = c.hiddenSize();
        List<WeightMap> ranks = new ArrayList<>();
        List<SafetensorsCheckpoint> open = new ArrayList<>();
        try {
            int lmHeads = 0;
            for (Mapping m : Mapping.all(tp, pp)) {
                SafetensorsCheckpoint ck = SafetensorsCheckpoint.open(out.resolve(m.fileName()));
                open.add(ck);
                WeightMap w = ck.weights();
                ranks.add(w);
                int r = m.tpRank();
                Map<String, float[]> expected = new HashMap<>();
                if (m.isFirstPpRank()) {
                    expected.put("transformer.vocab_embedding.weight", src.get("model.embed_tokens.weight"));
                    expected.put("audio_codebook_embeddings.weight", src.get("model.embed_audio_tokens.embed_audio_tokens.weight"));
                }
                if (m.isLastPpRank()) {
                    expected.put("transformer.ln_f.weight", src.get("model.norm.weight"));
                    expected.put("lm_head.weight", paddedRows(src.get("audio_lm_head.weight"), c.audioVocabSize(), h, tp, r));
                    expected.put("text_lm_head.weight", paddedRows(src.get("text_lm_head.weight"), c.vocabSize(), h, tp, r));
                    lmHeads++;
                }
                int[] layers = m.layers(c.numLayers());
                for (int i = 0; i < layers.length; i++) {
                    String s = "model.layers." + layers[i] + ".";
                    String t = "transformer.layers." + i + ".";
                    int qRows = c.numHeads() * hd / tp;
                    float[] q = rows(src.get(s + "self_attn.q_proj.weight"), h, r * qRows, (r + 1) * qRows);
                    int kvHead = c.numKvHeads() >= tp ? -1 : r * c.numKvHeads() / tp;
                    int kvRows = c.numKvHeads() >= tp ? c.numKvHeads() * hd / tp : hd;
                    int kvStart = kvHead >= 0 ? kvHead * hd : r * kvRows;
                    float[] k = rows(src.get(s + "self_attn.k_proj.weight"), h, kvStart, kvStart + kvRows);
                    float[] v = rows(src.get(s + "self_attn.v_proj.weight"), h, kvStart, kvStart + kvRows);
                    expected.put(t + "attention.qkv.weight", concat(q, k, v));
                    int oCols = c.numHeads() * hd;
                    expected.put(t + "attention.dense.weight", cols(src.get(s + "self_attn.o_proj.weight"), h, oCols, r * oCols / tp, (r + 1) * oCols / tp));
                    int iRows = c.intermediateSize() / tp;
                    expected.put(t + "mlp.gate_up_proj.weight", concat(
                            rows(src.get(s + "mlp.gate_proj.weight"), h, r * iRows, (r + 1) * iRows),
                            rows(src.get(s + "mlp.up_proj.weight"), h, r * iRows, (r + 1) * iRows)));
                    expected.put(t + "mlp.down_proj.weight", cols(src.get(s + "mlp.down_proj.weight"), h, c.intermediateSize(), r * iRows, (r + 1) * iRows));
                    expected.put(t + "audio_mlp.gate_proj.weight", rows(src.get(s + "audio_mlp.gate_proj.weight"), h, r * iRows, (r + 1) * iRows));
                    expected.put(t + "audio_mlp.up_proj.weight", rows(src.get(s + "audio_mlp.up_proj.weight"), h, r * iRows, (r + 1) * iRows));
                    expected.put(t + "audio_mlp.down_proj.weight", cols(src.get(s + "audio_mlp.down_proj.weight"), h, c.intermediateSize(), r * iRows, (r + 1) * iRows));
                    expected.put(t + "input_layernorm.weight", src.get(s + "input_layernorm.weight"));
                    expected.put(t + "post_layernorm.weight", src.get(s + "post_attention_layernorm.weight"));
                    expected.put(t + "audio_input_layernorm.weight", src.get(s + "audio_input_layernorm.weight"));
                    expected.put(t + "audio_post_attention_layernorm.weight", src.get(s + "audio_post_attention_layernorm.weight"));
                }
                assertThat(w.names()).as("rank %d", m.rank()).containsExactlyInAnyOrderElementsOf(expected.keySet());
                for (Weight weight : w) {
                    float[] got = weight.tensor().materialize(arena).toFloatArray();
                    assertThat(got).as("rank %d %s", m.rank(), weight.name()).containsExactly(expected.get(weight.name()));
                }
            }
            assertThat(lmHeads).isEqualTo(tp);
            WeightMap merged = HiggsAudioLayout.merge(c, ranks, tp, pp);
            assertThat(merged.names()).containsExactlyInAnyOrderElementsOf(src.keySet());
            for (Weight w : merged) {
                assertThat(w.tensor().materialize(arena).toFloatArray()).as(w.name()).containsExactly(src.get(w.name()));
            }
        } finally {
            for (SafetensorsCheckpoint ck : open) {
                ck.close();
            }
        }
    }

    private static float[] rows(float[] a, int cols, int r0, int r1) {
        return Arrays.copyOfRange(a, r0 * cols, r1 * cols);
    }

    private static float[] cols(float[] a, int rows, int cols, int c0, int c1) {
        float[] out = new float[rows * (c1 - c0)];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(a, r * cols + c0, out, r * (c1 - c0), c1 - c0);
        }
        return out;
    }

    private static float[] paddedRows(float[] a, int rows, int cols, int tp, int r) {
        int per = (rows + tp - 1) / tp;
        float[] padded = Arrays.copyOf(a, per * tp * cols);
        return rows(padded, cols, r * per, (r + 1) * per);
    }

    private static float[] concat(float[]... parts) {
        int n = Arrays.stream(parts).mapToInt(p -> p.length).sum();
        float[] out = new float[n];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    @Test
    void bosonAndTransformersLayoutsConvertToByteIdenticalRanks() throws IOException {
        Path boson = TestModels.write(tmp.resolve("boson"), config, SourceLayout.BOSON, true, DType.F32);
        Converter.convert(source, tmp.resolve("a"), ConversionOptions.of(2, 2), n -> { });
        Converter.convert(boson, tmp.resolve("b"), ConversionOptions.of(2, 2), n -> { });
        for (Mapping m : Mapping.all(2, 2)) {
            assertThat(Files.readAllBytes(tmp.resolve("b").resolve(m.fileName())))
                    .isEqualTo(Files.readAllBytes(tmp.resolve("a").resolve(m.fileName())));
        }
    }

    @Test
    void conversionIsByteIdenticalFromRunToRunAndCastsOnRequest() throws IOException {
        Converter.convert(source, tmp.resolve("a"), ConversionOptions.of(2, 1).withDtype(DType.BF16), n -> { });
        Converter.convert(source, tmp.resolve("b"), ConversionOptions.of(2, 1).withDtype(DType.BF16), n -> { });
        for (String f : new String[]{"rank0.safetensors", "rank1.safetensors", "config.json"}) {
            assertThat(Files.readAllBytes(tmp.resolve("b").resolve(f))).as(f).isEqualTo(Files.readAllBytes(tmp.resolve("a").resolve(f)));
        }
        try (SafetensorsReader r = SafetensorsReader.open(tmp.resolve("a/rank0.safetensors"))) {
            assertThat(r.infos().values()).allMatch(i -> i.dtype() == DType.BF16);
            Tensor norm = r.tensor("transformer.ln_f.weight");
            float[] expected = src.get("model.norm.weight");
            for (int i = 0; i < expected.length; i++) {
                assertThat(norm.getFloat(i)).isEqualTo(dev.higgstrt.tensor.FloatFormats.bf16ToFloat(
                        dev.higgstrt.tensor.FloatFormats.floatToBf16(expected[i])));
            }
        }
    }

    @Test
    void dryRunPlanMatchesWhatIsWritten() throws IOException {
        Converter.Plan plan = Converter.plan(source, ConversionOptions.of(4, 3));
        Converter.convert(source, tmp.resolve("out"), ConversionOptions.of(4, 3), n -> { });
        for (Converter.RankPlan rp : plan.ranks()) {
            try (SafetensorsReader r = SafetensorsReader.open(tmp.resolve("out").resolve(rp.mapping().fileName()))) {
                Map<String, Shape> written = new HashMap<>();
                r.infos().forEach((n, i) -> written.put(n, i.shape()));
                Map<String, Shape> planned = new HashMap<>();
                rp.tensors().forEach((n, s) -> planned.put(n, s.shape()));
                assertThat(written).isEqualTo(planned);
            }
        }
    }
}
