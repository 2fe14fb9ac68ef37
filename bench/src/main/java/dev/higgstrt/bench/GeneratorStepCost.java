package dev.higgstrt.bench;

import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.generation.FrameSampler;
import dev.higgstrt.generation.Sampling;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.SpeechTokens;
import dev.higgstrt.reference.ReferenceModel;
import dev.higgstrt.synth.Presets;
import dev.higgstrt.synth.SyntheticCheckpoint;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;

/**
 * The generator's own cost per decode step (delay masks and choosing 8 codes from 8 x 1026
 * logits) beside a decode step of the CPU reference on the {@code small} preset, in the same run:
 * medians over batches of steps after warm-up. {@code java ... GeneratorStepCost [steps]}
 */
public final class GeneratorStepCost {
    private GeneratorStepCost() {
    }

    /** Median microseconds a step over batches, cycling through {@code mask + 1} logit buffers. */
    private static double perStep(SpeechTokens ids, Sampling mode, float[][] logits, int mask, int steps) {
        double[] batches = new double[25];
        for (int b = -5; b < batches.length; b++) {
            FrameSampler s = new FrameSampler(ids, mode, new int[]{1, 2, 128013}, List.of());
            long t0 = System.nanoTime();
            int n = steps / batches.length;
            for (int i = 0; i < n; i++) {
                s.next(logits[i & mask]);
            }
            if (b >= 0) {
                batches[b] = (System.nanoTime() - t0) / 1e3 / n;
            }
        }
        Arrays.sort(batches);
        return batches[batches.length / 2];
    }

    public static void main(String[] args) {
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 20000;
        SpeechTokens ids = new SpeechTokens(128016, 128014, 128013, 128009, 1024, 1025, 8, 1026);
        Random r = new Random(1);
        float[][] logits = new float[64][8 * 1026];
        for (float[] l : logits) {
            for (int i = 0; i < l.length; i++) {
                l[i] = (float) (r.nextGaussian() * 3);
            }
            for (int k = 0; k < 8; k++) {
                l[k * 1026 + 1025] = -50;   // no EOS: the stream stays open, every step costs the same
            }
        }
        System.out.printf("generator cost per step, 8 codebooks x 1026, %d cores%n", Runtime.getRuntime().availableProcessors());
        System.out.println("| sampling | us per step, fresh logits (4 buffers in turn) | us per step, cold logits (64 buffers, 2 MB, in turn) |");
        System.out.println("|---|---|---|");
        Sampling[] modes = {Sampling.GREEDY, new Sampling(false, 1.0, 50, 1.0, Optional.empty(), 1), Sampling.sample(1),
                new Sampling(false, 0.8, 50, 0.95, Optional.of(Sampling.Ras.standard()), 1),
                new Sampling(false, 1.0, 0, 0.95, Optional.of(Sampling.Ras.standard()), 1)};
        String[] names = {"greedy", "top-k 50", "the defaults: top-k 50, RAS 7/2", "temperature 0.8, top-k 50, top-p 0.95, RAS 7/2", "top-p 0.95 over all 1026, RAS 7/2"};
        for (int m = 0; m < modes.length; m++) {
            System.out.printf("| %s | %.1f | %.1f |%n", names[m], perStep(ids, modes[m], logits, 3, steps),
                    perStep(ids, modes[m], logits, 63, steps));
        }
        HiggsAudioConfig c = Presets.small();
        ReferenceModel model = ReferenceModel.of(c, SyntheticCheckpoint.weights(SyntheticCheckpoint.Spec.of(c)));
        double[] step = new double[15];
        try (var session = model.newSession()) {
            session.forwardLast(TokenInput.text(1, 2, 3, 4, 5, 6, 7, 8));
            int[] frame = new int[c.numCodebooks()];
            for (int i = -5; i < step.length; i++) {
                long t0 = System.nanoTime();
                session.forwardLast(TokenInput.audio(frame));
                if (i >= 0) {
                    step[i] = (System.nanoTime() - t0) / 1e6;
                }
            }
        }
        Arrays.sort(step);
        System.out.printf("beside it: a decode step of the CPU reference, small preset (8 layers, hidden 512): %.2f ms (median of %d)%n",
                step[step.length / 2], step.length);
    }
}
