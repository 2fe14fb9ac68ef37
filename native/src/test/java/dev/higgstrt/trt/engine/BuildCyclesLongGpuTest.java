package dev.higgstrt.trt.engine;

import dev.higgstrt.trt.cuda.DeviceMemory;
import dev.higgstrt.trt.plugin.DualFfnPlugin;
import dev.higgstrt.trt.cuda.GpuTests;

import dev.higgstrt.convert.ConversionOptions;
import dev.higgstrt.convert.Converter;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.synth.Presets;
import dev.higgstrt.synth.SyntheticCheckpoint;
import dev.higgstrt.weights.WeightMap;
import dev.higgstrt.tensor.DType;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Many build-run-close cycles (minutes on a GPU: tagged {@code gpu-long}, run on demand with
 * {@code scripts/gpu-test.sh run gpu-long}): of the golden engine (100 by default) and of a tiny
 * one-block engine (1,000). {@code -Dhiggs.cycles=N} changes the count, {@code -Dhiggs.cycles.only=golden|block}
 * runs one, {@code -Dhiggs.cycles.seconds=S} stops early (and fails: fewer cycles than asked).
 * Builds use TensorRT's optimization level 0 unless {@code higgs.trt.builderOptimizationLevel} is
 * set. Free device memory and the process's resident memory are sampled after every cycle; after
 * the first 10 (warm-up: kernel modules, pools) neither may keep growing.
 */
@Tag("gpu-long")
class BuildCyclesLongGpuTest {
    @TempDir
    Path tmp;

    @Test
    void goldenEngineCyclesKeepDeviceAndHostMemoryFlat() throws IOException {
        assumeSelected("golden");
        Path golden = GpuTests.GOLDEN;
        Path ckpt = tmp.resolve("ckpt");
        Converter.convert(golden, ckpt, ConversionOptions.of(1, 1).withDtype(DType.F32), n -> { });
        TokenInput tokens = TokenInput.read(golden.resolve("audio_only.json"));
        cycles("golden engine", Integer.getInteger("higgs.cycles", 100), () -> {
            try (HiggsEngine engine = HiggsEngine.build(ckpt, DType.F32, 16); EngineSession s = engine.newSession()) {
                s.forward(tokens);
            }
        });
    }

    @Test
    void tinyBlockEngineCyclesKeepDeviceAndHostMemoryFlat() throws IOException {
        assumeSelected("block");
        HiggsAudioConfig c = Presets.tiny();
        WeightMap w = SyntheticCheckpoint.weights(SyntheticCheckpoint.Spec.of(c).withSeed(5).withDtype(DType.F32));
        FfnBlockEngine.Variant variant = DualFfnPlugin.isAvailable() ? FfnBlockEngine.Variant.PLUGIN : FfnBlockEngine.Variant.COMPUTE_BOTH;
        float[] hidden = new float[16 * c.hiddenSize()];
        boolean[] audio = new boolean[16];
        for (int i = 0; i < audio.length; i++) {
            audio[i] = i % 3 == 0;
            hidden[i * c.hiddenSize()] = 1;
        }
        cycles("tiny " + variant + " block engine", Integer.getInteger("higgs.cycles", 1000), () -> {
            try (FfnBlockEngine block = FfnBlockEngine.build(c, w, 0, DType.BF16, 16, variant, false)) {
                block.run(hidden, audio);
            }
        });
    }

    interface Cycle {
        void run() throws IOException;
    }

    private static void assumeSelected(String which) {
        GpuTests.requireGpu();
        String only = System.getProperty("higgs.cycles.only");
        assumeTrue(only == null || only.equals(which), () -> "cycles of " + which + " not selected (higgs.cycles.only=" + only + ")");
        if (System.getProperty(PlanBuilder.OPTIMIZATION_LEVEL_PROPERTY) == null) {
            System.setProperty(PlanBuilder.OPTIMIZATION_LEVEL_PROPERTY, "0");
        }
    }

    private static void cycles(String what, int cycles, Cycle cycle) throws IOException {
        long deadline = System.nanoTime() + Long.getLong("higgs.cycles.seconds", 3600) * 1_000_000_000L;
        List<Long> freeMb = new ArrayList<>();
        List<Long> rssMb = new ArrayList<>();
        long t0 = System.nanoTime();
        int done = 0;
        long create = 0;
        long build = 0;
        while (done < cycles && System.nanoTime() < deadline) {
            cycle.run();
            create += PlanBuilder.lastCreateNanos;
            build += PlanBuilder.lastBuildNanos;
            done++;
            System.gc();   // resident memory after a collection: a Java heap that grows before collecting is no leak
            freeMb.add(DeviceMemory.free() >> 20);
            rssMb.add(HiggsEngineGpuTest.residentKb() >> 10);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        StringBuilder curve = new StringBuilder();
        for (int i : new int[]{1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000}) {
            if (i <= done) {
                curve.append(String.format(" %d:%d/%d", i, freeMb.get(i - 1), rssMb.get(i - 1)));
            }
        }
        System.out.printf("GPU %s: per cycle createInferBuilder %.0f ms, buildSerializedNetwork %.0f ms%n", what,
                create / 1e6 / done, build / 1e6 / done);
        long deviceDrift = freeMb.get(Math.min(9, done - 1)) - freeMb.getLast();
        long hostDrift = rssMb.getLast() - rssMb.get(Math.min(9, done - 1));
        System.out.printf("GPU %s: %d build-run-close cycles in %.1f s (%.2f s each, optimization level %s);"
                        + " cycle:free device MB/host RSS MB%s; last %d/%d; drift after cycle 10: device %d MB, host %d MB%n",
                what, done, seconds, seconds / done, System.getProperty(PlanBuilder.OPTIMIZATION_LEVEL_PROPERTY), curve,
                freeMb.getLast(), rssMb.getLast(), deviceDrift, hostDrift);
        assertThat(done).as("cycles done before the deadline").isEqualTo(cycles);
        assertThat(deviceDrift).as("device memory lost after warm-up").isLessThan(64L);
        assertThat(hostDrift).as("host memory grown after warm-up").isLessThan(256L);
    }
}
