package dev.higgstrt.trt.engine;

import dev.higgstrt.trt.cuda.DeviceMemory;
import dev.higgstrt.trt.plugin.DualFfnPlugin;
import dev.higgstrt.trt.plugin.PluginTests;
import dev.higgstrt.trt.cuda.GpuTests;
import dev.higgstrt.trt.cuda.NativeRelease;
import dev.higgstrt.trt.smoke.SmokeRun;

import dev.higgstrt.convert.ConversionOptions;
import dev.higgstrt.convert.Converter;
import dev.higgstrt.decoding.Logits;
import dev.higgstrt.reference.ReferenceModel;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.tensor.DType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The TensorRT engine against the CPU reference, on the GPU. Skipped, with the reason, where no
 * GPU or no TensorRT 10 runtime is found.
 */
@Tag("gpu")
public class HiggsEngineGpuTest {
    /** FP32 engines: within 1e-3 of the reference. */
    public static final float FP32_BOUND = 1e-3f;

    @TempDir
    static Path tmp;
    static Path golden;

    @BeforeAll
    static void requireGpu() {
        GpuTests.requireGpu();
        golden = GpuTests.GOLDEN;
    }

    private static Path converted(String name, DType dtype) throws IOException {
        Path out = tmp.resolve(name);
        Converter.convert(golden, out, ConversionOptions.of(1, 1).withDtype(dtype), n -> { });
        return out;
    }

    /** An FP32 engine (16 positions) of {@code ckpt}, built and saved to {@code name} under the test folder. */
    private static Path savedEngine(Path ckpt, String name) throws IOException {
        Path file = tmp.resolve(name);
        try (HiggsEngine engine = HiggsEngine.build(ckpt, DType.F32, 16)) {
            engine.save(file);
        }
        return file;
    }

    private static void report(String what, float diff) {
        System.out.printf("GPU %s: max |engine - reference| = %.3e%n", what, diff);
    }

    @Test
    void fp32PrefillAndDecodeMatchTheReference() throws IOException {
        Path ckpt = converted("f32", DType.F32);
        ReferenceModel ref = ReferenceModel.load(ckpt);
        TokenInput tokens = TokenInput.read(golden.resolve("mixed.json"));
        try (HiggsEngine engine = HiggsEngine.build(ckpt, DType.F32, 64); EngineSession s = engine.newSession()) {
            Logits prefill = s.forward(tokens);
            float d = prefill.maxAbsDiff(ref.forward(tokens));
            report("fp32 prefill (14 positions)", d);
            assertThat(d).isLessThanOrEqualTo(FP32_BOUND);

            try (EngineSession inc = engine.newSession()) {
                ReferenceModel.Session refInc = ref.newSession();
                int half = tokens.length() / 2;
                float worst = inc.forward(tokens.slice(ref.config(), 0, half)).maxAbsDiff(refInc.forward(tokens.slice(ref.config(), 0, half)));
                for (int i = half; i < tokens.length(); i++) {
                    TokenInput step = tokens.slice(ref.config(), i, i + 1);
                    worst = Math.max(worst, inc.forward(step).maxAbsDiff(refInc.forward(step)));
                }
                for (int i = 0; i < 32; i++) {
                    TokenInput step = i % 2 == 0 ? TokenInput.text(3 + i) : new TokenInput(new int[]{290}, new int[][]{{i % 18, 1, 2, 3}});
                    worst = Math.max(worst, inc.forward(step).maxAbsDiff(refInc.forward(step)));
                }
                report("fp32 decode (7 + 32 steps through the KV cache)", worst);
                assertThat(worst).isLessThanOrEqualTo(FP32_BOUND);
                assertThat(inc.length()).isEqualTo(tokens.length() + 32);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BF16", "F16"})
    void halfPrecisionEnginesAreWithinTheirBound(DType dtype) throws IOException {
        Path ckpt = converted("half-" + dtype, dtype);
        ReferenceModel ref = ReferenceModel.load(ckpt);
        try (HiggsEngine engine = HiggsEngine.build(ckpt, dtype, 32)) {
            for (String input : new String[]{"mixed", "audio_only"}) {
                TokenInput tokens = TokenInput.read(golden.resolve(input + ".json"));
                try (EngineSession s = engine.newSession()) {
                    Logits expected = ref.forward(tokens);
                    float maxLogit = 0;
                    for (float v : expected.audio()) {
                        maxLogit = Math.max(maxLogit, Math.abs(v));
                    }
                    float d = s.forward(tokens).maxAbsDiff(expected);
                    report(dtype.torchName() + " prefill " + input, d);
                    assertThat(d).isLessThanOrEqualTo(SmokeRun.bound(dtype, maxLogit));
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "BF16"})
    void pluginAndComputeBothEnginesGiveTheSameLogits(DType dtype) throws IOException {
        PluginTests.requireDualFfnPlugin("plugin engine");
        Path ckpt = converted("modes-" + dtype, dtype);
        ReferenceModel ref = ReferenceModel.load(ckpt);
        TokenInput tokens = TokenInput.read(golden.resolve("mixed.json"));
        try (HiggsEngine plugin = HiggsEngine.build(ckpt, dtype, 64, FfnMode.PLUGIN);
             HiggsEngine both = HiggsEngine.build(ckpt, dtype, 64, FfnMode.COMPUTE_BOTH);
             EngineSession a = plugin.newSession(); EngineSession b = both.newSession()) {
            assertThat(plugin.ffnMode()).isEqualTo(FfnMode.PLUGIN);
            ReferenceModel.Session r = ref.newSession();
            Logits expected = r.forward(tokens);
            float maxLogit = 0;
            for (float v : expected.audio()) {
                maxLogit = Math.max(maxLogit, Math.abs(v));
            }
            float bound = dtype == DType.F32 ? FP32_BOUND : SmokeRun.bound(dtype, maxLogit);
            Logits pa = a.forward(tokens);
            Logits pb = b.forward(tokens);
            float between = pa.maxAbsDiff(pb);
            float toRef = pa.maxAbsDiff(expected);
            for (int i = 0; i < 16; i++) {
                TokenInput step = i % 3 == 0 ? TokenInput.text(7 + i) : new TokenInput(new int[]{290}, new int[][]{{i % 18, 2, 1, 0}});
                Logits sa = a.forward(step);
                between = Math.max(between, sa.maxAbsDiff(b.forward(step)));
                toRef = Math.max(toRef, sa.maxAbsDiff(r.forward(step)));
            }
            System.out.printf("GPU %s plugin engine, prefill + 16 decode steps: |plugin - compute-both| = %.3e, "
                    + "|plugin - reference| = %.3e (bound %.3e)%n", dtype.torchName(), between, toRef, bound);
            assertThat(between).isLessThanOrEqualTo(bound);
            assertThat(toRef).isLessThanOrEqualTo(bound);
        }
    }

    @Test
    void savedEnginesLoadBackAndRefuseAnotherCheckpoint() throws IOException {
        Path ckpt = converted("save", DType.F32);
        Path other = tmp.resolve("other");
        Converter.convert(golden, other, ConversionOptions.of(1, 1).withDtype(DType.BF16), n -> { });
        TokenInput tokens = TokenInput.read(golden.resolve("mixed.json"));
        Path file = tmp.resolve("model.engine");
        Logits before;
        try (HiggsEngine engine = HiggsEngine.build(ckpt, DType.F32, 32); EngineSession s = engine.newSession()) {
            before = s.forward(tokens);
            engine.save(file);
        }
        try (HiggsEngine loaded = HiggsEngine.load(file, ckpt); EngineSession s = loaded.newSession()) {
            assertThat(s.forward(tokens).audio()).isEqualTo(before.audio());
        }
        assertThatThrownBy(() -> HiggsEngine.load(file, other)).hasMessageContaining("built from another checkpoint");
    }

    @Test
    void hundredLoadRunCloseCyclesKeepDeviceAndHostMemoryFlat() throws IOException {
        Path ckpt = converted("load-cycles", DType.F32);
        Path file = savedEngine(ckpt, "cycles.engine");
        TokenInput tokens = TokenInput.read(golden.resolve("audio_only.json"));
        long[] free = new long[2];
        long[] rss = new long[2];
        for (int i = 0; i < 100; i++) {
            try (HiggsEngine engine = HiggsEngine.load(file, ckpt); EngineSession s = engine.newSession()) {
                s.forward(tokens);
                s.forward(TokenInput.audio(new int[]{1, 2, 3, 4}));
            }
            if (i == 9) {
                free[0] = DeviceMemory.free();
                rss[0] = residentKb();
            }
        }
        free[1] = DeviceMemory.free();
        rss[1] = residentKb();
        System.out.printf("GPU 100 load-run-close cycles: free device memory %d -> %d MB (cycles 10 -> 100), RSS %d -> %d MB%n",
                free[0] >> 20, free[1] >> 20, rss[0] >> 10, rss[1] >> 10);
        assertThat(free[0] - free[1]).isLessThan(32L << 20);
        assertThat(rss[1] - rss[0]).isLessThan(256L << 10);
    }

    /** The process's resident memory, from /proc/self/status. */
    static long residentKb() throws IOException {
        for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return 0;
    }

    @Test
    void closingTwiceAndBuildRunCloseCyclesKeepDeviceMemoryFlat() throws IOException {
        Path ckpt = converted("cycles", DType.F32);
        TokenInput tokens = TokenInput.read(golden.resolve("audio_only.json"));
        long[] free = new long[2];
        for (int i = 0; i < 6; i++) {
            HiggsEngine engine = HiggsEngine.build(ckpt, DType.F32, 16);
            EngineSession s = engine.newSession();
            s.forward(tokens);
            s.close();
            s.close();
            engine.close();
            engine.close();
            if (i == 1) {
                free[0] = DeviceMemory.free();
            }
        }
        free[1] = DeviceMemory.free();
        System.out.printf("GPU free memory after cycle 2: %d MB, after cycle 6: %d MB%n", free[0] >> 20, free[1] >> 20);
        assertThat(free[0] - free[1]).isLessThan(64L << 20);
    }

    @Test
    void enginesClosedBeforeTheirSessionsAndObjectsNeverClosedAreReleased() throws IOException {
        Path ckpt = converted("unclosed", DType.F32);
        Path file = savedEngine(ckpt, "unclosed.engine");
        TokenInput tokens = TokenInput.read(golden.resolve("audio_only.json"));
        // the engine first: it closes its open sessions, which then refuse work and close again quietly
        HiggsEngine first = HiggsEngine.load(file, ckpt);
        EngineSession a = first.newSession();
        EngineSession b = first.newSession();
        a.forward(tokens);
        b.close();
        first.close();
        assertThatThrownBy(() -> a.forward(tokens)).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        a.close();
        b.close();
        assertThatThrownBy(first::newSession).isInstanceOf(IllegalStateException.class);

        long before = NativeRelease.unclosedCount();
        leakOne(file, ckpt, tokens);
        long baseline = DeviceMemory.free();
        for (int i = 0; i < 20; i++) {
            leakOne(file, ckpt, tokens);
        }
        long deadline = System.nanoTime() + 60_000_000_000L;
        // sessions count too, unless their engine was cleaned first (it closes them quietly)
        while ((NativeRelease.unclosedCount() < before + 21 || baseline - DeviceMemory.free() >= 64L << 20)
                && System.nanoTime() < deadline) {
            System.gc();
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        long after = DeviceMemory.free();
        System.out.printf("GPU 21 engines and sessions never closed: %d released by the Cleaner; free device memory %d MB after the"
                + " first, %d MB after all%n", NativeRelease.unclosedCount() - before, baseline >> 20, after >> 20);
        assertThat(NativeRelease.unclosedCount() - before).isGreaterThanOrEqualTo(21);
        assertThat(baseline - after).as("device memory of unclosed engines comes back").isLessThan(64L << 20);
    }

    /** Loads an engine, runs a session, and drops both without closing them. */
    private static void leakOne(Path file, Path ckpt, TokenInput tokens) throws IOException {
        HiggsEngine engine = HiggsEngine.load(file, ckpt);
        engine.newSession().forward(tokens);
    }
}
