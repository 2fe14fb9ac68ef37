package dev.higgstrt.synth;

import dev.higgstrt.audio.CodecConfig;
import dev.higgstrt.io.AtomicOutput;
import dev.higgstrt.safetensors.SafetensorsCheckpoint;
import dev.higgstrt.safetensors.SafetensorsWriter;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.Tensor;
import dev.higgstrt.tensor.TensorSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * A random audio tokenizer (codec) checkpoint in transformers' layout: config.json and the
 * weights its decode reads (quantizer codebooks and projections, {@code fc2}, the DAC decoder).
 * Weights are drawn so that activations stay of order one through the decoder; the sound is
 * noise, but every stage of a decode is real.
 */
public final class SyntheticCodec {
    private SyntheticCodec() {
    }

    /**
     * A codec of seconds that fits the {@link Presets#tiny()} model (4 quantizers of 32 codes) with
     * the real frame geometry: 24 kHz, 960 samples a frame, decoder channels 64 down to 2.
     *
     * @return the geometry
     */
    public static CodecConfig tiny() {
        return new CodecConfig(24000, 32, 8, 4, 64, 32, 64, List.of(8, 5, 4, 2, 3));
    }

    /**
     * The published tokenizer's decode geometry: 8 quantizers of 1024 codes (dimension 64),
     * hidden 1024 (acoustic 256 and semantic 768), decoder 1024 channels, upsampling 8·5·4·2·3
     * (960 samples a frame at 24 kHz); about 21.5 M parameters.
     *
     * @return the geometry
     */
    public static CodecConfig full() {
        return new CodecConfig(24000, 1024, 64, 8, 1024, 256, 1024, List.of(8, 5, 4, 2, 3));
    }

    /**
     * A preset by name.
     *
     * @param name {@code tiny} or {@code full}
     * @return the geometry
     * @throws IllegalArgumentException for another name
     */
    public static CodecConfig named(String name) {
        return switch (name) {
            case "tiny" -> tiny();
            case "full" -> full();
            default -> throw new IllegalArgumentException("unknown codec preset '" + name + "' (expected tiny or full)");
        };
    }

    /**
     * Writes a random codec into {@code folder} (created if missing): config.json and
     * model.safetensors, each atomically.
     *
     * @param folder the folder
     * @param config the geometry
     * @param seed   the random seed
     * @return bytes of weights written
     * @throws IOException when the files cannot be written
     */
    public static long write(Path folder, CodecConfig config, long seed) throws IOException {
        Files.createDirectories(folder);
        SplittableRandom random = new SplittableRandom(seed);
        try (Arena arena = Arena.ofConfined()) {
            Map<String, TensorSource> t = new TreeMap<>();
            int hidden = config.hiddenSize();
            for (int q = 0; q < config.numQuantizers(); q++) {
                String p = "quantizer.quantizers." + q + ".";
                t.put(p + "codebook.embed", normal(random, arena, 1.0, config.codebookSize(), config.codebookDim()));
                t.put(p + "project_out.weight", normal(random, arena, 1.0 / Math.sqrt(config.codebookDim() * config.numQuantizers()),
                        hidden, config.codebookDim()));
                t.put(p + "project_out.bias", normal(random, arena, 0.02, hidden));
            }
            t.put("fc2.weight", normal(random, arena, 1.0 / Math.sqrt(hidden), config.acousticHiddenSize(), hidden));
            t.put("fc2.bias", normal(random, arena, 0.02, config.acousticHiddenSize()));
            conv(t, random, arena, "acoustic_decoder.conv1", config.acousticHiddenSize(), config.decoderHiddenSize(), 7, false);
            for (int b = 0; b < config.upsamplingRatios().size(); b++) {
                int in = config.channelsAfter(b - 1);
                int out = config.channelsAfter(b);
                String p = "acoustic_decoder.block." + b + ".";
                t.put(p + "snake1.alpha", alpha(random, arena, in));
                conv(t, random, arena, p + "conv_t1", in, out, 2 * config.upsamplingRatios().get(b), true);
                for (int u = 1; u <= 3; u++) {
                    String r = p + "res_unit" + u + ".";
                    t.put(r + "snake1.alpha", alpha(random, arena, out));
                    conv(t, random, arena, r + "conv1", out, out, 7, false);
                    t.put(r + "snake2.alpha", alpha(random, arena, out));
                    conv(t, random, arena, r + "conv2", out, out, 1, false);
                }
            }
            int last = config.channelsAfter(config.upsamplingRatios().size() - 1);
            t.put("acoustic_decoder.snake1.alpha", alpha(random, arena, last));
            conv(t, random, arena, "acoustic_decoder.conv2", last, 1, 7, false);
            long bytes = SafetensorsWriter.write(folder.resolve(SafetensorsCheckpoint.SINGLE_FILE_NAME), t,
                    Map.of("format", "pt"), n -> { });
            AtomicOutput.writeString(folder.resolve(CodecConfig.FILE_NAME), config.toJson());
            return bytes;
        }
    }

    private static void conv(Map<String, TensorSource> t, SplittableRandom random, Arena arena, String name, int in, int out,
                             int kernel, boolean transposed) {
        double scale = 0.5 / Math.sqrt((double) in * kernel);
        t.put(name + ".weight", transposed ? normal(random, arena, scale, in, out, kernel) : normal(random, arena, scale, out, in, kernel));
        t.put(name + ".bias", normal(random, arena, 0.02, out));
    }

    private static Tensor alpha(SplittableRandom random, Arena arena, int channels) {
        float[] v = new float[channels];
        for (int i = 0; i < channels; i++) {
            v[i] = (float) (0.5 + 1.5 * random.nextDouble());
        }
        return Tensor.fromFloats(DType.F32, Shape.of(1, channels, 1), v, arena);
    }

    private static Tensor normal(SplittableRandom random, Arena arena, double scale, long... dims) {
        Shape shape = Shape.of(dims);
        float[] v = new float[Math.toIntExact(shape.elementCount())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (gaussian(random) * scale);
        }
        return Tensor.fromFloats(DType.F32, shape, v, arena);
    }

    private static double gaussian(SplittableRandom r) {
        double u = Math.max(Double.MIN_NORMAL, r.nextDouble());
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.nextDouble());
    }
}
