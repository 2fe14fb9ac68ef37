package dev.higgstrt.quant;

import dev.higgstrt.layout.Mapping;
import dev.higgstrt.layout.SourceTensor;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.SourceLayout;
import dev.higgstrt.model.LinearInputs;
import dev.higgstrt.model.LinearSite;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.TensorSource;
import dev.higgstrt.weights.Provenance;
import dev.higgstrt.weights.Weight;
import dev.higgstrt.weights.WeightMap;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.regex.Matcher;

/**
 * SmoothQuant for the dual-FFN decoder: per-channel smoothing factors
 * {@code s_j = max|X_j|^a / max|W_j|^(1-a)} move activation outliers into the weights, then the
 * weights of every decoder linear are rounded to INT8 per output channel (W8A8; activations are
 * quantized by the engine per token or per tensor).
 *
 * <p>Where each site's smoothing goes:
 * <ul>
 * <li>q/k/v serve both paths: one factor from the statistics of all positions, divided out of
 *     both {@code input_layernorm} and {@code audio_input_layernorm};</li>
 * <li>the text MLP's gate/up: from text positions, into {@code post_attention_layernorm};</li>
 * <li>the audio MLP's gate/up: from audio positions, into {@code audio_post_attention_layernorm};</li>
 * <li>{@code dense} and both {@code down_proj}: no norm precedes them, so, as TensorRT-LLM does,
 *     the factor is written as {@code X.smoother} [1, in/tp] for the engine to divide the
 *     activation by, and multiplied into the weight's columns.</li>
 * </ul>
 * Per rank, {@link QuantFormat#SQ} writes TensorRT-LLM's per-channel, per-token names:
 * {@code X.weight} I8 [out, in], {@code X.per_channel_scale} F32 [1, out] (w ~ q * scale), and
 * {@code input_layernorm.scale_to_int} (and the other norms before a quantized linear) = 1.
 * {@link QuantFormat#SQ_PER_TENSOR} adds static activation scales from calibration: the norm's (or
 * {@code attention.}/{@code mlp.quantization_scaling_factor}'s) {@code 127 / max|x|},
 * {@code X.act_scale} [1, 1] = {@code max|y| / 127}, and {@code X.per_channel_scale} =
 * {@code w_scale * max|x| / max|y|}, so that {@code w ~ q * per_channel_scale * act_scale * scale_to_int}.
 */
public final class SmoothQuant {
    private static final float MIN_FACTOR = 1e-5f;

    private SmoothQuant() {
    }

    /**
     * How to smooth.
     *
     * @param alpha      migration strength a in (0, 1]: 0.5 balances activations and weights
     * @param stats      activation statistics of the source model
     * @param percentile per-tensor activation scales clip at this percentile of the per-position
     *                   maxima (100: the maximum)
     */
    public record Settings(double alpha, ActivationStats stats, double percentile) {
        /** Canonical constructor: validates. */
        public Settings {
            if (!(alpha > 0 && alpha <= 1)) {
                throw new IllegalArgumentException("SmoothQuant alpha must be in (0, 1], got " + alpha);
            }
            if (!(percentile > 0 && percentile <= 100)) {
                throw new IllegalArgumentException("calibration percentile must be in (0, 100], got " + percentile);
            }
            java.util.Objects.requireNonNull(stats, "stats");
        }
    }

    /**
     * A smoothed model: canonical weights with the factors folded in, the factors of the sites
     * without a norm, and per site the activation ranges the quantized model sees.
     *
     * @param canonical the weights under canonical names
     * @param smoothers the smoothers
     * @param inputMax  the input max
     * @param outputMax the output max
     */
    public record Smoothed(WeightMap canonical, Map<String, float[]> smoothers, Map<String, Float> inputMax,
                           Map<String, Float> outputMax) {
        /**
         * The factor the activation of {@code site} is divided by at run time (dense and down only).
         *
         * @param layer the layer index
         * @param site  the linear layer site
         * @return the factor the activation of {@code site} is divided by at run time (dense and down only)
         */
        public Optional<float[]> smoother(int layer, LinearSite site) {
            return Optional.ofNullable(smoothers.get(key(layer, site)));
        }
    }

    static String key(int layer, LinearSite site) {
        return site.key(layer);
    }

    /**
     * {@code canonical} (transformers names) smoothed with factors from {@code settings}.
     *
     * @param c         the model config
     * @param canonical the weights under canonical names
     * @param settings  the settings
     * @return the smoothed weights with their factors
     */
    public static Smoothed smooth(HiggsAudioConfig c, WeightMap canonical, Settings settings) {
        Map<String, TensorSource> changed = new HashMap<>();
        Map<String, float[]> smoothers = new HashMap<>();
        Map<String, Float> inputMax = new HashMap<>();
        Map<String, Float> outputMax = new HashMap<>();
        for (int layer = 0; layer < c.numLayers(); layer++) {
            boolean dual = c.isDualFfn(layer);
            smoothSite(c, canonical, settings, layer, LinearSite.QKV, List.of(SourceTensor.Q, SourceTensor.K, SourceTensor.V),
                    dual ? List.of(SourceTensor.INPUT_LN, SourceTensor.AUDIO_INPUT_LN) : List.of(SourceTensor.INPUT_LN),
                    changed, smoothers, inputMax, outputMax);
            smoothSite(c, canonical, settings, layer, LinearSite.DENSE, List.of(SourceTensor.O), List.of(),
                    changed, smoothers, inputMax, outputMax);
            smoothSite(c, canonical, settings, layer, LinearSite.GATE_UP, List.of(SourceTensor.GATE, SourceTensor.UP),
                    List.of(SourceTensor.POST_LN), changed, smoothers, inputMax, outputMax);
            smoothSite(c, canonical, settings, layer, LinearSite.DOWN, List.of(SourceTensor.DOWN), List.of(),
                    changed, smoothers, inputMax, outputMax);
            if (dual) {
                smoothSite(c, canonical, settings, layer, LinearSite.AUDIO_GATE_UP,
                        List.of(SourceTensor.AUDIO_GATE, SourceTensor.AUDIO_UP), List.of(SourceTensor.AUDIO_POST_LN),
                        changed, smoothers, inputMax, outputMax);
                smoothSite(c, canonical, settings, layer, LinearSite.AUDIO_DOWN, List.of(SourceTensor.AUDIO_DOWN), List.of(),
                        changed, smoothers, inputMax, outputMax);
            }
        }
        WeightMap.Builder b = WeightMap.builder();
        for (Weight w : canonical) {
            TensorSource t = changed.get(w.name());
            b.put(t == null ? w : new Weight(w.name(), t,
                    Provenance.derived("smoothquant a=" + settings.alpha(), List.of(w.provenance()))));
        }
        return new Smoothed(b.build(), Map.copyOf(smoothers), Map.copyOf(inputMax), Map.copyOf(outputMax));
    }

    private static void smoothSite(HiggsAudioConfig c, WeightMap canonical, Settings settings, int layer, LinearSite site,
                                   List<SourceTensor> linears, List<SourceTensor> norms, Map<String, TensorSource> changed,
                                   Map<String, float[]> smoothers, Map<String, Float> inputMax, Map<String, Float> outputMax) {
        List<String> names = linears.stream().map(t -> t.name(SourceLayout.TRANSFORMERS, layer)).toList();
        int width = (int) canonical.tensor(names.getFirst()).shape().dim(1);
        float[] s = new float[width];
        java.util.Arrays.fill(s, 1f);
        Optional<float[]> xmax = settings.stats().inputChannelMax(layer, site);
        if (xmax.isPresent()) {
            float[] x = xmax.get();
            if (x.length != width) {
                throw new IllegalArgumentException(settings.stats().source() + ": 'layers." + layer + "." + site.id()
                        + ".input_channel_max' has " + x.length + " channels, the model's " + names.getFirst() + " reads " + width);
            }
            float[] wmax = new float[width];
            for (String n : names) {
                columnMax(n, canonical.tensor(n), wmax);
            }
            double a = settings.alpha();
            float max = 0;
            for (int j = 0; j < width; j++) {
                if (x[j] > 0 && wmax[j] > 0) {
                    s[j] = (float) Math.max(MIN_FACTOR, Math.pow(x[j], a) / Math.pow(wmax[j], 1 - a));
                }
                max = Math.max(max, x[j] / s[j]);
            }
            inputMax.put(key(layer, site), (float) (max * settings.stats().clipRatio(layer, site, settings.percentile())));
            outputMax.put(key(layer, site), settings.stats().outputMax(layer, site));
        }
        float[] inverse = new float[width];
        for (int j = 0; j < width; j++) {
            inverse[j] = 1 / s[j];
        }
        for (String n : names) {
            changed.put(n, new ColumnScaled(canonical.tensor(n), s));
        }
        for (SourceTensor norm : norms) {
            String n = norm.name(SourceLayout.TRANSFORMERS, layer);
            changed.put(n, new ColumnScaled(canonical.tensor(n), inverse));
        }
        if (norms.isEmpty()) {
            smoothers.put(key(layer, site), s);
        }
    }

    private static void columnMax(String name, TensorSource w, float[] max) {
        TensorSource f = w.cast(DType.F32);
        int in = (int) w.shape().dim(1);
        int block = 32;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate((long) block * in * 4);
            for (long r0 = 0; r0 < w.rowCount(); r0 += block) {
                int n = (int) Math.min(block, w.rowCount() - r0);
                f.readRows(r0, n, seg);
                for (int i = 0; i < n * in; i++) {
                    float a = Math.abs(seg.getAtIndex(ValueLayout.JAVA_FLOAT, i));
                    if (!Float.isFinite(a)) {
                        throw new IllegalArgumentException(name + ": non-finite value at row " + (r0 + i / in)
                                + ", column " + (i % in) + "; cannot smooth");
                    }
                    max[i % in] = Math.max(max[i % in], a);
                }
            }
        }
    }

    /** A float view of a tensor with element j of each row (or element j of a vector) times {@code factors[j]}. */
    record ColumnScaled(TensorSource base, float[] factors) implements TensorSource {
        @Override
        public DType dtype() {
            return DType.F32;
        }

        @Override
        public Shape shape() {
            return base.shape();
        }

        @Override
        public void readRows(long firstRow, long rowCount, MemorySegment dst) {
            base.cast(DType.F32).readRows(firstRow, rowCount, dst);
            long n = rowCount * rowElements();
            long offset = shape().rank() == 1 ? firstRow : 0;
            int width = factors.length;
            for (long i = 0; i < n; i++) {
                float v = dst.getAtIndex(ValueLayout.JAVA_FLOAT, i);
                dst.setAtIndex(ValueLayout.JAVA_FLOAT, i, v * factors[(int) ((offset + i) % width)]);
            }
        }
    }


    /** The per-tensor input scale's tensor of a site's module in a layer: a norm's scale_to_int, or the block's. */
    private static List<String> inputScaleNames(String prefix, String module, boolean dual) {
        return switch (module) {
            case "attention.qkv" -> dual ? List.of(prefix + "input_layernorm.scale_to_int", prefix + "audio_input_layernorm.scale_to_int")
                    : List.of(prefix + "input_layernorm.scale_to_int");
            case "attention.dense" -> List.of(prefix + "attention.quantization_scaling_factor");
            case "mlp.gate_up_proj" -> List.of(prefix + "post_layernorm.scale_to_int");
            case "mlp.down_proj" -> List.of(prefix + "mlp.quantization_scaling_factor");
            case "audio_mlp.gate_proj" -> List.of(prefix + "audio_post_attention_layernorm.scale_to_int");
            case "audio_mlp.down_proj" -> List.of(prefix + "audio_mlp.quantization_scaling_factor");
            default -> List.of();   // audio up_proj shares gate_proj's norm scale
        };
    }

    /** The tensor holding a quantized module's static input scale (audio up_proj shares gate_proj's). */
    private static String inputScaleName(String prefix, String module) {
        return inputScaleNames(prefix, module.equals("audio_mlp.up_proj") ? "audio_mlp.gate_proj" : module, false).getFirst();
    }

    private static boolean rowParallel(String module) {
        return module.endsWith("dense") || module.endsWith("down_proj");
    }

    /**
     * One converted rank with the smoothing factors of its dense and down projections added and,
     * for the SmoothQuant formats, its decoder linears quantized. {@code smoothed} null plans the
     * names and shapes only (reading a value then fails).
     *
     * @param rank     the rank
     * @param m        the rank mapping
     * @param c        the model config
     * @param o        the o
     * @param smoothed the smoothed
     * @return one converted rank with the smoothing factors of its dense and down projections added and, for the SmoothQuant formats, its decoder linears quantized
     */
    public static WeightMap rank(WeightMap rank, Mapping m, HiggsAudioConfig c, QuantOptions o, Smoothed smoothed) {
        int[] layers = m.layers(c.numLayers());
        boolean quantize = o.format().isSmoothQuant();
        boolean perTensor = o.format() == QuantFormat.SQ_PER_TENSOR;
        WeightMap.Builder b = WeightMap.builder();
        for (Weight w : rank) {
            Matcher mt = Quantizer.LAYER_LINEAR.matcher(w.name());
            if (!mt.matches()) {
                b.put(w);
                continue;
            }
            int layer = layers[Integer.parseInt(mt.group(1))];
            String module = mt.group(2);
            String prefix = "transformer.layers." + mt.group(1) + ".";
            String base = prefix + module;
            LinearSite site = Quantizer.site(module);
            String k = key(layer, site);
            Provenance p = Provenance.derived("smoothquant", List.of(w.provenance()));
            Shape shape = w.tensor().shape();
            long out = shape.dim(0);
            long in = shape.dim(1);
            if (rowParallel(module)) {
                long start = m.tpRank() * in;
                b.put(base + ".smoother", new Quantizer.Computed(Shape.of(1, in), () -> java.util.Arrays.copyOfRange(
                        need(smoothed).smoothers().get(k), (int) start, (int) (start + in))), p);
            }
            if (!quantize || !Quantizer.quantizes(w.name(), o)) {
                b.put(w);
                continue;
            }
            Quantizer.Scales scales = new Quantizer.Scales(w.name(), w.tensor(), QuantOptions.of(QuantFormat.INT8_WO));
            b.put(w.name(), new Quantizer.QuantizedRows(w.tensor(), scales, DType.I8, shape), p);
            Supplier<Float> xmax = () -> range(need(smoothed).inputMax(), k, layer, site, "input");
            Supplier<Float> ymax = () -> range(need(smoothed).outputMax(), k, layer, site, "output");
            if (perTensor) {
                b.put(base + ".per_channel_scale", new Quantizer.Computed(Shape.of(1, out), () -> {
                    float[] v = scales.values().clone();
                    float ratio = xmax.get() / ymax.get();
                    for (int i = 0; i < v.length; i++) {
                        v[i] *= ratio;
                    }
                    return v;
                }), p);
                b.put(base + ".act_scale", new Quantizer.Computed(Shape.of(1, 1), () -> new float[]{ymax.get() / 127f}), p);
            } else {
                b.put(base + ".per_channel_scale", new Quantizer.Computed(Shape.of(1, out), scales::values), p);
            }
            for (String scaleName : inputScaleNames(prefix, module, c.isDualFfn(layer))) {
                if (perTensor) {
                    b.put(scaleName, new Quantizer.Computed(Shape.of(1), () -> new float[]{127f / xmax.get()}), p);
                } else if (!rowParallel(module)) {
                    b.put(scaleName, new Quantizer.Computed(Shape.of(1), () -> new float[]{1f}), p);
                }
            }
        }
        return b.build();
    }

    private static Smoothed need(Smoothed s) {
        if (s == null) {
            throw new IllegalStateException("a planned SmoothQuant rank has no values");
        }
        return s;
    }

    private static float range(Map<String, Float> ranges, String k, int layer, LinearSite site, String what) {
        Float v = ranges.get(k);
        if (v == null || !(v > 0)) {
            throw Calibration.unreached(layer, site, what, ", or use per-token 'sq'");
        }
        return v;
    }

    /**
     * A converted rank written by {@link #rank} read back as float weights of {@code dtype}: INT8
     * weights times their scales, dense and down projections divided by their smoothing factors,
     * the scale tensors dropped. Gives the float model the engine computes, without activation rounding.
     *
     * @param rank   the rank
     * @param format the format
     * @param dtype  the element type
     * @return a converted rank written by {@link #rank} read back as float weights of {@code dtype}: INT8 weights times their scales, dense and down projections divided by their smoothing factors, the scale tensors dropped
     */
    public static WeightMap restore(WeightMap rank, QuantFormat format, DType dtype) {
        boolean perTensor = format == QuantFormat.SQ_PER_TENSOR;
        WeightMap.Builder b = WeightMap.builder();
        try (Arena arena = Arena.ofConfined()) {
            for (Weight w : rank) {
                String name = w.name();
                if (name.endsWith(".smoother") || name.endsWith(".per_channel_scale") || name.endsWith(".act_scale")
                        || name.endsWith(".scale_to_int") || name.endsWith(".quantization_scaling_factor")) {
                    continue;
                }
                Matcher mt = Quantizer.LAYER_LINEAR.matcher(name);
                if (!mt.matches()) {
                    b.put(w);
                    continue;
                }
                String prefix = "transformer.layers." + mt.group(1) + ".";
                String base = prefix + mt.group(2);
                TensorSource t = w.tensor();
                if (rank.contains(base + ".per_channel_scale")) {
                    float[] scale = values(rank, base + ".per_channel_scale", arena);
                    if (perTensor) {
                        float act = values(rank, base + ".act_scale", arena)[0];
                        float toInt = values(rank, inputScaleName(prefix, mt.group(2)), arena)[0];
                        for (int i = 0; i < scale.length; i++) {
                            scale[i] *= act * toInt;
                        }
                    }
                    t = new Quantizer.DequantizedRows(name, QuantFormat.INT8_WO, t,
                            dev.higgstrt.tensor.Tensor.wrap(DType.F32, Shape.of(scale.length), MemorySegment.ofArray(scale)));
                }
                if (rank.contains(base + ".smoother")) {
                    float[] s = values(rank, base + ".smoother", arena);
                    for (int i = 0; i < s.length; i++) {
                        s[i] = 1 / s[i];
                    }
                    t = new ColumnScaled(t, s);
                }
                b.put(name, t == w.tensor() ? t : t.cast(dtype), Provenance.derived("restore smoothquant", List.of(w.provenance())));
            }
        }
        return b.build();
    }

    private static float[] values(WeightMap rank, String name, Arena arena) {
        if (!rank.contains(name)) {
            throw new IllegalArgumentException("SmoothQuant checkpoint lacks '" + name + "'");
        }
        TensorSource t = rank.tensor(name);
        if (t.dtype() != DType.F32) {
            throw new IllegalArgumentException("'" + name + "' must be F32, got " + t.dtype().safetensorsName());
        }
        return t.materialize(arena).toFloatArray();
    }

    /**
     * Whether a converted rank carries smoothing factors (a SmoothQuant or fold-only conversion).
     *
     * @param rank the rank
     * @return whether a converted rank carries smoothing factors (a SmoothQuant or fold-only conversion)
     */
    public static boolean smoothed(WeightMap rank) {
        return rank.names().stream().anyMatch(n -> n.endsWith(".smoother"));
    }

    /** The stored tensors of one rank file of a conversion. */
    @FunctionalInterface
    public interface RankFiles {
        /**
         * The rank's stored tensors.
         *
         * @param m the rank
         * @return its tensors as written
         * @throws java.io.IOException when the rank file cannot be read
         */
        WeightMap of(Mapping m) throws java.io.IOException;
    }

    /**
     * The activation rounding of a SmoothQuant conversion, as a hook for the reference forward:
     * with the conversion's (rounded) weights, the reference then computes what a W8A8 engine
     * computes, up to accumulation order. {@link LinearInputs#NONE} for any other format.
     *
     * @param c      the model
     * @param format the conversion's quantization
     * @param tp     tensor-parallel size
     * @param pp     pipeline-parallel size
     * @param ranks  the conversion's rank files
     * @return the hook
     * @throws java.io.IOException when a rank file cannot be read
     */
    public static LinearInputs simulation(HiggsAudioConfig c, QuantFormat format, int tp, int pp, RankFiles ranks)
            throws java.io.IOException {
        if (!format.isSmoothQuant()) {
            return LinearInputs.NONE;
        }
        int[] tpPp = {tp, pp};
        Map<String, float[][]> parts = new HashMap<>();
        Map<String, Float> toInt = new HashMap<>();
        java.util.Set<String> quantized = new java.util.HashSet<>();
        for (Mapping m : Mapping.all(tpPp[0], tpPp[1])) {
            int[] layers = m.layers(c.numLayers());
            try (Arena arena = Arena.ofConfined()) {
                WeightMap rank = ranks.of(m);
                for (Weight w : rank) {
                    Matcher mt = Quantizer.LAYER_LINEAR.matcher(w.name());
                    if (!mt.matches()) {
                        continue;
                    }
                    int layer = layers[Integer.parseInt(mt.group(1))];
                    String prefix = "transformer.layers." + mt.group(1) + ".";
                    String module = mt.group(2);
                    String k = key(layer, Quantizer.site(module));
                    String base = prefix + module;
                    if (w.tensor().dtype() == DType.I8) {
                        quantized.add(k);
                        if (format == QuantFormat.SQ_PER_TENSOR) {
                            toInt.put(k, values(rank, inputScaleName(prefix, module), arena)[0]);
                        }
                    }
                    if (rank.contains(base + ".smoother")) {
                        parts.computeIfAbsent(k, unused -> new float[tpPp[0]][])[m.tpRank()] = values(rank, base + ".smoother", arena);
                    }
                }
            }
        }
        Map<String, float[]> smoothers = new HashMap<>();
        parts.forEach((k, p) -> {
            int n = 0;
            for (float[] part : p) {
                n += part.length;
            }
            float[] all = new float[n];
            int at = 0;
            for (float[] part : p) {
                System.arraycopy(part, 0, all, at, part.length);
                at += part.length;
            }
            smoothers.put(k, all);
        });
        return simulation(smoothers, toInt, quantized, format == QuantFormat.SQ);
    }

    /**
     * A hook that rounds the inputs of the quantized linears as the engine does: divided by the
     * smoothing factor where there is one, rounded to INT8 per position ({@code perToken}) or with
     * the static scale, and multiplied back. {@code smoothers} and {@code toInt} are keyed by
     * {@code layer.site}; {@code quantized} lists the keys of quantized sites.
     */
    static LinearInputs simulation(Map<String, float[]> smoothers, Map<String, Float> toInt, java.util.Set<String> quantized,
                                   boolean perToken) {
        return (layer, site, x, rows, width) -> {
            String k = key(layer, site);
            if (!quantized.contains(k)) {
                return;
            }
            float[] s = smoothers.get(k);
            for (int r = 0; r < rows; r++) {
                int o = r * width;
                float max = 0;
                for (int j = 0; j < width; j++) {
                    max = Math.max(max, Math.abs(s == null ? x[o + j] : x[o + j] / s[j]));
                }
                float scale = perToken ? 127f / max : toInt.get(k);
                if (!(scale > 0) || Float.isInfinite(scale)) {
                    continue;
                }
                for (int j = 0; j < width; j++) {
                    float v = s == null ? x[o + j] : x[o + j] / s[j];
                    float q = (float) Math.max(-127, Math.min(127, Math.rint(v * scale))) / scale;
                    x[o + j] = s == null ? q : q * s[j];
                }
            }
        };
    }
}
