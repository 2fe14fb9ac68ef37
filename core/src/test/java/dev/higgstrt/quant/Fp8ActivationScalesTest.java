package dev.higgstrt.quant;

import dev.higgstrt.converted.ConvertedCheckpoint;
import dev.higgstrt.converted.TestConverted;
import dev.higgstrt.convert.ConversionOptions;
import dev.higgstrt.convert.Converter;
import dev.higgstrt.reference.Goldens;
import dev.higgstrt.model.LinearSite;
import dev.higgstrt.decoding.Logits;
import dev.higgstrt.reference.ReferenceModel;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.safetensors.SafetensorsCheckpoint;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.Tensor;
import dev.higgstrt.weights.Provenance;
import dev.higgstrt.weights.WeightMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * FP8 with calibration: every decoder linear of every rank gets {@code activation_scaling_factor}
 * = its input's calibrated max |x| / 448, the files follow the plan, and the reference with
 * weights and activations rounded stays within the documented error.
 */
class Fp8ActivationScalesTest {
    /** Documented bound on the relative logit error with FP8 weights and activations (docs/quantization.md). */
    static final float RELATIVE_BOUND = 0.10f;

    @TempDir
    Path tmp;

    private static List<TokenInput> inputs(String model) throws IOException {
        return List.of(TokenInput.read(Goldens.path(model).resolve("mixed.json")),
                TokenInput.read(Goldens.path(model).resolve("audio_only.json")));
    }

    /** max over channels of the calibration's input maxima, computed here from the statistics. */
    private static float expectedScale(ActivationStats stats, int layer, LinearSite site) {
        float max = 0;
        for (float v : stats.inputChannelMax(layer, site).orElseThrow()) {
            max = Math.max(max, v);
        }
        return max / 448f;
    }

    @Test
    void everyRankCarriesEachLinearsScaleAndRoundedModelsStayWithinTheBound() throws IOException {
        Map<String, String> report = new TreeMap<>();
        for (String model : QuantizedConversionTest.MODELS) {
            ReferenceModel original = ReferenceModel.load(Goldens.path(model));
            List<TokenInput> inputs = inputs(model);
            ActivationStats stats = ActivationStats.collect(original, inputs);
            List<Logits> expected = inputs.stream().map(t -> original.forward(t)).toList();
            float maxLogit = RoundedLogits.maxAbs(expected);
            int layers = original.config().numLayers();
            int[][] layouts = layers % 2 == 0 ? new int[][]{{2, 1}, {1, 2}} : new int[][]{{2, 1}};
            for (int[] tpPp : layouts) {
                Path out = tmp.resolve(model + "-tp" + tpPp[0] + "pp" + tpPp[1]);
                ConversionOptions o = ConversionOptions.of(tpPp[0], tpPp[1]).withDtype(DType.F32)
                        .withQuant(QuantOptions.of(QuantFormat.FP8).withActivations(Calibration.of(stats)));
                Converter.Plan plan = Converter.plan(Goldens.path(model), o);
                Converter.convert(Goldens.path(model), out, o, n -> { });
                int scalesSeen = 0;
                for (Converter.RankPlan rp : plan.ranks()) {
                    Map<String, String> written = QuantizedConversionTest.writtenAsPlanned(out, rp);
                    assertThat(written).doesNotContainKey("lm_head.activation_scaling_factor");
                    if (rp.mapping().ppRank() == tpPp[1] - 1) {
                        assertThat(written.get("lm_head.weight")).startsWith("F8_E4M3");
                    }
                    int[] global = rp.mapping().layers(layers);
                    try (SafetensorsCheckpoint ck = SafetensorsCheckpoint.open(out.resolve(rp.mapping().fileName()));
                         Arena arena = Arena.ofConfined()) {
                        for (String name : written.keySet()) {
                            Matcher m = Quantizer.LAYER_LINEAR.matcher(name);
                            if (!m.matches()) {
                                continue;
                            }
                            String scale = name.replace(".weight", Quantizer.ACTIVATION_SCALE);
                            assertThat(written).as(name).containsKey(scale);
                            int layer = global[Integer.parseInt(m.group(1))];
                            float v = ck.weights().tensor(scale).materialize(arena).toFloatArray()[0];
                            assertThat(v).as("%s %s", rp.mapping().fileName(), scale)
                                    .isCloseTo(expectedScale(stats, layer, Quantizer.site(m.group(2))), org.assertj.core.data.Percentage.withPercentage(1e-4));
                            scalesSeen++;
                        }
                    }
                }
                assertThat(scalesSeen).isGreaterThanOrEqualTo(5 * layers);

                RoundedLogits e = RoundedLogits.measure(ReferenceModel.load(out), TestConverted.rounding(out), inputs, expected);
                float weightsOnly = e.weightsOnly();
                float full = e.full();
                report.put(model + " tp" + tpPp[0] + " pp" + tpPp[1], String.format(
                        "weights %.3e, weights+activations %.3e (%.2f %% of max |logit| %.2f)",
                        weightsOnly, full, 100 * full / maxLogit, maxLogit));
                assertThat(full / maxLogit).as("%s %s", model, out.getFileName()).isLessThanOrEqualTo(RELATIVE_BOUND);
                assertThat(full).as("activation rounding changes the logits").isNotEqualTo(weightsOnly);
            }
        }
        report.forEach((k, v) -> System.out.println("fp8 calibrated logit error " + k + ": " + v));
    }

    @Test
    void aLowerPercentileClipsTheScaleAndTheEngineReaderFindsEachSite() throws IOException {
        String model = "mha_default_rope";
        ActivationStats stats = ActivationStats.collect(ReferenceModel.load(Goldens.path(model)), inputs(model));
        Path full = tmp.resolve("p100");
        Path clipped = tmp.resolve("p90");
        Converter.convert(Goldens.path(model), full, ConversionOptions.of(1, 1)
                .withQuant(QuantOptions.of(QuantFormat.FP8).withActivations(Calibration.of(stats))), n -> { });
        Converter.convert(Goldens.path(model), clipped, ConversionOptions.of(1, 1)
                .withQuant(QuantOptions.of(QuantFormat.FP8).withActivations(new Calibration(stats, 90))), n -> { });
        List<ConvertedCheckpoint> open = new ArrayList<>();
        try {
            ConvertedCheckpoint.Quantized a = TestConverted.open(full, open).quantized();
            ConvertedCheckpoint.Quantized b = TestConverted.open(clipped, open).quantized();
            for (int layer = 0; layer < 2; layer++) {
                for (LinearSite site : LinearSite.values()) {
                    float max = a.activationScale(layer, site).orElseThrow();
                    assertThat(max).isCloseTo(expectedScale(stats, layer, site), org.assertj.core.data.Percentage.withPercentage(1e-4));
                    assertThat(b.activationScale(layer, site).orElseThrow())
                            .isCloseTo((float) (max * stats.clipRatio(layer, site, 90)), org.assertj.core.data.Percentage.withPercentage(1e-4));
                }
            }
            assertThat(b.activationScale(0, LinearSite.QKV).orElseThrow()).isLessThan(a.activationScale(0, LinearSite.QKV).orElseThrow());
            assertThat(a.weights().tensor("model.layers.0.self_attn.q_proj.weight").dtype()).isEqualTo(DType.F8_E4M3);
        } finally {
            for (ConvertedCheckpoint ck : open) {
                ck.close();
            }
        }
    }

    @Test
    void missingSitesAndBadScalesAreNamed() throws IOException {
        Path model = Goldens.path("mha_default_rope");
        ActivationStats textOnly = ActivationStats.collect(ReferenceModel.load(model), List.of(TokenInput.text(5, 6, 7, 8, 9)));
        assertThatThrownBy(() -> Converter.convert(model, tmp.resolve("fp8"), ConversionOptions.of(1, 1)
                .withQuant(QuantOptions.of(QuantFormat.FP8).withActivations(Calibration.of(textOnly))), n -> { }))
                .hasMessageContaining("in layer 0 (no audio positions)").hasMessageContaining("include audio tokens");
        assertThat(tmp.resolve("fp8")).doesNotExist();
        assertThatThrownBy(() -> QuantOptions.of(QuantFormat.INT8_WO).withActivations(Calibration.of(textOnly)))
                .hasMessageContaining("fp8");
        assertThatThrownBy(() -> new Calibration(textOnly, 0)).hasMessageContaining("percentile");

        try (Arena arena = Arena.ofConfined()) {
            WeightMap bad = WeightMap.builder().put("transformer.layers.1.mlp.down_proj.activation_scaling_factor",
                    Tensor.fromFloats(DType.F32, Shape.of(1), new float[]{-2}, arena), Provenance.memory("test")).build();
            Path file = tmp.resolve("rank0.safetensors");
            assertThatThrownBy(() -> Quantizer.activationScales(file, bad, new int[]{0, 1}))
                    .hasMessageContaining(file.toString()).hasMessageContaining("transformer.layers.1.mlp.down_proj.activation_scaling_factor")
                    .hasMessageContaining("-2");
            WeightMap good = WeightMap.builder().put("transformer.layers.1.mlp.down_proj.activation_scaling_factor",
                    Tensor.fromFloats(DType.F32, Shape.of(1), new float[]{0.25f}, arena), Provenance.memory("test")).build();
            assertThat(Quantizer.activationScales(file, good, new int[]{4, 5})).containsExactly(Map.entry("5.down", 0.25f));
        }
    }
}
