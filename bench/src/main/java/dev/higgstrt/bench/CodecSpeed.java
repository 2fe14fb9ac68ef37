package dev.higgstrt.bench;

import dev.higgstrt.audio.CodecDecoder;
import dev.higgstrt.synth.SyntheticCodec;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.trt.codec.CodecEngine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

/**
 * Codec decode speed as a real-time factor (seconds of audio decoded per second) on the
 * published geometry with random weights: the CPU reference, and with {@code --gpu} the engine
 * in each dtype, for 1 and 10 s of audio; and the decode of a first streaming chunk (5 frames).
 * {@code java ... CodecSpeed WORK [--gpu]}
 */
public final class CodecSpeed {
    private CodecSpeed() {
    }

    static int[][] codes(int frames) {
        Random r = new Random(frames);
        int[][] c = new int[8][frames];
        for (int[] row : c) {
            for (int t = 0; t < frames; t++) {
                row[t] = r.nextInt(1024);
            }
        }
        return c;
    }

    /** Median seconds of {@code runs} decodes after one warm-up. */
    static double seconds(dev.higgstrt.audio.AudioDecoder d, int[][] codes, int runs) {
        d.decode(codes);
        double[] s = new double[runs];
        for (int i = 0; i < runs; i++) {
            long t0 = System.nanoTime();
            d.decode(codes);
            s[i] = (System.nanoTime() - t0) / 1e9;
        }
        Arrays.sort(s);
        return s[runs / 2];
    }

    public static void main(String[] args) throws Exception {
        Path work = Path.of(args[0]);
        boolean gpu = Arrays.asList(args).contains("--gpu");
        Path codec = work.resolve("codec-full");
        if (!Files.exists(codec.resolve("config.json"))) {
            SyntheticCodec.write(codec, SyntheticCodec.full(), 1);
        }
        System.out.printf("codec decode, published geometry (8 x 1024 codes, 960 samples a frame, 21.5 M parameters), %d cores%n",
                Runtime.getRuntime().availableProcessors());
        System.out.println("| decoder | 1 s of audio (25 frames) | 10 s (250 frames) | first chunk (5 frames) |");
        System.out.println("|---|---|---|---|");
        CodecDecoder reference = CodecDecoder.load(codec);
        report("CPU reference, float32", reference, gpu ? 3 : 1);
        if (gpu) {
            for (DType d : new DType[]{DType.F32, DType.F16, DType.BF16}) {
                long t0 = System.nanoTime();
                try (CodecEngine e = CodecEngine.build(codec, d, 256)) {
                    double build = (System.nanoTime() - t0) / 1e9;
                    report("TensorRT engine, " + d.torchName() + " (built in " + String.format("%.0f", build) + " s)", e, 20);
                }
            }
        }
    }

    private static void report(String name, dev.higgstrt.audio.AudioDecoder d, int runs) {
        double one = seconds(d, codes(25), runs);
        double ten = seconds(d, codes(250), Math.max(1, runs / 2));
        double first = seconds(d, codes(5), runs);
        System.out.printf("| %s | %.1fx real time (%.1f ms) | %.1fx (%.1f ms) | %.2f ms |%n", name, 1 / one, one * 1e3, 10 / ten, ten * 1e3,
                first * 1e3);
    }
}
