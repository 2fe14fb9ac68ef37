package dev.higgstrt.trt.plugin;

import dev.higgstrt.trt.engine.FfnBlockEngine;
import dev.higgstrt.trt.cuda.GpuTests;
import dev.higgstrt.trt.tensorrt.TrtException;

import dev.higgstrt.layout.SourceTensor;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.SourceLayout;
import dev.higgstrt.reference.FeedForward;
import dev.higgstrt.synth.Presets;
import dev.higgstrt.synth.SyntheticCheckpoint;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.Tensor;
import dev.higgstrt.weights.WeightMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The dual-FFN plugin on the GPU, one feed-forward block at a time, against the CPU reference
 * ({@link FeedForward}) and against the compute-both block. Skipped, with the reason, where no GPU,
 * TensorRT or built plugin is found.
 */
@Tag("gpu")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DualFfnPluginGpuTest {
    /** FP32: within 1e-4 of the reference. */
    static final float FP32_BOUND = 1e-4f;

    static DualFfnPlugin plugin;

    @BeforeAll
    static void requirePlugin() {
        GpuTests.requireGpu();
        PluginTests.requireDualFfnPlugin("plugin tests");
        plugin = DualFfnPlugin.get();
    }

    /** Token patterns: name -> audio flags. */
    static Map<String, boolean[]> patterns() {
        Map<String, boolean[]> p = new LinkedHashMap<>();
        Random r = new Random(7);
        p.put("all text, T=37", flags(37, i -> false));
        p.put("all audio, T=37", flags(37, i -> true));
        p.put("mixed, T=64", flags(64, i -> r.nextBoolean()));
        p.put("T=1 text", flags(1, i -> false));
        p.put("T=1 audio", flags(1, i -> true));
        p.put("odd T=5 mixed", flags(5, i -> i % 2 == 1));
        p.put("T=2 mixed (direct path, largest)", flags(2, i -> i == 1));
        p.put("T=2 audio (direct path)", flags(2, i -> true));
        p.put("T=3 mixed (compacted path, smallest)", flags(3, i -> i != 1));
        p.put("T=8 mixed", flags(8, i -> i % 3 == 0));
        p.put("large T=1536 mixed", flags(1536, i -> r.nextInt(4) == 0));
        return p;
    }

    private static boolean[] flags(int n, java.util.function.IntPredicate audio) {
        boolean[] f = new boolean[n];
        for (int i = 0; i < n; i++) {
            f[i] = audio.test(i);
        }
        return f;
    }

    /** A one-layer model with this FFN geometry; the attention sizes do not matter here. */
    static HiggsAudioConfig geometry(int hidden, int inter) {
        HiggsAudioConfig t = Presets.tiny();
        return new HiggsAudioConfig(SourceLayout.TRANSFORMERS, t.vocabSize(), hidden, inter, 1, 4, 2, 16, 1e-5,
                t.maxPositionEmbeddings(), t.rope(), t.numCodebooks(), t.codebookSize(), t.audioTokenIds(),
                t.audioStreamBosId(), t.audioStreamEosId(), List.of(0), false, t.torchDtype());
    }

    /** The reference: hidden (rounded to dtype) plus each token's path, in FP32 with the weights rounded to dtype. */
    static float[] reference(HiggsAudioConfig c, WeightMap w, DType dtype, float[] hidden, boolean[] audio) {
        int t = audio.length;
        float[] x = round(hidden, dtype);
        boolean[] text = new boolean[t];
        for (int i = 0; i < t; i++) {
            text[i] = !audio[i];
        }
        float eps = (float) c.rmsNormEps();
        FeedForward.addPath(x, t, text, floats(w, SourceTensor.POST_LN, DType.F32), eps, floats(w, SourceTensor.GATE, dtype),
                floats(w, SourceTensor.UP, dtype), floats(w, SourceTensor.DOWN, dtype), c.hiddenSize(), c.intermediateSize());
        FeedForward.addPath(x, t, audio, floats(w, SourceTensor.AUDIO_POST_LN, DType.F32), eps,
                floats(w, SourceTensor.AUDIO_GATE, dtype), floats(w, SourceTensor.AUDIO_UP, dtype),
                floats(w, SourceTensor.AUDIO_DOWN, dtype), c.hiddenSize(), c.intermediateSize());
        return x;
    }

    private static float[] floats(WeightMap w, SourceTensor t, DType dtype) {
        try (Arena arena = Arena.ofConfined()) {
            return w.tensor(t.name(SourceLayout.TRANSFORMERS, 0)).cast(dtype).materialize(arena).to(DType.F32, arena).toFloatArray();
        }
    }

    static float[] round(float[] v, DType dtype) {
        try (Arena arena = Arena.ofConfined()) {
            return Tensor.fromFloats(dtype, Shape.of(v.length), v, arena).toFloatArray();
        }
    }

    static float[] randomHidden(int tokens, int hidden, long seed) {
        Random r = new Random(seed);
        float[] x = new float[tokens * hidden];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    static float maxAbsDiff(float[] a, float[] b) {
        float m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    static float maxAbs(float[] a) {
        float m = 0;
        for (float v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    /** The documented bound of a half-precision block: BF16 2^-6, FP16 2^-9 of the largest output, plus a floor. */
    static float bound(DType dtype, float maxOut) {
        return switch (dtype) {
            case F32 -> FP32_BOUND;
            case F16 -> maxOut / 512 + 1e-3f;
            default -> maxOut / 64 + 1e-2f;
        };
    }

    @Order(1)
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "BF16", "F16"})
    void everyTokenPatternMatchesTheReference(DType dtype) {
        HiggsAudioConfig c = geometry(256, 704);
        WeightMap w = SyntheticCheckpoint.weights(SyntheticCheckpoint.Spec.of(c).withSeed(11).withDtype(DType.F32));
        List<String> failures = new ArrayList<>();
        long batchedBefore = plugin.batchedGemms();
        try (FfnBlockEngine block = FfnBlockEngine.build(c, w, 0, dtype, 2048, FfnBlockEngine.Variant.PLUGIN, false)) {
            long seed = 1;
            for (var e : patterns().entrySet()) {
                boolean[] audio = e.getValue();
                float[] hidden = randomHidden(audio.length, c.hiddenSize(), seed++);
                float[] expected = reference(c, w, dtype, hidden, audio);
                float d = maxAbsDiff(block.run(hidden, audio), expected);
                float b = bound(dtype, maxAbs(expected));
                System.out.printf("GPU plugin %s %-38s max |plugin - reference| = %.3e (bound %.3e)%n",
                        dtype.torchName(), e.getKey(), d, b);
                if (!(d <= b)) {
                    failures.add(e.getKey() + ": " + d);
                }
            }
        }
        assertThat(failures).isEmpty();
        // the many-token patterns went through the strided-batched GEMMs (audio gate/up, downs in parts)
        System.out.printf("GPU plugin %s strided-batched GEMMs: %d%n", dtype.torchName(), plugin.batchedGemms() - batchedBefore);
        assertThat(plugin.batchedGemms()).isGreaterThan(batchedBefore);
    }

    @Order(2)
    @Test
    void rowsThatAreNotMultiplesOfTheVectorWidthAndAnIntMaskWork() {
        HiggsAudioConfig c = geometry(100, 36);
        WeightMap w = SyntheticCheckpoint.weights(SyntheticCheckpoint.Spec.of(c).withSeed(5).withDtype(DType.F32));
        try (FfnBlockEngine block = FfnBlockEngine.build(c, w, 0, DType.F32, 64, FfnBlockEngine.Variant.PLUGIN, true)) {
            for (boolean[] audio : List.of(flags(3, i -> i == 1), flags(41, i -> i % 5 < 2))) {
                float[] hidden = randomHidden(audio.length, c.hiddenSize(), audio.length);
                float d = maxAbsDiff(block.run(hidden, audio), reference(c, w, DType.F32, hidden, audio));
                System.out.printf("GPU plugin fp32 H=100 I=36 INT32 mask T=%d: max |plugin - reference| = %.3e%n", audio.length, d);
                assertThat(d).isLessThanOrEqualTo(FP32_BOUND);
            }
        }
    }

    @Order(3)
    @Test
    void pluginAndComputeBothBlocksAgree() {
        HiggsAudioConfig c = geometry(512, 1536);
        WeightMap w = SyntheticCheckpoint.weights(SyntheticCheckpoint.Spec.of(c).withSeed(3).withDtype(DType.F32));
        boolean[] audio = flags(300, i -> i % 2 == 0);
        float[] hidden = randomHidden(audio.length, c.hiddenSize(), 9);
        float[] expected = reference(c, w, DType.BF16, hidden, audio);
        try (FfnBlockEngine plug = FfnBlockEngine.build(c, w, 0, DType.BF16, 512, FfnBlockEngine.Variant.PLUGIN, false);
             FfnBlockEngine both = FfnBlockEngine.build(c, w, 0, DType.BF16, 512, FfnBlockEngine.Variant.COMPUTE_BOTH, false)) {
            float[] a = plug.run(hidden, audio);
            float[] b = both.run(hidden, audio);
            float between = maxAbsDiff(a, b);
            System.out.printf("GPU bf16 T=300 50%% audio: |plugin - compute-both| = %.3e, |plugin - ref| = %.3e, |compute-both - ref| = %.3e%n",
                    between, maxAbsDiff(a, expected), maxAbsDiff(b, expected));
            assertThat(between).isLessThanOrEqualTo(bound(DType.BF16, maxAbs(expected)));
        }
    }

    @Order(4)
    @Test
    void unsupportedShapesAndTypesFailTheBuildWithAMessage() {
        HiggsAudioConfig c = geometry(64, 96);
        WeightMap w = SyntheticCheckpoint.weights(SyntheticCheckpoint.Spec.of(c).withSeed(2).withDtype(DType.F32));
        // the plugin is told another intermediate size than its weights have
        assertThatThrownBy(() -> PluginNetworks.buildWithWrongIntermediate(plugin, c, w))
                .isInstanceOf(TrtException.class)
                .hasMessageContaining("(text_gate_up) has shape [192, 64], expected [194, 64]");
        // an INT64 hidden state
        assertThatThrownBy(() -> PluginNetworks.buildWithHiddenType(plugin, c, w, org.bytedeco.tensorrt.global.nvinfer.DataType.kINT64))
                .isInstanceOf(TrtException.class)
                .hasMessageContaining("hidden has type INT64");
        assertThatThrownBy(() -> plugin.create("bad", 64, 96, 0f, true))
                .isInstanceOf(TrtException.class)
                .hasMessageContaining("eps (FLOAT32 > 0)");
    }

    @Order(5)
    @Test
    void everyDeclaredPluginMethodWasReachedThroughItsVtableSlot() {
        // TensorRT calls all of them but the creator's getFieldNames, which DualFfnPlugin calls
        // through the presets (the same C++ virtual dispatch) to check the fields it passes
        Map<String, Long> calls = plugin.calls();
        calls.forEach((m, n) -> System.out.printf("GPU ABI %-46s %d calls%n", m, n));
        assertThat(calls).hasSize(26);
        assertThat(calls.entrySet().stream().filter(e -> e.getValue() == 0).map(Map.Entry::getKey).toList()).isEmpty();
    }

    @AfterAll
    static void noPluginObjectOutlivesItsEngine() {
        if (plugin != null) {
            System.out.printf("GPU plugin objects alive after every engine closed: %d%n", plugin.livePlugins());
            assertThat(plugin.livePlugins()).isZero();
        }
    }
}
