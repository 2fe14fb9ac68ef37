package dev.higgstrt.bench;

import dev.higgstrt.reference.TokenInput;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.trt.EngineSession;
import dev.higgstrt.trt.HiggsEngine;
import dev.higgstrt.trt.SmokeRun;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Engine speed on the GPU: build time, prefill positions/s and decode ms/step at batch 1, beside
 * the memory-bandwidth floor of a decode step (all weight bytes read once / 3.35 TB/s, the H100
 * SXM's HBM3). {@code EnginePerf CONVERTED_DIR DTYPE MAX_SEQ PREFILL DECODE_STEPS}
 */
public final class EnginePerf {
    private EnginePerf() {
    }

    public static void main(String[] args) throws Exception {
        Path ckpt = Path.of(args[0]);
        DType dtype = DType.parse(args[1]);
        int maxSeq = Integer.parseInt(args[2]);
        int prefill = Integer.parseInt(args[3]);
        int steps = Integer.parseInt(args[4]);
        long weightBytes;
        try (var files = Files.list(ckpt)) {
            weightBytes = files.filter(p -> p.toString().endsWith(".safetensors")).mapToLong(p -> p.toFile().length()).sum();
        }
        long t0 = System.nanoTime();
        try (HiggsEngine engine = HiggsEngine.build(ckpt, dtype, maxSeq)) {
            double buildS = (System.nanoTime() - t0) / 1e9;
            TokenInput prompt = SmokeRun.prompt(engine.config(), prefill, 1);
            double[] prefillMs = new double[5];
            double[] stepMs = new double[steps];
            for (int run = -1; run < prefillMs.length; run++) {
                try (EngineSession s = engine.newSession()) {
                    long a = System.nanoTime();
                    s.forward(prompt);
                    if (run >= 0) {
                        prefillMs[run] = (System.nanoTime() - a) / 1e6;
                    }
                    if (run == prefillMs.length - 1) {
                        for (int i = 0; i < steps; i++) {
                            TokenInput step = i % 2 == 0 ? TokenInput.text(5)
                                    : new TokenInput(new int[]{engine.config().audioTokenIds().getLast()},
                                    new int[][]{new int[engine.config().numCodebooks()]});
                            long b = System.nanoTime();
                            s.forward(step);
                            stepMs[i] = (System.nanoTime() - b) / 1e6;
                        }
                    }
                }
            }
            Arrays.sort(prefillMs);
            Arrays.sort(stepMs);
            double floorMs = weightBytes / 3.35e12 * 1e3;
            System.out.printf("engine %s, weights %.2f GB, plan %.2f GB, build %.1f s%n", dtype.torchName(), weightBytes / 1e9,
                    engine.planBytes() / 1e9, buildS);
            System.out.printf("prefill %d positions: %.1f ms median of 5 -> %.0f positions/s%n", prefill, prefillMs[2],
                    prefill / (prefillMs[2] / 1e3));
            System.out.printf("decode: %.2f ms/step median of %d (bandwidth floor %.2f ms/step, %.2fx)%n", stepMs[steps / 2], steps,
                    floorMs, stepMs[steps / 2] / floorMs);
        }
    }
}
