package dev.higgstrt.trt.engine;

import dev.higgstrt.trt.plugin.DualFfnPlugin;
import dev.higgstrt.trt.plugin.PluginTests;
import dev.higgstrt.trt.cuda.GpuTests;
import dev.higgstrt.trt.smoke.SmokeRun;

import dev.higgstrt.converted.ConvertedCheckpoint;
import dev.higgstrt.converted.TestConverted;
import dev.higgstrt.convert.ConversionOptions;
import dev.higgstrt.convert.Converter;
import dev.higgstrt.quant.ActivationStats;
import dev.higgstrt.quant.Calibration;
import dev.higgstrt.quant.QuantFormat;
import dev.higgstrt.quant.QuantOptions;
import dev.higgstrt.reference.ReferenceModel;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.synth.Presets;
import dev.higgstrt.synth.SyntheticCheckpoint;
import dev.higgstrt.tensor.DType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Engines built from int8_wo and fp8 checkpoints keep the weights quantized (INT8/FP8 constants,
 * dequantized before each product) and agree with the reference forward of the dequantized
 * checkpoint within the BF16 bound; the smoke run of the {@code small} model passes with both.
 */
@Tag("gpu")
class QuantizedEngineGpuTest {
    @TempDir
    static Path tmp;
    static Path golden;

    @BeforeAll
    static void requireGpu() {
        GpuTests.requireGpu();
        golden = GpuTests.GOLDEN;
    }

    @Test
    void readQuantizedKeepsTheStoredTypesAndScalesRebuildTheWeights() throws IOException {
        for (QuantFormat f : List.of(QuantFormat.INT8_WO, QuantFormat.FP8)) {
            Path ckpt = tmp.resolve("read-" + f.id());
            Converter.convert(golden, ckpt, ConversionOptions.of(1, 1).withDtype(DType.BF16).withQuant(QuantOptions.of(f)), n -> { });
            List<ConvertedCheckpoint> open = new ArrayList<>();
            try {
                ConvertedCheckpoint.Quantized q = TestConverted.open(ckpt, open).quantized();
                assertThat(q.format()).isEqualTo(f);
                assertThat(q.scales()).containsKeys("model.layers.0.self_attn.q_proj.weight", "model.layers.1.audio_mlp.down_proj.weight",
                        "audio_lm_head.weight");
                assertThat(q.weights().tensor("model.layers.0.self_attn.q_proj.weight").dtype())
                        .isEqualTo(f == QuantFormat.FP8 ? DType.F8_E4M3 : DType.I8);
            } finally {
                for (ConvertedCheckpoint ck : open) {
                    ck.close();
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = FfnMode.class, names = {"PLUGIN", "COMPUTE_BOTH"})
    void quantizedEnginesMatchTheDequantizedReference(FfnMode mode) throws IOException {
        if (mode == FfnMode.PLUGIN) {
            PluginTests.requireDualFfnPlugin("plugin");
        }
        Path plain = tmp.resolve("plain-" + mode);
        Converter.convert(golden, plain, ConversionOptions.of(1, 1).withDtype(DType.BF16), n -> { });
        long plainBytes;
        try (HiggsEngine e = HiggsEngine.build(plain, DType.BF16, 48, mode)) {
            plainBytes = e.planBytes();
        }
        for (QuantFormat f : List.of(QuantFormat.INT8_WO, QuantFormat.FP8)) {
            Path ckpt = tmp.resolve(f.id() + "-" + mode);
            Converter.convert(golden, ckpt, ConversionOptions.of(1, 1).withDtype(DType.BF16).withQuant(QuantOptions.of(f)), n -> { });
            ReferenceModel ref = ReferenceModel.load(ckpt);
            try (HiggsEngine engine = HiggsEngine.build(ckpt, DType.BF16, 48, mode)) {
                SmokeRun run = SmokeRun.run(engine, ref, TokenInput.read(golden.resolve("mixed.json")), 16);
                System.out.printf("GPU quantized engine %s %s: prefill %.3e, decode %.3e (bound %.3e); plan %d KB vs %d KB unquantized%n",
                        f.id(), mode.id(), run.prefillError(), run.decodeError(), run.bound(), engine.planBytes() >> 10, plainBytes >> 10);
                assertThat(run.passed()).as("%s %s: %s", f, mode, run).isTrue();
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = FfnMode.class, names = {"PLUGIN", "COMPUTE_BOTH"})
    void calibratedFp8EnginesRoundActivationsAsTheReferenceDoes(FfnMode mode) throws IOException {
        if (mode == FfnMode.PLUGIN) {
            PluginTests.requireDualFfnPlugin("plugin");
        }
        List<TokenInput> calibration = List.of(TokenInput.read(golden.resolve("mixed.json")), TokenInput.read(golden.resolve("audio_only.json")));
        ActivationStats stats = ActivationStats.collect(ReferenceModel.load(golden), calibration);
        Path ckpt = tmp.resolve("fp8-calibrated-" + mode);
        Converter.convert(golden, ckpt, ConversionOptions.of(1, 1).withDtype(DType.BF16)
                .withQuant(QuantOptions.of(QuantFormat.FP8).withActivations(Calibration.of(stats))), n -> { });
        ReferenceModel ref = ReferenceModel.load(ckpt);
        try (HiggsEngine engine = HiggsEngine.build(ckpt, DType.BF16, 48, mode)) {
            TokenInput prompt = TokenInput.read(golden.resolve("mixed.json"));
            SmokeRun rounded = SmokeRun.run(engine, ref, SmokeRun.engineRounding(ckpt), prompt, 16);
            SmokeRun unrounded = SmokeRun.run(engine, ref, prompt, 16);
            System.out.printf("GPU fp8 calibrated engine %s: against the reference with activations rounded prefill %.3e, decode %.3e;"
                            + " unrounded prefill %.3e, decode %.3e (bound %.3e)%n", mode.id(), rounded.prefillError(),
                    rounded.decodeError(), unrounded.prefillError(), unrounded.decodeError(), rounded.bound());
            assertThat(rounded.passed()).as("%s: %s", mode, rounded).isTrue();
        }
    }

    @Test
    void smallModelSmokeRunsPassQuantized() throws IOException {
        Path src = tmp.resolve("small-src");
        SyntheticCheckpoint.write(src, SyntheticCheckpoint.Spec.of(Presets.small()).withSeed(7), n -> { });
        ActivationStats stats = ActivationStats.collect(ReferenceModel.load(src),
                List.of(SmokeRun.prompt(Presets.small(), 48, 11), SmokeRun.prompt(Presets.small(), 32, 12)));
        Map<String, QuantOptions> variants = new LinkedHashMap<>();
        variants.put("int8_wo", QuantOptions.of(QuantFormat.INT8_WO));
        variants.put("fp8", QuantOptions.of(QuantFormat.FP8));
        variants.put("fp8 calibrated", QuantOptions.of(QuantFormat.FP8).withActivations(Calibration.of(stats)));
        for (var v : variants.entrySet()) {
            String f = v.getKey();
            Path ckpt = tmp.resolve("small-" + f.replace(' ', '-'));
            Converter.convert(src, ckpt, ConversionOptions.of(1, 1).withQuant(v.getValue()), n -> { });
            ReferenceModel ref = ReferenceModel.load(ckpt);
            long t0 = System.nanoTime();
            try (HiggsEngine engine = HiggsEngine.build(ckpt, DType.BF16, 128)) {
                double buildS = (System.nanoTime() - t0) / 1e9;
                SmokeRun run = SmokeRun.run(engine, ref, SmokeRun.engineRounding(ckpt), SmokeRun.prompt(ref.config(), 64, 3), 16);
                System.out.printf("GPU small %s smoke (%s): prefill %.3e, decode %.3e, bound %.3e, build %.1f s, plan %d MB, %s%n",
                        f, engine.ffnMode().id(), run.prefillError(), run.decodeError(), run.bound(), buildS,
                        engine.planBytes() >> 20, run);
                assertThat(run.passed()).as("%s: %s", f, run).isTrue();
            }
        }
    }
}
