package dev.higgstrt.bench;

import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.SourceLayout;
import dev.higgstrt.synth.Presets;
import dev.higgstrt.synth.SyntheticCheckpoint;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.trt.engine.FfnBlockEngine;
import dev.higgstrt.trt.engine.FfnBlockEngine.Variant;
import dev.higgstrt.weights.WeightMap;

import java.util.List;

/**
 * Time of one feed-forward block of the full geometry (hidden 3072, intermediate 8192, BF16) on
 * the GPU, in one run: the dual-FFN plugin, both paths computed and selected, and the text MLP over
 * all positions (one FFN's work: the floor), at 0 %, 50 % and 100 % audio positions.
 * {@code FfnPluginPerf [T...]}, default 1 64 512 2048.
 */
public final class FfnPluginPerf {
    private FfnPluginPerf() {
    }

    public static void main(String[] args) {
        int[] sizes = args.length == 0 ? new int[]{1, 64, 512, 2048}
                : java.util.Arrays.stream(args).mapToInt(Integer::parseInt).toArray();
        int max = java.util.Arrays.stream(sizes).max().orElseThrow();
        HiggsAudioConfig f = Presets.full();
        HiggsAudioConfig c = new HiggsAudioConfig(SourceLayout.TRANSFORMERS, 1024, f.hiddenSize(), f.intermediateSize(), 1,
                f.numHeads(), f.numKvHeads(), f.headDim(), f.rmsNormEps(), f.maxPositionEmbeddings(), f.rope(),
                f.numCodebooks(), f.codebookSize(), List.of(1000, 1001), 998, 999, List.of(0), false, f.torchDtype());
        WeightMap w = SyntheticCheckpoint.weights(SyntheticCheckpoint.Spec.of(c).withSeed(1));
        try (FfnBlockEngine plugin = FfnBlockEngine.build(c, w, 0, DType.BF16, max, Variant.PLUGIN, false);
             FfnBlockEngine both = FfnBlockEngine.build(c, w, 0, DType.BF16, max, Variant.COMPUTE_BOTH, false);
             FfnBlockEngine floor = FfnBlockEngine.build(c, w, 0, DType.BF16, max, Variant.TEXT_ONLY, false)) {
            for (FfnBlockEngine e : List.of(plugin, both, floor)) {
                e.randomizeInput(2);
            }
            System.out.println("| T | audio | plugin ms | compute-both ms | single FFN (floor) ms | plugin / floor | compute-both / plugin |");
            System.out.println("|---:|---:|---:|---:|---:|---:|---:|");
            for (int t : sizes) {
                for (int percent : new int[]{0, 50, 100}) {
                    if (t == 1 && percent == 50) {
                        continue;
                    }
                    boolean[] audio = new boolean[t];
                    for (int i = 0; i < t; i++) {
                        audio[i] = percent == 100 || (percent == 50 && i % 2 == 1);
                    }
                    int iterations = t >= 512 ? 30 : 200;
                    double p = best(plugin, audio, iterations);
                    double b = best(both, audio, iterations);
                    double fl = best(floor, audio, iterations);
                    System.out.printf("| %d | %d %% | %.3f | %.3f | %.3f | %.2fx | %.2fx |%n", t, percent, p, b, fl, p / fl, b / p);
                }
            }
        }
    }

    /** The best of three averages: the machine is shared and noisy. */
    private static double best(FfnBlockEngine e, boolean[] audio, int iterations) {
        double best = Double.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
            best = Math.min(best, e.millisPerCall(audio, 5, iterations));
        }
        return best;
    }
}
