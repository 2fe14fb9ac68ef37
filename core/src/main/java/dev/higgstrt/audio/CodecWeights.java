package dev.higgstrt.audio;

import dev.higgstrt.model.ConfigException;
import dev.higgstrt.safetensors.SafetensorsCheckpoint;
import dev.higgstrt.safetensors.SafetensorsReader;
import dev.higgstrt.tensor.Conversions;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The weights the codec's decode needs, as floats: per quantizer its codebook and output
 * projection, {@code fc2}, and the DAC decoder. Read from safetensors under transformers' names
 * or Boson's original ones ({@code decoder_2.model.N...}, {@code quantizer.vq.layers...}), with
 * weight norm folded where a convolution is stored as a {@code weight_g} / {@code weight_v} pair
 * (or as transformers' {@code parametrizations.weight.original0/1}): {@code g * v / ||v||} over
 * all axes but the first. The encoder and semantic (HuBERT) weights are never read.
 *
 * @param config      the geometry the weights were checked against
 * @param quantizers  per quantizer: its codebook and output projection
 * @param fc2         the projection of the summed quantizer outputs to the acoustic latent
 * @param conv1       the decoder's first convolution (kernel 7)
 * @param blocks      the upsampling blocks
 * @param finalSnake  the Snake before the last convolution
 * @param conv2       the last convolution, to one channel (kernel 7)
 */
public record CodecWeights(CodecConfig config, List<Quantizer> quantizers, Linear fc2, Conv conv1, List<Block> blocks,
                           Snake finalSnake, Conv conv2) {
    /**
     * A codebook ([codes, dim]) and its projection to the hidden width.
     *
     * @param embed      the codebook, row-major [codebookSize, codebookDim]
     * @param projectOut the projection, [hidden, codebookDim]
     */
    public record Quantizer(float[] embed, Linear projectOut) {
    }

    /**
     * y = W x + b.
     *
     * @param weight row-major [out, in]
     * @param bias   [out]
     * @param in     input width
     * @param out    output width
     */
    public record Linear(float[] weight, float[] bias, int in, int out) {
    }

    /**
     * A 1-D convolution's (or transposed convolution's) weights.
     *
     * @param weight [out, in, kernel] for a convolution, [in, out, kernel] for a transposed one
     * @param bias   [out]
     * @param in     input channels
     * @param out    output channels
     * @param kernel kernel width
     */
    public record Conv(float[] weight, float[] bias, int in, int out, int kernel) {
    }

    /**
     * x + sin²(αx) / (α + 1e-9), α per channel.
     *
     * @param alpha [channels]
     */
    public record Snake(float[] alpha) {
    }

    /**
     * Snake, a 7-wide convolution of the given dilation, Snake, a 1-wide convolution, and the
     * input added back.
     *
     * @param snake1   the first Snake
     * @param conv1    the dilated convolution
     * @param snake2   the second Snake
     * @param conv2    the 1-wide convolution
     * @param dilation 1, 3 or 9
     */
    public record ResidualUnit(Snake snake1, Conv conv1, Snake snake2, Conv conv2, int dilation) {
    }

    /**
     * Snake, a transposed convolution upsampling by {@code stride} (kernel 2·stride, padding
     * ceil(stride/2), output padding stride mod 2), then three residual units.
     *
     * @param snake  the Snake before the upsampling
     * @param convT  the transposed convolution
     * @param stride the upsampling ratio
     * @param units  the residual units, dilations 1, 3 and 9
     */
    public record Block(Snake snake, Conv convT, int stride, List<ResidualUnit> units) {
    }

    private static final int[] DILATIONS = {1, 3, 9};
    private static final String[] INNER = {"snake1", "conv1", "snake2", "conv2"};

    /**
     * Reads the decode weights of a codec folder (every {@code .safetensors} in it) or of one
     * safetensors file, checked against {@code config}.
     *
     * @param folderOrFile the codec folder, or one of its safetensors files
     * @param config       the codec's geometry
     * @return the weights
     * @throws IOException     when a file cannot be read
     * @throws ConfigException naming the file and tensor that is missing or of the wrong shape
     */
    public static CodecWeights load(Path folderOrFile, CodecConfig config) throws IOException {
        List<Path> files = Files.isDirectory(folderOrFile) ? SafetensorsCheckpoint.safetensorsFiles(folderOrFile)
                : List.of(folderOrFile);
        if (files.isEmpty()) {
            throw new ConfigException(folderOrFile + ": no .safetensors files in the codec folder");
        }
        List<SafetensorsReader> readers = new ArrayList<>();
        try {
            for (Path f : files) {
                readers.add(SafetensorsReader.open(f));
            }
            return new Loader(folderOrFile, config, readers).load();
        } finally {
            for (SafetensorsReader r : readers) {
                r.close();
            }
        }
    }

    /** A tensor found under a transformers name: a plain one, or a weight-norm pair. */
    private record Found(SafetensorsReader reader, String name, String g, String v) {
    }

    private static final class Loader {
        private final Path source;
        private final CodecConfig config;
        private final Map<String, Found> byName = new HashMap<>();

        Loader(Path source, CodecConfig config, List<SafetensorsReader> readers) {
            this.source = source;
            this.config = config;
            int blocks = config.upsamplingRatios().size();
            for (SafetensorsReader r : readers) {
                for (String raw : r.infos().keySet()) {
                    String name = transformersName(raw, blocks);
                    if (name.endsWith(".weight_v") || name.endsWith(".parametrizations.weight.original1")) {
                        continue;
                    }
                    Found found;
                    if (name.endsWith(".weight_g")) {
                        String base = name.substring(0, name.length() - ".weight_g".length());
                        found = new Found(r, null, raw, raw.substring(0, raw.length() - 1) + "v");
                        name = base + ".weight";
                    } else if (name.endsWith(".parametrizations.weight.original0")) {
                        String base = name.substring(0, name.length() - ".parametrizations.weight.original0".length());
                        found = new Found(r, null, raw, raw.substring(0, raw.length() - 1) + "1");
                        name = base + ".weight";
                    } else {
                        found = new Found(r, raw, null, null);
                    }
                    Found before = byName.put(name, found);
                    if (before != null) {
                        throw new ConfigException(source + ": tensor '" + name + "' is in " + before.reader().file().getFileName()
                                + " and in " + r.file().getFileName());
                    }
                }
            }
        }

        CodecWeights load() {
            int hidden = config.hiddenSize();
            List<Quantizer> quantizers = new ArrayList<>();
            for (int q = 0; q < config.numQuantizers(); q++) {
                String p = "quantizer.quantizers." + q + ".";
                quantizers.add(new Quantizer(floats(p + "codebook.embed", config.codebookSize(), config.codebookDim()),
                        linear(p + "project_out", config.codebookDim(), hidden)));
            }
            Linear fc2 = linear("fc2", hidden, config.acousticHiddenSize());
            Conv conv1 = conv("acoustic_decoder.conv1", config.acousticHiddenSize(), config.decoderHiddenSize(), 7, false);
            List<Block> blocks = new ArrayList<>();
            for (int b = 0; b < config.upsamplingRatios().size(); b++) {
                int stride = config.upsamplingRatios().get(b);
                int in = config.channelsAfter(b - 1);
                int out = config.channelsAfter(b);
                String p = "acoustic_decoder.block." + b + ".";
                List<ResidualUnit> units = new ArrayList<>();
                for (int u = 0; u < 3; u++) {
                    String r = p + "res_unit" + (u + 1) + ".";
                    units.add(new ResidualUnit(snake(r + "snake1", out), conv(r + "conv1", out, out, 7, false),
                            snake(r + "snake2", out), conv(r + "conv2", out, out, 1, false), DILATIONS[u]));
                }
                blocks.add(new Block(snake(p + "snake1", in), conv(p + "conv_t1", in, out, 2 * stride, true), stride, units));
            }
            int last = config.channelsAfter(config.upsamplingRatios().size() - 1);
            return new CodecWeights(config, quantizers, fc2, conv1, blocks, snake("acoustic_decoder.snake1", last),
                    conv("acoustic_decoder.conv2", last, 1, 7, false));
        }

        private Linear linear(String name, int in, int out) {
            return new Linear(floats(name + ".weight", out, in), floats(name + ".bias", out), in, out);
        }

        private Conv conv(String name, int in, int out, int kernel, boolean transposed) {
            float[] w = transposed ? floats(name + ".weight", in, out, kernel) : floats(name + ".weight", out, in, kernel);
            return new Conv(w, floats(name + ".bias", out), in, out, kernel);
        }

        private Snake snake(String name, int channels) {
            return new Snake(floats(name + ".alpha", 1, channels, 1));
        }

        private float[] floats(String name, long... dims) {
            Found f = byName.get(name);
            if (f == null) {
                String hint = name.startsWith("quantizer.quantizers.")
                        ? " (config.json gives " + config.numQuantizers() + " quantizers: check its target_bandwidths)" : "";
                throw new ConfigException(source + ": no tensor '" + name + "' (nor its Boson name): the codec checkpoint is "
                        + "incomplete or of another geometry" + hint);
            }
            if (f.name() != null) {
                return read(f.reader(), f.name(), dims);
            }
            float[] g = read(f.reader(), f.g(), dims[0]);
            float[] v = read(f.reader(), f.v(), dims);
            int rows = (int) dims[0];
            int per = v.length / rows;
            for (int o = 0; o < rows; o++) {
                double norm = 0;
                for (int i = 0; i < per; i++) {
                    double x = v[o * per + i];
                    norm += x * x;
                }
                float scale = (float) (g[o] / Math.sqrt(norm));
                for (int i = 0; i < per; i++) {
                    v[o * per + i] *= scale;
                }
            }
            return v;
        }

        /** A tensor as floats, its shape checked; a weight_g of shape [out, 1, 1] reads as [out]. */
        private float[] read(SafetensorsReader r, String raw, long... dims) {
            Tensor t = r.tensor(raw);
            long count = 1;
            for (long d : dims) {
                count *= d;
            }
            Shape want = Shape.of(dims);
            boolean ok = t.shape().equals(want) || (dims.length == 1 && t.shape().elementCount() == count
                    && t.shape().dim(0) == dims[0]);
            if (!ok) {
                throw new ConfigException(r.file() + ": tensor '" + raw + "' has shape " + Arrays.toString(t.shape().toArray())
                        + ", expected " + Arrays.toString(dims) + " for this config.json");
            }
            if (t.dtype() != DType.F32 && t.dtype() != DType.BF16 && t.dtype() != DType.F16) {
                throw new ConfigException(r.file() + ": tensor '" + raw + "' is " + t.dtype() + ", expected F32, BF16 or F16");
            }
            float[] out = new float[Math.toIntExact(count)];
            Conversions.toFloats(t.data(), t.dtype(), 0, out, 0, out.length);
            return out;
        }
    }

    private static final Pattern BOSON_BLOCK = Pattern.compile("^decoder_2\\.model\\.(\\d+)\\.block\\.([01])\\.(.*)$");
    private static final Pattern BOSON_UNIT = Pattern.compile("^decoder_2\\.model\\.(\\d+)\\.block\\.([234])\\.block\\.([0123])\\.(.*)$");
    private static final Pattern BOSON_TOP = Pattern.compile("^decoder_2\\.model\\.(\\d+)\\.(.*)$");

    /** A tensor's name under transformers' layout (Boson's names mapped as transformers' converter maps them). */
    static String transformersName(String raw, int blocks) {
        Matcher m = BOSON_UNIT.matcher(raw);
        if (m.matches()) {
            return "acoustic_decoder.block." + (Integer.parseInt(m.group(1)) - 1) + ".res_unit" + (Integer.parseInt(m.group(2)) - 1)
                    + "." + INNER[Integer.parseInt(m.group(3))] + "." + m.group(4);
        }
        m = BOSON_BLOCK.matcher(raw);
        if (m.matches()) {
            return "acoustic_decoder.block." + (Integer.parseInt(m.group(1)) - 1) + (m.group(2).equals("0") ? ".snake1." : ".conv_t1.")
                    + m.group(3);
        }
        m = BOSON_TOP.matcher(raw);
        if (m.matches()) {
            int n = Integer.parseInt(m.group(1));
            String head = n == 0 ? "conv1" : n == blocks + 1 ? "snake1" : n == blocks + 2 ? "conv2" : "model." + n;
            return "acoustic_decoder." + head + "." + m.group(2);
        }
        if (raw.startsWith("quantizer.vq.layers.")) {
            return ("quantizer.quantizers." + raw.substring("quantizer.vq.layers.".length())).replace("._codebook.", ".codebook.");
        }
        if (raw.startsWith("fc_post2.")) {
            return "fc2." + raw.substring("fc_post2.".length());
        }
        return raw;
    }
}
