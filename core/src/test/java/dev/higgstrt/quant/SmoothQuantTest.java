package dev.higgstrt.quant;

import dev.higgstrt.converted.TestConverted;
import dev.higgstrt.reference.Heads;

import com.fasterxml.jackson.databind.JsonNode;
import dev.higgstrt.convert.ConversionOptions;
import dev.higgstrt.convert.Converter;
import dev.higgstrt.layout.SourceTensor;
import dev.higgstrt.convert.TestModels;
import dev.higgstrt.io.Json;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.RopeParameters;
import dev.higgstrt.model.SourceLayout;
import dev.higgstrt.reference.Goldens;
import dev.higgstrt.model.LinearSite;
import dev.higgstrt.decoding.Logits;
import dev.higgstrt.reference.ReferenceModel;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.safetensors.SafetensorsCheckpoint;
import dev.higgstrt.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * SmoothQuant on the dual-FFN decoder: folding keeps the function, each site's factor lands in the
 * right norm (both input norms for q/k/v; the text and audio post-attention norms from their own
 * positions), the files are TensorRT-LLM's names, and rounding stays within the documented error.
 */
class SmoothQuantTest {
    /** Documented bounds on max |logits(sq) - logits(float)| / max |logits(float)| (docs/quantization.md). */
    static final Map<QuantFormat, Float> RELATIVE_BOUND = Map.of(QuantFormat.SQ, 0.04f, QuantFormat.SQ_PER_TENSOR, 0.08f);

    @TempDir
    Path tmp;

    /** Dual-FFN layers 0, 2 and 4 of 5: audio positions of layers 1 and 3 take the text MLP. */
    static HiggsAudioConfig partlyDual() {
        HiggsAudioConfig a = TestModels.awkward();
        return new HiggsAudioConfig(SourceLayout.BOSON, a.vocabSize(), a.hiddenSize(), a.intermediateSize(), a.numLayers(),
                a.numHeads(), a.numKvHeads(), a.headDim(), a.rmsNormEps(), a.maxPositionEmbeddings(),
                RopeParameters.llama3(10000, 8, 1, 4, 64), a.numCodebooks(), a.codebookSize(), a.audioTokenIds(),
                a.audioStreamBosId(), a.audioStreamEosId(), List.of(0, 2, 4), false, Optional.of(DType.F32));
    }

    static TokenInput randomMixed(HiggsAudioConfig c, long seed, int length) {
        Random r = new Random(seed);
        int[] ids = new int[length];
        List<int[]> frames = new ArrayList<>();
        for (int i = 0; i < length; i++) {
            if (r.nextInt(3) == 0) {
                ids[i] = c.audioTokenIds().getFirst();
                int[] codes = new int[c.numCodebooks()];
                for (int k = 0; k < codes.length; k++) {
                    codes[k] = r.nextInt(c.codebookSize());
                }
                frames.add(codes);
            } else {
                ids[i] = r.nextInt(c.audioTokenIds().getFirst());
            }
        }
        return new TokenInput(ids, frames.toArray(new int[0][]));
    }

    private static List<TokenInput> goldenInputs(String model) throws IOException {
        return List.of(TokenInput.read(Goldens.path(model).resolve("mixed.json")),
                TokenInput.read(Goldens.path(model).resolve("audio_only.json")));
    }

    private static ActivationStats stats(Path source, List<TokenInput> calibration) throws IOException {
        return ActivationStats.collect(ReferenceModel.load(source), calibration);
    }

    @Test
    void foldingOnlyKeepsTheFunctionWithTextAndAudioPositions() throws IOException {
        Path partly = TestModels.write(tmp.resolve("partly"), partlyDual(), SourceLayout.BOSON, true, DType.F32);
        Map<Path, List<TokenInput>> models = new LinkedHashMap<>();
        models.put(Goldens.path("gqa_llama3_texthead"), goldenInputs("gqa_llama3_texthead"));
        models.put(Goldens.path("mqa_three_layers"), goldenInputs("mqa_three_layers"));
        models.put(partly, List.of(randomMixed(partlyDual(), 1, 40), randomMixed(partlyDual(), 2, 24)));
        for (var e : models.entrySet()) {
            ReferenceModel original = ReferenceModel.load(e.getKey());
            ActivationStats stats = ActivationStats.collect(original, e.getValue());
            for (int tp : new int[]{1, 2}) {
                Path out = tmp.resolve(e.getKey().getFileName() + "-fold-tp" + tp);
                Converter.convert(e.getKey(), out, ConversionOptions.of(tp, 1).withDtype(DType.F32)
                        .withQuant(QuantOptions.NONE.withSmoothing(new SmoothQuant.Settings(0.5, stats, 100))), n -> { });
                ReferenceModel folded = ReferenceModel.load(out);
                for (TokenInput in : e.getValue()) {
                    float err = folded.forward(in, Heads.AUDIO_AND_TEXT).maxAbsDiff(original.forward(in, Heads.AUDIO_AND_TEXT));
                    assertThat(err).as("%s tp %d", e.getKey().getFileName(), tp).isLessThanOrEqualTo(1e-4f);
                }
                try (SafetensorsCheckpoint ck = SafetensorsCheckpoint.open(out.resolve("rank0.safetensors"))) {
                    assertThat(ck.weights().names()).contains("transformer.layers.0.attention.dense.smoother",
                            "transformer.layers.0.mlp.down_proj.smoother", "transformer.layers.0.audio_mlp.down_proj.smoother");
                    assertThat(ck.weights().tensor("transformer.layers.0.attention.dense.smoother").shape().toArray())
                            .containsExactly(1, original.config().numHeads() * original.config().headDim() / tp);
                }
            }
        }
    }

    @Test
    void eachSitesFactorLandsInItsNormsFromItsOwnPositions() throws IOException {
        HiggsAudioConfig c = partlyDual();
        Path src = TestModels.write(tmp.resolve("src"), c, SourceLayout.BOSON, false, DType.F32);
        // audio positions only: dual layers' text MLP sees nothing, non-dual layers' text MLP sees audio
        int[][] frames = new int[12][c.numCodebooks()];
        for (int i = 0; i < frames.length; i++) {
            for (int k = 0; k < c.numCodebooks(); k++) {
                frames[i][k] = (i * 3 + k) % c.codebookSize();
            }
        }
        ActivationStats stats = stats(src, List.of(TokenInput.audio(frames)));
        assertThat(stats.has(0, LinearSite.GATE_UP)).isFalse();
        assertThat(stats.has(0, LinearSite.AUDIO_GATE_UP)).isTrue();
        assertThat(stats.has(1, LinearSite.GATE_UP)).isTrue();
        assertThat(stats.has(1, LinearSite.AUDIO_GATE_UP)).isFalse();
        Path out = tmp.resolve("fold");
        double alpha = 0.7;
        Converter.convert(src, out, ConversionOptions.of(1, 1).withDtype(DType.F32)
                .withQuant(QuantOptions.NONE.withSmoothing(new SmoothQuant.Settings(alpha, stats, 100))), n -> { });
        try (SafetensorsCheckpoint before = SafetensorsCheckpoint.open(src); SafetensorsCheckpoint after = SafetensorsCheckpoint.open(out);
             Arena arena = Arena.ofConfined()) {
            for (int layer = 0; layer < c.numLayers(); layer++) {
                String t = "transformer.layers." + layer + ".";
                float[] input = ratio(before, b(SourceTensor.INPUT_LN, layer), after, t + "input_layernorm.weight", arena);
                // the q/k/v factor from all positions, by the formula, from the original weights
                float[] x = stats.inputChannelMax(layer, LinearSite.QKV).orElseThrow();
                float[] wmax = new float[x.length];
                for (SourceTensor w : List.of(SourceTensor.Q, SourceTensor.K, SourceTensor.V)) {
                    float[] v = before.weights().tensor(b(w, layer)).materialize(arena).toFloatArray();
                    for (int i = 0; i < v.length; i++) {
                        wmax[i % x.length] = Math.max(wmax[i % x.length], Math.abs(v[i]));
                    }
                }
                for (int j = 0; j < x.length; j++) {
                    double s = Math.max(1e-5, Math.pow(x[j], alpha) / Math.pow(wmax[j], 1 - alpha));
                    assertThat((double) input[j]).as("layer %d channel %d", layer, j).isCloseTo(s, org.assertj.core.data.Percentage.withPercentage(1e-3));
                }
                float[] post = ratio(before, b(SourceTensor.POST_LN, layer), after, t + "post_layernorm.weight", arena);
                if (c.isDualFfn(layer)) {
                    assertThat(ratio(before, b(SourceTensor.AUDIO_INPUT_LN, layer), after, t + "audio_input_layernorm.weight", arena))
                            .as("both input norms carry the q/k/v factor").containsExactly(input, org.assertj.core.data.Offset.offset(1e-5f));
                    assertThat(post).as("no text positions: the text MLP is not smoothed").containsOnly(1f);
                    assertThat(ratio(before, b(SourceTensor.AUDIO_POST_LN, layer), after,
                            t + "audio_post_attention_layernorm.weight", arena)).as("audio MLP smoothed").isNotEqualTo(post);
                } else {
                    assertThat(post).as("non-dual layer: audio positions take the text MLP").isNotEqualTo(new float[post.length]);
                    assertThat(after.weights().names()).doesNotContain(t + "audio_input_layernorm.weight");
                    boolean smoothed = false;
                    for (float v : post) {
                        smoothed |= Math.abs(v - 1) > 1e-3;
                    }
                    assertThat(smoothed).isTrue();
                }
            }
        }
    }

    private static String b(SourceTensor t, int layer) {
        return t.name(SourceLayout.BOSON, layer);
    }

    /** original / smoothed, element by element: the smoothing factor folded into a norm. */
    private static float[] ratio(SafetensorsCheckpoint a, String an, SafetensorsCheckpoint b, String bn, Arena arena) {
        float[] x = a.weights().tensor(an).materialize(arena).toFloatArray();
        float[] y = b.weights().tensor(bn).materialize(arena).toFloatArray();
        float[] r = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            r[i] = x[i] / y[i];
        }
        return r;
    }

    @Test
    void roundedModelsStayWithinTheDocumentedErrorAndFilesFollowThePlan() throws IOException {
        Map<String, String> report = new TreeMap<>();
        for (String model : QuantizedConversionTest.MODELS) {
            List<TokenInput> inputs = goldenInputs(model);
            ReferenceModel original = ReferenceModel.load(Goldens.path(model));
            ActivationStats stats = ActivationStats.collect(original, inputs);
            List<Logits> expected = inputs.stream().map(t -> original.forward(t)).toList();
            float maxLogit = RoundedLogits.maxAbs(expected);
            for (QuantFormat f : List.of(QuantFormat.SQ, QuantFormat.SQ_PER_TENSOR)) {
                Path out = tmp.resolve(model + "-" + f.id());
                ConversionOptions o = ConversionOptions.of(2, 1).withDtype(DType.F32)
                        .withQuant(QuantOptions.of(QuantFormat.NONE).withSmoothing(new SmoothQuant.Settings(0.5, stats, 100)));
                o = o.withQuant(new QuantOptions(f, List.of(), QuantFormat.GROUP_SIZE, o.quant().smoothing()));
                Converter.Plan plan = Converter.plan(Goldens.path(model), o);
                Converter.convert(Goldens.path(model), out, o, n -> { });
                for (Converter.RankPlan rp : plan.ranks()) {
                    Map<String, String> written = QuantizedConversionTest.writtenAsPlanned(out, rp);
                    assertThat(written.get("transformer.layers.0.attention.qkv.weight")).startsWith("I8");
                    assertThat(written.get("transformer.layers.0.audio_mlp.up_proj.weight")).startsWith("I8");
                    assertThat(written.get("lm_head.weight")).startsWith("F32");
                    assertThat(written).containsKeys("transformer.layers.0.input_layernorm.scale_to_int",
                            "transformer.layers.0.audio_input_layernorm.scale_to_int",
                            "transformer.layers.0.post_layernorm.scale_to_int",
                            "transformer.layers.0.audio_post_attention_layernorm.scale_to_int");
                    if (f == QuantFormat.SQ_PER_TENSOR) {
                        assertThat(written).containsKeys("transformer.layers.0.attention.quantization_scaling_factor",
                                "transformer.layers.0.mlp.quantization_scaling_factor",
                                "transformer.layers.0.audio_mlp.quantization_scaling_factor",
                                "transformer.layers.0.attention.dense.act_scale");
                    }
                }
                JsonNode q = Json.STRICT.readTree(Files.readString(out.resolve("config.json"))).path("quantization");
                assertThat(q.path("quant_algo").asText()).isEqualTo(f.quantAlgo());
                assertThat(q.path("smoothquant_val").asDouble()).isEqualTo(0.5);

                RoundedLogits e = RoundedLogits.measure(ReferenceModel.load(out), TestConverted.rounding(out), inputs, expected);
                float weightsOnly = e.weightsOnly();
                float full = e.full();
                report.put(model + " " + f.id(), String.format("weights %.3e, weights+activations %.3e (%.2f %% of max |logit| %.2f)",
                        weightsOnly, full, 100 * full / maxLogit, maxLogit));
                assertThat(full / maxLogit).as("%s %s", model, f).isLessThanOrEqualTo(RELATIVE_BOUND.get(f));
                assertThat(full).as("activation rounding changes the logits").isNotEqualTo(weightsOnly);
                assertThat(weightsOnly).isGreaterThan(0f);
            }
        }
        report.forEach((k, v) -> System.out.println("smoothquant logit error " + k + ": " + v));
    }

    @Test
    void statisticsRoundTripAndBadFilesNameTheTensor() throws IOException {
        Path model = Goldens.path("mha_default_rope");
        ActivationStats stats = stats(model, goldenInputs("mha_default_rope"));
        Path file = tmp.resolve("stats.safetensors");
        stats.write(file);
        ActivationStats back = ActivationStats.read(file);
        for (int layer = 0; layer < 2; layer++) {
            for (LinearSite site : LinearSite.values()) {
                assertThat(back.inputChannelMax(layer, site).orElseThrow()).containsExactly(stats.inputChannelMax(layer, site).orElseThrow());
                assertThat(back.outputMax(layer, site)).isEqualTo(stats.outputMax(layer, site));
                assertThat(back.clipRatio(layer, site, 90)).isEqualTo(stats.clipRatio(layer, site, 90));
            }
        }
        assertThat(stats.clipRatio(0, LinearSite.QKV, 50)).isBetween(0.0, 1.0).isLessThan(1.0);

        Path wrongWidth = tmp.resolve("wrong.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            var t = dev.higgstrt.tensor.Tensor.fromFloats(DType.F32, dev.higgstrt.tensor.Shape.of(3), new float[]{1, 2, 3}, arena);
            dev.higgstrt.safetensors.SafetensorsWriter.write(wrongWidth, Map.of("layers.0.qkv.input_channel_max", t), Map.of(), n -> { });
        }
        ActivationStats wrong = ActivationStats.read(wrongWidth);
        assertThatThrownBy(() -> Converter.convert(model, tmp.resolve("never"), ConversionOptions.of(1, 1)
                .withQuant(new QuantOptions(QuantFormat.SQ, List.of(), 128, Optional.of(new SmoothQuant.Settings(0.5, wrong, 100)))), n -> { }))
                .hasMessageContaining(wrongWidth.toString()).hasMessageContaining("layers.0.qkv.input_channel_max");
        assertThat(tmp.resolve("never")).doesNotExist();

        Path negative = tmp.resolve("negative.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            var t = dev.higgstrt.tensor.Tensor.fromFloats(DType.F32, dev.higgstrt.tensor.Shape.of(2), new float[]{1, -2}, arena);
            dev.higgstrt.safetensors.SafetensorsWriter.write(negative, Map.of("layers.1.down.input_channel_max", t), Map.of(), n -> { });
        }
        assertThatThrownBy(() -> ActivationStats.read(negative)).hasMessageContaining("layers.1.down.input_channel_max")
                .hasMessageContaining(negative.toString());
        assertThatThrownBy(() -> QuantOptions.of(QuantFormat.SQ)).hasMessageContaining("activation statistics");
    }

    @Test
    void perTensorNeedsEverySiteCalibrated() throws IOException {
        Path model = Goldens.path("mha_default_rope");
        ActivationStats textOnly = stats(model, List.of(TokenInput.text(5, 6, 7, 8, 9)));
        assertThatThrownBy(() -> Converter.convert(model, tmp.resolve("pt"), ConversionOptions.of(1, 1).withQuant(
                new QuantOptions(QuantFormat.SQ_PER_TENSOR, List.of(), 128, Optional.of(new SmoothQuant.Settings(0.5, textOnly, 100)))), n -> { }))
                .hasMessageContaining("layer 0 (no audio positions)");
        assertThat(tmp.resolve("pt")).doesNotExist();
        // per token needs no static scale: text-only calibration converts (audio sites unsmoothed)
        Converter.convert(model, tmp.resolve("pt2"), ConversionOptions.of(1, 1).withQuant(
                new QuantOptions(QuantFormat.SQ, List.of(), 128, Optional.of(new SmoothQuant.Settings(0.5, textOnly, 100)))), n -> { });
        assertThat(tmp.resolve("pt2/rank0.safetensors")).exists();
    }
}
