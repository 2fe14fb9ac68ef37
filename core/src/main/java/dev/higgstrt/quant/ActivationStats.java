package dev.higgstrt.quant;

import dev.higgstrt.model.LinearInputs;
import dev.higgstrt.model.LinearSite;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.safetensors.SafetensorsCheckpoint;
import dev.higgstrt.safetensors.SafetensorsWriter;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.Tensor;
import dev.higgstrt.tensor.TensorSource;
import dev.higgstrt.weights.Weight;
import org.apache.commons.math3.stat.descriptive.rank.Percentile;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Activation statistics of the linear layers, per layer and {@link LinearSite}: the maximum
 * |x| of each input channel (what SmoothQuant's factors are made of), the maximum |y| of the
 * outputs, and the maximum |x| of each calibration position (for percentile clipping). Collected
 * by the CPU reference over calibration inputs, or read from a safetensors file with tensors
 * {@code layers.L.SITE.input_channel_max} [width], {@code layers.L.SITE.output_max} [1] and,
 * optionally, {@code layers.L.SITE.input_token_max} [positions]. Immutable once built.
 */
public final class ActivationStats {
    private static final Pattern NAME = Pattern.compile("layers\\.(\\d+)\\.([a-z_]+)\\.(input_channel_max|output_max|input_token_max)");

    private final String source;
    private final Map<String, Site> sites;

    private record Site(float[] channelMax, float outputMax, float[] tokenMax) {
    }

    private ActivationStats(String source, Map<String, Site> sites) {
        this.source = source;
        this.sites = Map.copyOf(sites);
    }

    private static String key(int layer, LinearSite site) {
        return "layers." + layer + "." + site.id();
    }

    /**
     * No statistics: every smoothing factor is 1 (for planning names and shapes).
     *
     * @return no statistics: every smoothing factor is 1 (for planning names and shapes)
     */
    public static ActivationStats empty() {
        return new ActivationStats("no statistics", Map.of());
    }

    /** A forward pass whose linear layers' activations pass through a hook (the CPU reference is one). */
    @FunctionalInterface
    public interface HookedForward {
        /**
         * Runs {@code input} as a sequence of its own.
         *
         * @param input the positions
         * @param hook  sees the activations of every linear layer
         */
        void forward(TokenInput input, LinearInputs hook);
    }

    /**
     * Runs {@code model} over each calibration input (each a sequence of its own) and records the
     * activations of every linear layer.
     *
     * @param model       the forward to calibrate with (a {@code ReferenceModel})
     * @param calibration the calibration inputs
     * @return the statistics of every linear layer's input and output
     */
    public static ActivationStats collect(HookedForward model, List<TokenInput> calibration) {
        if (calibration.isEmpty()) {
            throw new IllegalArgumentException("calibration needs at least one token input");
        }
        Collector collector = new Collector();
        for (TokenInput input : calibration) {
            model.forward(input, collector);
        }
        Map<String, Site> sites = new HashMap<>();
        collector.channelMax.forEach((k, v) -> sites.put(k, new Site(v, collector.outputMax.getOrDefault(k, 0f),
                Arrays.copyOf(collector.tokenMax.get(k).values, collector.tokenMax.get(k).size))));
        return new ActivationStats("calibration of " + calibration.size() + " inputs", sites);
    }

    private static final class FloatList {
        float[] values = new float[64];
        int size;

        void add(float v) {
            if (size == values.length) {
                values = Arrays.copyOf(values, size * 2);
            }
            values[size++] = v;
        }
    }

    private static final class Collector implements LinearInputs {
        final Map<String, float[]> channelMax = new HashMap<>();
        final Map<String, Float> outputMax = new HashMap<>();
        final Map<String, FloatList> tokenMax = new HashMap<>();

        @Override
        public void input(int layer, LinearSite site, float[] x, int rows, int width) {
            String k = key(layer, site);
            float[] max = channelMax.computeIfAbsent(k, unused -> new float[width]);
            FloatList tokens = tokenMax.computeIfAbsent(k, unused -> new FloatList());
            for (int r = 0; r < rows; r++) {
                float rowMax = 0;
                for (int j = 0; j < width; j++) {
                    float a = Math.abs(x[r * width + j]);
                    max[j] = Math.max(max[j], a);
                    rowMax = Math.max(rowMax, a);
                }
                tokens.add(rowMax);
            }
        }

        @Override
        public void output(int layer, LinearSite site, float[] y, int rows, int width) {
            float m = outputMax.getOrDefault(key(layer, site), 0f);
            for (int i = 0; i < rows * width; i++) {
                m = Math.max(m, Math.abs(y[i]));
            }
            outputMax.put(key(layer, site), m);
        }
    }

    /**
     * Where these statistics came from (a file, or a calibration), for messages.
     *
     * @return where these statistics came from (a file, or a calibration), for messages
     */
    public String source() {
        return source;
    }

    /**
     * Whether {@code site} of {@code layer} saw any position.
     *
     * @param layer the layer index
     * @param site  the linear layer site
     * @return whether {@code site} of {@code layer} saw any position
     */
    public boolean has(int layer, LinearSite site) {
        return sites.containsKey(key(layer, site));
    }

    /**
     * Maximum |x| per input channel of {@code site}, or empty when no position reached it.
     *
     * @param layer the layer index
     * @param site  the linear layer site
     * @return the per-channel maxima, or empty when no position reached the site
     */
    public Optional<float[]> inputChannelMax(int layer, LinearSite site) {
        Site s = sites.get(key(layer, site));
        return s == null ? Optional.empty() : Optional.of(s.channelMax.clone());
    }

    /**
     * Maximum |y| over the outputs of {@code site} (0 when no position reached it).
     *
     * @param layer the layer index
     * @param site  the linear layer site
     * @return maximum |y| over the outputs of {@code site} (0 when no position reached it)
     */
    public float outputMax(int layer, LinearSite site) {
        Site s = sites.get(key(layer, site));
        return s == null ? 0 : s.outputMax;
    }

    /**
     * The ratio of the {@code percentile}-th percentile of the per-position maxima |x| of
     * {@code site} to their maximum: 1 at 100, or where no per-position maxima were recorded.
     *
     * @param layer      the layer index
     * @param site       the linear layer site
     * @param percentile the clipping percentile
     * @return the ratio of the {@code percentile}-th percentile of the per-position maxima |x| of {@code site} to their maximum: 1 at 100, or where no per-position maxima were recorded
     */
    public double clipRatio(int layer, LinearSite site, double percentile) {
        if (!(percentile > 0 && percentile <= 100)) {
            throw new IllegalArgumentException("percentile must be in (0, 100], got " + percentile);
        }
        Site s = sites.get(key(layer, site));
        if (s == null || s.tokenMax.length == 0 || percentile == 100) {
            return 1;
        }
        double[] values = new double[s.tokenMax.length];
        double max = 0;
        for (int i = 0; i < values.length; i++) {
            values[i] = s.tokenMax[i];
            max = Math.max(max, values[i]);
        }
        return max == 0 ? 1 : new Percentile(percentile).evaluate(values) / max;
    }

    /**
     * Writes the statistics as safetensors (atomically, like every output of this library).
     *
     * @param file the file
     * @throws IOException when a file cannot be read or written
     */
    public void write(Path file) throws IOException {
        Map<String, TensorSource> tensors = new TreeMap<>();
        sites.forEach((k, s) -> {
            tensors.put(k + ".input_channel_max", floats(s.channelMax));
            tensors.put(k + ".output_max", floats(new float[]{s.outputMax}));
            if (s.tokenMax.length > 0) {
                tensors.put(k + ".input_token_max", floats(s.tokenMax));
            }
        });
        SafetensorsWriter.write(file, tensors, Map.of("format", "higgs-trt-activation-stats"), unused -> { });
    }

    private static Tensor floats(float[] v) {
        return Tensor.wrap(DType.F32, Shape.of(v.length), MemorySegment.ofArray(v));
    }

    /**
     * Reads statistics written by {@link #write} or by another tool in the same names.
     *
     * @throws IllegalArgumentException naming the file and tensor when a tensor is unknown,
     *                                  not F32 1-D, negative, not finite, or a site lacks its channel maxima
     * @param file the file
     * @return statistics written by {@link #write} or by another tool in the same names
     * @throws IOException when a file cannot be read or written
     */
    public static ActivationStats read(Path file) throws IOException {
        Map<String, float[]> channel = new HashMap<>();
        Map<String, Float> output = new HashMap<>();
        Map<String, float[]> tokens = new HashMap<>();
        try (SafetensorsCheckpoint ck = SafetensorsCheckpoint.open(file); Arena arena = Arena.ofConfined()) {
            for (Weight w : ck.weights()) {
                Matcher m = NAME.matcher(w.name());
                if (!m.matches() || Arrays.stream(LinearSite.values()).noneMatch(s -> s.id().equals(m.group(2)))) {
                    throw new IllegalArgumentException(file + ": tensor '" + w.name()
                            + "' is not an activation statistic (layers.L.SITE.input_channel_max|output_max|input_token_max)");
                }
                if (w.tensor().dtype() != DType.F32 || w.tensor().shape().rank() != 1) {
                    throw new IllegalArgumentException(file + ": tensor '" + w.name() + "' must be F32 1-D, got "
                            + w.tensor().dtype().safetensorsName() + " " + w.tensor().shape());
                }
                float[] v = w.tensor().materialize(arena).toFloatArray();
                for (float f : v) {
                    if (!(f >= 0 && Float.isFinite(f))) {
                        throw new IllegalArgumentException(file + ": tensor '" + w.name() + "' holds " + f
                                + "; maxima must be finite and not negative");
                    }
                }
                String k = "layers." + m.group(1) + "." + m.group(2);
                switch (m.group(3)) {
                    case "input_channel_max" -> channel.put(k, v);
                    case "output_max" -> output.put(k, v.length == 0 ? 0f : v[0]);
                    default -> tokens.put(k, v);
                }
            }
        }
        Map<String, Site> sites = new HashMap<>();
        for (String k : output.keySet()) {
            if (!channel.containsKey(k)) {
                throw new IllegalArgumentException(file + ": '" + k + ".output_max' has no '" + k + ".input_channel_max'");
            }
        }
        channel.forEach((k, v) -> sites.put(k, new Site(v, output.getOrDefault(k, 0f), tokens.getOrDefault(k, new float[0]))));
        return new ActivationStats(file.toString(), sites);
    }
}
