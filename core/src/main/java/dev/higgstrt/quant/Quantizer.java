package dev.higgstrt.quant;

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
import java.util.List;
import java.util.regex.Pattern;

/**
 * Quantizes the linear weights of converted ranks (qkv, dense, the text and audio MLPs, the LM
 * heads) into TensorRT-LLM's names, lazily: scales and quantized rows are computed when the
 * writer reads them, a block of rows at a time. Each rank's tensor gets its own scales (per
 * output channel, per group, or per tensor); dequantized, every rank's weight is within its
 * format's rounding of the original, whichever tp split produced it.
 *
 * <ul>
 * <li>{@code int8_wo}, {@code int4_wo}: {@code X.weight} I8 [out, in] (INT4: [out, in/2], two values
 *     a byte, low nibble first), {@code X.per_channel_scale} F32 [out]; w ~ q * scale.</li>
 * <li>{@code int4_group}: {@code X.weight} as INT4, {@code X.weights_scaling_factor} F32
 *     [out, in/group].</li>
 * <li>{@code fp8}: {@code X.weight} F8_E4M3 [out, in], {@code X.weights_scaling_factor} F32 [1]; with a
 *     calibration, each decoder linear also gets {@code X.activation_scaling_factor} F32 [1].</li>
 * </ul>
 */
public final class Quantizer {
    /** The converted weights that are quantized (unless excluded). */
    static final Pattern LINEAR = Pattern.compile(
            "(attention\\.qkv|attention\\.dense|mlp\\.gate_up_proj|mlp\\.down_proj|audio_mlp\\.(gate|up|down)_proj)\\.weight$"
                    + "|^(text_)?lm_head\\.weight$");

    /** A decoder layer's linear weight: group 1 the local layer index, group 2 the module. */
    static final Pattern LAYER_LINEAR = Pattern.compile(
            "^transformer\\.layers\\.(\\d+)\\.(attention\\.qkv|attention\\.dense|mlp\\.gate_up_proj|mlp\\.down_proj"
                    + "|audio_mlp\\.gate_proj|audio_mlp\\.up_proj|audio_mlp\\.down_proj)\\.weight$");

    private static final int BLOCK_ROWS = 32;

    /** The suffix of a linear's static activation scale (FP8 with calibration). */
    public static final String ACTIVATION_SCALE = ".activation_scaling_factor";

    /** The reference's site whose input a layer linear ({@link #LAYER_LINEAR}'s module) reads. */
    static LinearSite site(String module) {
        return switch (module) {
            case "attention.qkv" -> LinearSite.QKV;
            case "attention.dense" -> LinearSite.DENSE;
            case "mlp.gate_up_proj" -> LinearSite.GATE_UP;
            case "mlp.down_proj" -> LinearSite.DOWN;
            case "audio_mlp.gate_proj", "audio_mlp.up_proj" -> LinearSite.AUDIO_GATE_UP;
            case "audio_mlp.down_proj" -> LinearSite.AUDIO_DOWN;
            default -> throw new IllegalArgumentException(module);
        };
    }

    private Quantizer() {
    }

    /**
     * One tensor a quantized weight is written as.
     *
     * @param name  the name
     * @param dtype the element type
     * @param shape the shape
     */
    public record Planned(String name, DType dtype, Shape shape) {
    }

    /**
     * Whether {@code name} is quantized under {@code o}.
     *
     * @param name the name
     * @param o    the o
     * @return whether {@code name} is quantized under {@code o}
     */
    public static boolean quantizes(String name, QuantOptions o) {
        return o.format() != QuantFormat.NONE && LINEAR.matcher(name).find()
                && !(o.format().isSmoothQuant() && name.contains("lm_head"))
                && o.exclude().stream().noneMatch(p -> p.matcher(name).find());
    }

    /**
     * The tensors a float weight {@code name} of {@code shape} becomes (itself when not quantized).
     *
     * @param name  the name
     * @param dtype the element type
     * @param shape the shape
     * @param o     the o
     * @return the tensors a float weight {@code name} of {@code shape} becomes (itself when not quantized)
     */
    public static List<Planned> plan(String name, DType dtype, Shape shape, QuantOptions o) {
        if (o.format().isSmoothQuant()) {
            throw new IllegalArgumentException("SmoothQuant ranks are planned by SmoothQuant.rank");
        }
        if (!quantizes(name, o)) {
            return List.of(new Planned(name, dtype, shape));
        }
        checkShape(name, shape, o);
        String base = base(name);
        long out = shape.dim(0);
        long in = shape.dim(1);
        return switch (o.format()) {
            case INT8_WO -> List.of(new Planned(name, DType.I8, shape), new Planned(base + ".per_channel_scale", DType.F32, Shape.of(out)));
            case INT4_WO -> List.of(new Planned(name, DType.I8, Shape.of(out, in / 2)),
                    new Planned(base + ".per_channel_scale", DType.F32, Shape.of(out)));
            case INT4_GROUP -> List.of(new Planned(name, DType.I8, Shape.of(out, in / 2)),
                    new Planned(base + ".weights_scaling_factor", DType.F32, Shape.of(out, in / o.groupSize())));
            case FP8 -> o.activations().isPresent() && LAYER_LINEAR.matcher(name).matches()
                    ? List.of(new Planned(name, DType.F8_E4M3, shape),
                    new Planned(base + ".weights_scaling_factor", DType.F32, Shape.of(1)),
                    new Planned(base + ACTIVATION_SCALE, DType.F32, Shape.of(1)))
                    : List.of(new Planned(name, DType.F8_E4M3, shape),
                    new Planned(base + ".weights_scaling_factor", DType.F32, Shape.of(1)));
            default -> throw new IllegalStateException(o.format().id());
        };
    }

    private static void checkShape(String name, Shape shape, QuantOptions o) {
        if (shape.rank() != 2) {
            throw new IllegalArgumentException(name + ": only 2-D weights are quantized, got " + shape);
        }
        long in = shape.dim(1);
        boolean int4 = o.format() == QuantFormat.INT4_WO || o.format() == QuantFormat.INT4_GROUP;
        if (int4 && in % 2 != 0) {
            throw new IllegalArgumentException(name + ": INT4 packs two inputs a byte, but the input width " + in + " is odd");
        }
        if (o.format() == QuantFormat.INT4_GROUP && in % o.groupSize() != 0) {
            throw new IllegalArgumentException(name + ": input width " + in + " is not a multiple of the group size "
                    + o.groupSize() + " (choose another --quant-group, int4_wo, or exclude it)");
        }
    }

    private static String base(String name) {
        return name.substring(0, name.length() - ".weight".length());
    }

    /**
     * {@code rank} (of a single pipeline stage) with its quantized weights replaced by their
     * quantized tensors.
     *
     * @param rank the rank
     * @param o    the o
     * @return the rank with its quantized weights
     */
    public static WeightMap apply(WeightMap rank, QuantOptions o) {
        return apply(rank, o, null);
    }

    /**
     * {@code rank} with its quantized weights replaced by their quantized tensors;
     * {@code layers[i]} is the model layer of the rank's local layer {@code i} (null: the same).
     * FP8 with {@link QuantOptions#activations()} adds each decoder linear's static activation
     * scale, {@code X.activation_scaling_factor} F32 [1] = clipped {@code max|x| / 448} of its
     * input (the LM heads get none).
     *
     * @param rank   the rank
     * @param o      the o
     * @param layers the layers
     * @return the rank with its quantized weights
     */
    public static WeightMap apply(WeightMap rank, QuantOptions o, int[] layers) {
        if (o.format() == QuantFormat.NONE) {
            return rank;
        }
        if (o.format().isSmoothQuant()) {
            throw new IllegalArgumentException("SmoothQuant ranks are made by SmoothQuant.rank");
        }
        WeightMap.Builder b = WeightMap.builder();
        for (Weight w : rank) {
            if (!quantizes(w.name(), o)) {
                b.put(w);
                continue;
            }
            checkShape(w.name(), w.tensor().shape(), o);
            Scales scales = new Scales(w.name(), w.tensor(), o);
            Provenance p = Provenance.derived(o.format().id(), List.of(w.provenance()));
            List<Planned> planned = plan(w.name(), w.tensor().dtype(), w.tensor().shape(), o);
            b.put(w.name(), new QuantizedRows(w.tensor(), scales, planned.get(0).dtype(), planned.get(0).shape()), p);
            b.put(planned.get(1).name(), new Computed(planned.get(1).shape(), scales::values), p);
            if (planned.size() == 3) {
                java.util.regex.Matcher m = LAYER_LINEAR.matcher(w.name());
                if (!m.matches()) {
                    throw new IllegalStateException(w.name());
                }
                int local = Integer.parseInt(m.group(1));
                int layer = layers == null ? local : layers[local];
                LinearSite site = site(m.group(2));
                Calibration calibration = o.activations().orElseThrow();
                b.put(planned.get(2).name(), new Computed(Shape.of(1),
                        () -> new float[]{calibration.inputMax(layer, site) / Fp8E4M3.MAX}), p);
            }
        }
        return b.build();
    }

    /**
     * {@code rank} of a converted checkpoint quantized as {@code format}, with every quantized
     * weight turned back into a float weight of {@code dtype} (the scales dropped).
     *
     * @param rank   the rank
     * @param format the format
     * @param dtype  the element type
     * @return the rank as float weights of {@code dtype}
     */
    public static WeightMap dequantize(WeightMap rank, QuantFormat format, DType dtype) {
        if (format == QuantFormat.NONE) {
            return rank;
        }
        String scaleSuffix = scaleSuffix(format);
        WeightMap.Builder b = WeightMap.builder();
        for (Weight w : rank) {
            String name = w.name();
            if (name.endsWith(ACTIVATION_SCALE)) {
                continue;   // the engine's activation rounding; the weights do not need it
            }
            if (name.endsWith(scaleSuffix)
                    && rank.contains(name.substring(0, name.length() - scaleSuffix.length()) + ".weight")) {
                continue;   // a scale, folded into its weight below
            }
            String scale = name.endsWith(".weight") ? base(name) + scaleSuffix : null;
            if (scale != null && rank.contains(scale)) {
                b.put(name, new DequantizedRows(name, format, w.tensor(), rank.tensor(scale)).cast(dtype),
                        Provenance.derived("dequantize " + format.id(), List.of(w.provenance())));
            } else {
                b.put(w);
            }
        }
        return b.build();
    }

    /**
     * The static activation scales of one rank file (FP8 with calibration), keyed
     * {@code "layer.site"} by model layer ({@code layers[i]} for local layer {@code i}).
     *
     * @throws IllegalArgumentException naming {@code file} and the tensor when a scale is not one
     *                                  positive, finite F32 value
     * @param file   the file
     * @param rank   the rank
     * @param layers the layers
     * @return the static activation scales of one rank file (FP8 with calibration), keyed {@code "layer.site"} by model layer ({@code layers[i]} for local layer {@code i})
     */
    public static java.util.Map<String, Float> activationScales(java.nio.file.Path file, WeightMap rank, int[] layers) {
        java.util.Map<String, Float> scales = new java.util.TreeMap<>();
        try (Arena arena = Arena.ofConfined()) {
            for (Weight w : rank) {
                if (!w.name().endsWith(ACTIVATION_SCALE)) {
                    continue;
                }
                java.util.regex.Matcher m = LAYER_LINEAR.matcher(
                        w.name().substring(0, w.name().length() - ACTIVATION_SCALE.length()) + ".weight");
                TensorSource t = w.tensor();
                float v = t.dtype() == DType.F32 && t.shape().elementCount() == 1
                        ? t.materialize(arena).toFloatArray()[0] : Float.NaN;
                if (!m.matches() || !(v > 0 && Float.isFinite(v))) {
                    throw new IllegalArgumentException(file + ": '" + w.name() + "' must be one positive, finite F32 value "
                            + "of a decoder linear, got " + t.dtype().safetensorsName() + " " + t.shape()
                            + (Float.isNaN(v) ? "" : " = " + v));
                }
                int local = Integer.parseInt(m.group(1));
                scales.put(SmoothQuant.key(layers[local], site(m.group(2))), v);
            }
        }
        return scales;
    }

    /**
     * FP8 activation rounding with static scales: each decoder linear's input divided by its scale,
     * rounded to E4M3 (saturating at +-448, as the engine's quantize does) and multiplied back.
     *
     * @param scales {@link LinearSite#key} to the static scale of that linear's input
     * @return the hook ({@link LinearInputs#NONE} when there are no scales)
     */
    public static LinearInputs fp8Rounding(java.util.Map<String, Float> scales) {
        if (scales.isEmpty()) {
            return LinearInputs.NONE;
        }
        java.util.Map<String, Float> copy = java.util.Map.copyOf(scales);
        return (layer, site, x, rows, width) -> {
            Float scale = copy.get(site.key(layer));
            if (scale == null) {
                return;
            }
            for (int i = 0; i < rows * width; i++) {
                x[i] = Fp8E4M3.decode(Fp8E4M3.encode(x[i] / scale)) * scale;
            }
        };
    }

    /**
     * The suffix of a weight-only format's scale tensor: {@code .per_channel_scale} or {@code .weights_scaling_factor}.
     *
     * @param format the format
     * @return the suffix of a weight-only format's scale tensor: {@code .per_channel_scale} or {@code .weights_scaling_factor}
     */
    public static String scaleSuffix(QuantFormat format) {
        return format == QuantFormat.INT8_WO || format == QuantFormat.INT4_WO ? ".per_channel_scale" : ".weights_scaling_factor";
    }

    /** Quantizes one value with scale {@code s}: INT codes are rounded half to even and clamped. */
    static int quantizeInt(float w, float s, int max) {
        if (s == 0) {
            return 0;
        }
        return (int) Math.max(-max, Math.min(max, Math.rint(w / s)));
    }

    /** Packs INT4 values two a byte, low nibble first. */
    static void pack4(int[] q, int n, MemorySegment dst, long offset) {
        for (int i = 0; i < n; i += 2) {
            dst.set(ValueLayout.JAVA_BYTE, offset + i / 2, (byte) ((q[i] & 0xF) | (q[i + 1] << 4)));
        }
    }

    /** The INT4 value at {@code index} of a packed row. */
    static int unpack4(MemorySegment row, long index) {
        byte b = row.get(ValueLayout.JAVA_BYTE, index / 2);
        return (index & 1) == 0 ? (b << 28) >> 28 : b >> 4;
    }

    /** The scales of one weight, computed once on first use (rows are read in blocks). */
    static final class Scales {
        private final String name;
        private final TensorSource weight;
        private final QuantOptions o;
        private volatile float[] values;

        Scales(String name, TensorSource weight, QuantOptions o) {
            this.name = name;
            this.weight = weight;
            this.o = o;
        }

        /** Scales per row ([out]), per row and group ([out * groups]), or one ([1]). */
        float[] values() {
            float[] v = values;
            if (v == null) {
                synchronized (this) {
                    if (values == null) {
                        values = compute();
                    }
                    v = values;
                }
            }
            return v;
        }

        int perRow() {
            return o.format() == QuantFormat.INT4_GROUP ? (int) (weight.shape().dim(1) / o.groupSize())
                    : o.format() == QuantFormat.FP8 ? 0 : 1;
        }

        private float[] compute() {
            long rows = weight.shape().dim(0);
            int in = (int) weight.shape().dim(1);
            int groups = perRow();
            int group = groups == 0 ? in : in / groups;
            float[] max = new float[groups == 0 ? 1 : (int) rows * groups];
            TensorSource f = weight.cast(DType.F32);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment block = arena.allocate((long) BLOCK_ROWS * in * 4);
                for (long r0 = 0; r0 < rows; r0 += BLOCK_ROWS) {
                    int n = (int) Math.min(BLOCK_ROWS, rows - r0);
                    f.readRows(r0, n, block);
                    for (int r = 0; r < n; r++) {
                        for (int j = 0; j < in; j++) {
                            float a = Math.abs(block.getAtIndex(ValueLayout.JAVA_FLOAT, (long) r * in + j));
                            if (!Float.isFinite(a)) {
                                throw new IllegalArgumentException(name + ": non-finite value at row " + (r0 + r)
                                        + ", column " + j + "; cannot quantize");
                            }
                            int k = groups == 0 ? 0 : (int) (r0 + r) * groups + j / group;
                            max[k] = Math.max(max[k], a);
                        }
                    }
                }
            }
            for (int k = 0; k < max.length; k++) {
                max[k] /= o.format().maxCode();
            }
            return max;
        }
    }

    /** A small F32 tensor whose values are computed when first read (scales, smoothing factors). */
    record Computed(Shape shape, java.util.function.Supplier<float[]> values) implements TensorSource {
        @Override
        public DType dtype() {
            return DType.F32;
        }

        @Override
        public void readRows(long firstRow, long rowCount, MemorySegment dst) {
            float[] v = values.get();
            if (v.length != shape.elementCount()) {
                throw new IllegalStateException("computed tensor of " + shape + " got " + v.length + " values");
            }
            long per = rowElements();
            MemorySegment.copy(v, (int) (firstRow * per), dst, ValueLayout.JAVA_FLOAT, 0, (int) (rowCount * per));
        }
    }

    /** The quantized rows of a weight. */
    record QuantizedRows(TensorSource weight, Scales scales, DType dtype, Shape shape) implements TensorSource {
        @Override
        public void readRows(long firstRow, long rowCount, MemorySegment dst) {
            float[] s = scales.values();
            int in = (int) weight.shape().dim(1);
            int groups = scales.perRow();
            int group = groups == 0 ? in : in / groups;
            QuantFormat format = scales.o.format();
            TensorSource f = weight.cast(DType.F32);
            int[] q = new int[in];
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment block = arena.allocate((long) BLOCK_ROWS * in * 4);
                for (long done = 0; done < rowCount; done += BLOCK_ROWS) {
                    int n = (int) Math.min(BLOCK_ROWS, rowCount - done);
                    f.readRows(firstRow + done, n, block);
                    for (int r = 0; r < n; r++) {
                        long row = firstRow + done + r;
                        long outOffset = (done + r) * rowBytes();
                        for (int j = 0; j < in; j++) {
                            float w = block.getAtIndex(ValueLayout.JAVA_FLOAT, (long) r * in + j);
                            float scale = groups == 0 ? s[0] : s[(int) row * groups + j / group];
                            switch (format) {
                                case FP8 -> dst.set(ValueLayout.JAVA_BYTE, outOffset + j,
                                        Fp8E4M3.encode(scale == 0 ? 0 : w / scale));
                                case INT8_WO -> dst.set(ValueLayout.JAVA_BYTE, outOffset + j, (byte) quantizeInt(w, scale, 127));
                                default -> q[j] = quantizeInt(w, scale, 7);
                            }
                        }
                        if (format == QuantFormat.INT4_WO || format == QuantFormat.INT4_GROUP) {
                            pack4(q, in, dst, outOffset);
                        }
                    }
                }
            }
        }
    }

    /** A quantized weight and its scales read back as F32 [out, in]. */
    record DequantizedRows(String name, QuantFormat format, TensorSource quantized, TensorSource scale) implements TensorSource {
        DequantizedRows {
            boolean packed = format == QuantFormat.INT4_WO || format == QuantFormat.INT4_GROUP;
            DType expected = format == QuantFormat.FP8 ? DType.F8_E4M3 : DType.I8;
            if (quantized.dtype() != expected || quantized.shape().rank() != 2) {
                throw new IllegalArgumentException(name + ": expected a 2-D " + expected.safetensorsName() + " weight for "
                        + format.id() + ", got " + quantized.dtype().safetensorsName() + " " + quantized.shape());
            }
            long out = quantized.shape().dim(0);
            long in = quantized.shape().dim(1) * (packed ? 2 : 1);
            long expectedScales = format == QuantFormat.FP8 ? 1 : format == QuantFormat.INT4_GROUP ? -1 : out;
            long scales = scale.shape().elementCount();
            boolean ok = expectedScales == -1 ? scale.shape().rank() == 2 && scale.shape().dim(0) == out
                    && scale.shape().dim(1) > 0 && in % scale.shape().dim(1) == 0 : scales == expectedScales;
            if (!ok || scale.dtype() != DType.F32) {
                throw new IllegalArgumentException(name + ": scales " + scale.dtype().safetensorsName() + " " + scale.shape()
                        + " do not fit a " + format.id() + " weight of " + out + " x " + in);
            }
        }

        @Override
        public DType dtype() {
            return DType.F32;
        }

        @Override
        public Shape shape() {
            boolean packed = format == QuantFormat.INT4_WO || format == QuantFormat.INT4_GROUP;
            return Shape.of(quantized.shape().dim(0), quantized.shape().dim(1) * (packed ? 2 : 1));
        }

        @Override
        public void readRows(long firstRow, long rowCount, MemorySegment dst) {
            int in = (int) shape().dim(1);
            long groups = format == QuantFormat.INT4_GROUP ? scale.shape().dim(1) : 1;
            int group = (int) (in / groups);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment q = arena.allocate(quantized.rowBytes() * rowCount);
                quantized.readRows(firstRow, rowCount, q);
                MemorySegment s = arena.allocate(scale.byteSize());
                scale.readRows(0, scale.rowCount(), s);
                for (long r = 0; r < rowCount; r++) {
                    long row = firstRow + r;
                    MemorySegment qr = q.asSlice(r * quantized.rowBytes(), quantized.rowBytes());
                    for (int j = 0; j < in; j++) {
                        float value = switch (format) {
                            case FP8 -> Fp8E4M3.decode(qr.get(ValueLayout.JAVA_BYTE, j)) * s.getAtIndex(ValueLayout.JAVA_FLOAT, 0);
                            case INT8_WO -> qr.get(ValueLayout.JAVA_BYTE, j) * s.getAtIndex(ValueLayout.JAVA_FLOAT, row);
                            case INT4_WO -> unpack4(qr, j) * s.getAtIndex(ValueLayout.JAVA_FLOAT, row);
                            case INT4_GROUP -> unpack4(qr, j) * s.getAtIndex(ValueLayout.JAVA_FLOAT, row * groups + j / group);
                            default -> throw new IllegalStateException(format.id());
                        };
                        dst.setAtIndex(ValueLayout.JAVA_FLOAT, r * in + j, value);
                    }
                }
            }
        }
    }
}
