package dev.higgstrt.bench;

import dev.higgstrt.reference.ReferenceModel;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.synth.Presets;
import dev.higgstrt.synth.SyntheticCheckpoint;
import dev.higgstrt.model.HiggsAudioConfig;

import java.util.Arrays;
import java.util.Random;

/**
 * Times the CPU reference forward of a synthetic model (default: the {@code small} preset) on
 * mixed text/audio prompts of several lengths, and one decode step after a prompt: median of
 * several runs after warm-up. {@code java ... ReferenceForward [preset] [runs]}
 */
public final class ReferenceForward {
    private ReferenceForward() {
    }

    public static void main(String[] args) {
        String preset = args.length > 0 ? args[0] : "small";
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 7;
        HiggsAudioConfig c = Presets.named(preset);
        ReferenceModel m = ReferenceModel.of(c, SyntheticCheckpoint.weights(SyntheticCheckpoint.Spec.of(c).withSeed(1)));
        System.out.printf("%s preset: %d layers, hidden %d, %d cores%n", preset, c.numLayers(), c.hiddenSize(),
                Runtime.getRuntime().availableProcessors());
        System.out.println("| prompt positions | forward (ms, median) | decode step after it (ms, median) |");
        System.out.println("|---|---|---|");
        for (int t : new int[]{1, 16, 64, 256}) {
            TokenInput prompt = prompt(c, t, new Random(t));
            double[] fwd = new double[runs];
            double[] dec = new double[runs];
            for (int w = 0; w < 2; w++) {
                m.forward(prompt);
            }
            for (int r = 0; r < runs; r++) {
                ReferenceModel.Session s = m.newSession();
                long t0 = System.nanoTime();
                s.forward(prompt);
                long t1 = System.nanoTime();
                s.forward(TokenInput.text(7));
                long t2 = System.nanoTime();
                fwd[r] = (t1 - t0) / 1e6;
                dec[r] = (t2 - t1) / 1e6;
            }
            System.out.printf("| %d | %.1f | %.1f |%n", t, median(fwd), median(dec));
        }
    }

    static TokenInput prompt(HiggsAudioConfig c, int length, Random r) {
        int[] ids = new int[length];
        int audio = 0;
        for (int i = 0; i < length; i++) {
            boolean isAudio = i >= length / 2;
            ids[i] = isAudio ? c.audioTokenIds().getLast() : 3 + r.nextInt(c.vocabSize() - 10);
            audio += isAudio ? 1 : 0;
        }
        int[][] frames = new int[audio][c.numCodebooks()];
        for (int[] f : frames) {
            Arrays.setAll(f, k -> r.nextInt(c.codebookSize()));
        }
        return new TokenInput(ids, frames);
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
