package dev.higgstrt.bench;

import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.trt.cuda.Cuda;
import dev.higgstrt.trt.engine.EngineSession;
import dev.higgstrt.trt.engine.FfnMode;
import dev.higgstrt.trt.engine.HiggsEngine;
import dev.higgstrt.trt.smoke.SmokeRun;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * Engine speed on the GPU: build time, prefill positions/s and decode ms/step at batch 1, beside
 * the memory-bandwidth floor of a decode step: the bytes a step must read over the device-to-device
 * copy bandwidth measured on the same GPU in the same run (no datasheet figure). The floor counts
 * what a step must read: every weight but the two embedding tables
 * (one row each) and, with the dual-FFN plugin, the FFN path a position does not take.
 * {@code EnginePerf CONVERTED_DIR DTYPE MAX_SEQ PREFILL DECODE_STEPS [plugin|compute-both]}
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
        FfnMode ffn = args.length > 5 ? FfnMode.parse(args[5]) : FfnMode.AUTO;
        long weightBytes = DecodeFloor.weightBytes(ckpt);
        long t0 = System.nanoTime();
        try (HiggsEngine engine = HiggsEngine.build(ckpt, dtype, maxSeq, ffn)) {
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
            HiggsAudioConfig c = engine.config();
            double bandwidth = Cuda.copyBandwidth(2L << 30, 20);
            double floorMs = DecodeFloor.weightsRead(weightBytes, c, dtype, engine.ffnMode() == FfnMode.PLUGIN) / bandwidth * 1e3;
            System.out.printf("copy bandwidth of this GPU, measured now: %.2f TB/s (bytes read + written)%n", bandwidth / 1e12);
            System.out.printf("engine %s, dual FFN %s, weights %.2f GB, plan %.2f GB, build %.1f s%n", dtype.torchName(),
                    engine.ffnMode().id(), weightBytes / 1e9, engine.planBytes() / 1e9, buildS);
            System.out.printf("prefill %d positions: %.1f ms median of 5 -> %.0f positions/s%n", prefill, prefillMs[2],
                    prefill / (prefillMs[2] / 1e3));
            System.out.printf("decode: %.2f ms/step median of %d (bandwidth floor %.2f ms/step, %.2fx)%n", stepMs[steps / 2], steps,
                    floorMs, stepMs[steps / 2] / floorMs);
        }
    }
}
