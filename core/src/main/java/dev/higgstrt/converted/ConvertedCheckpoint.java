package dev.higgstrt.converted;

import com.fasterxml.jackson.databind.JsonNode;
import dev.higgstrt.io.Json;
import dev.higgstrt.layout.HiggsAudioLayout;
import dev.higgstrt.layout.LayoutException;
import dev.higgstrt.layout.Mapping;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.LinearInputs;
import dev.higgstrt.model.LinearSite;
import dev.higgstrt.model.SourceLayout;
import dev.higgstrt.quant.QuantFormat;
import dev.higgstrt.quant.Quantizer;
import dev.higgstrt.quant.SmoothQuant;
import dev.higgstrt.safetensors.SafetensorsCheckpoint;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.TensorSource;
import dev.higgstrt.weights.WeightMap;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A converted TensorRT-LLM checkpoint folder, read: its {@code config.json} (the model, the
 * mapping, the quantization and dtype), its rank files, the quantized codes with their scales, and
 * on request the weights dequantized and merged back under canonical names. What the engine
 * builder, the CPU reference and the quantization checks read a conversion through;
 * {@code Converter} only writes one.
 *
 * <p>Rank files are opened on first use and stay mapped, so that the weights handed out (lazy
 * views) stay readable, until {@link #close()}. Thread-safe.
 */
public final class ConvertedCheckpoint implements AutoCloseable {
    private final Path folder;
    private final HiggsAudioConfig config;
    private final Stored stored;
    private final Map<Mapping, SafetensorsCheckpoint> opened = new HashMap<>();
    private boolean closed;

    private ConvertedCheckpoint(Path folder, HiggsAudioConfig config, Stored stored) {
        this.folder = folder;
        this.config = config;
        this.stored = stored;
    }

    /**
     * Reads the {@code config.json} of a converted folder; rank files are opened when first needed.
     *
     * @param folder the converted checkpoint folder
     * @return the checkpoint, to be closed
     * @throws IOException     when the folder or its config cannot be read
     * @throws LayoutException when the folder is not a converted checkpoint
     */
    public static ConvertedCheckpoint open(Path folder) throws IOException {
        HiggsAudioConfig c = HiggsAudioConfig.readFolder(folder);
        if (c.layout() != SourceLayout.TRTLLM) {
            throw new LayoutException(folder + " is not a converted checkpoint");
        }
        return new ConvertedCheckpoint(folder, c, stored(folder));
    }

    /**
     * What a converted folder's {@code config.json} says about its rank files.
     *
     * @param tp    tensor-parallel size
     * @param pp    pipeline-parallel size
     * @param quant the quantization ({@code quant_algo})
     * @param dtype the float dtype
     */
    public record Stored(int tp, int pp, QuantFormat quant, DType dtype) {
    }

    /**
     * The weights of a converted folder with the quantized ones kept quantized: for {@code int8_wo}
     * and {@code fp8} checkpoints, each quantized weight stays I8 or F8_E4M3 [out, in] and
     * {@code scales} holds its dequantization scale per row, F32 [out, 1] (w = q * scale). Other
     * checkpoints come back dequantized, with no scales.
     *
     * @param weights          canonical names; quantized weights in their stored type
     * @param scales           canonical weight name to its row scales
     * @param format           the checkpoint's quantization
     * @param activationScales FP8 with calibration: {@link LinearSite#key} to the static scale of
     *                         that linear's input ({@code max|x| / 448}); empty otherwise
     */
    public record Quantized(WeightMap weights, Map<String, TensorSource> scales, QuantFormat format,
                            Map<String, Float> activationScales) {
        /** Canonical constructor: copies. */
        public Quantized {
            scales = Map.copyOf(scales);
            activationScales = Map.copyOf(activationScales);
        }

        /**
         * The static input scale of a linear layer.
         *
         * @param layer the layer index
         * @param site  the linear layer site
         * @return the static input scale of {@code site} in {@code layer}, if the checkpoint has one
         */
        public Optional<Float> activationScale(int layer, LinearSite site) {
            return Optional.ofNullable(activationScales.get(site.key(layer)));
        }
    }

    /**
     * Reads what a converted folder's {@code config.json} says about its rank files, without
     * opening any.
     *
     * @param folder the converted checkpoint folder
     * @return its mapping, quantization and dtype
     * @throws IOException     when the config cannot be read
     * @throws LayoutException for an unknown quantization or dtype
     */
    public static Stored stored(Path folder) throws IOException {
        JsonNode root = Json.readUtf8(Json.CONFIG, Files.readAllBytes(folder.resolve(HiggsAudioConfig.FILE_NAME)));
        var mapping = root.path("mapping");
        try {
            return new Stored(mapping.path("tp_size").asInt(1), mapping.path("pp_size").asInt(1),
                    QuantFormat.ofQuantAlgo(root.path("quantization").path("quant_algo").textValue()),
                    DType.parse(root.path("dtype").asText("float32")));
        } catch (IllegalArgumentException e) {
            throw new LayoutException(folder.resolve(HiggsAudioConfig.FILE_NAME) + ": " + e.getMessage());
        }
    }

    /**
     * The folder.
     *
     * @return the converted checkpoint folder
     */
    public Path folder() {
        return folder;
    }

    /**
     * The model.
     *
     * @return the model config from {@code config.json}
     */
    public HiggsAudioConfig config() {
        return config;
    }

    /**
     * The rank layout and types.
     *
     * @return the mapping, quantization and dtype
     */
    public Stored stored() {
        return stored;
    }

    /**
     * The stored tensors of one rank file, as written (quantized codes, scales, smoothers).
     *
     * @param m the rank
     * @return the rank file's tensors, mapped until {@link #close()}
     * @throws IOException     when the file cannot be read
     * @throws LayoutException when the rank file is missing, naming it
     */
    public synchronized WeightMap rankFile(Mapping m) throws IOException {
        if (closed) {
            throw new IllegalStateException(folder + ": the converted checkpoint is closed");
        }
        SafetensorsCheckpoint ck = opened.get(m);
        if (ck == null) {
            Path f = folder.resolve(m.fileName());
            if (!Files.isRegularFile(f)) {
                throw new LayoutException("missing " + f.getFileName() + " in " + folder + " (tp " + stored.tp() + ", pp "
                        + stored.pp() + ")");
            }
            ck = SafetensorsCheckpoint.open(f);
            opened.put(m, ck);
        }
        return ck.weights();
    }

    /**
     * Every rank, dequantized (SmoothQuant restored) to the checkpoint's dtype and merged back
     * into the whole model under canonical (transformers) names.
     *
     * @return the canonical weights (lazy views over the rank files)
     * @throws IOException when a rank file cannot be read
     */
    public WeightMap weights() throws IOException {
        List<WeightMap> ranks = new ArrayList<>();
        for (Mapping m : Mapping.all(stored.tp(), stored.pp())) {
            ranks.add(dequantized(rankFile(m), stored));
        }
        return HiggsAudioLayout.merge(config, ranks, stored.tp(), stored.pp());
    }

    /**
     * The whole model for an engine that runs quantized weights natively; see {@link Quantized}.
     * Only {@code int8_wo} and {@code fp8} stay quantized, and only at tp 1.
     *
     * @return the weights with their scales
     * @throws IOException when a rank file cannot be read
     */
    public Quantized quantized() throws IOException {
        QuantFormat quant = stored.quant();
        if (!keepsQuantized(quant) || stored.tp() != 1) {
            return new Quantized(weights(), Map.of(), quant, Map.of());
        }
        List<WeightMap> quantized = new ArrayList<>();
        List<WeightMap> rowScales = new ArrayList<>();
        Map<String, Float> activationScales = new TreeMap<>();
        for (Mapping m : Mapping.all(stored.tp(), stored.pp())) {
            RankFile r = readRankFile(m);
            quantized.add(r.weights());
            rowScales.add(r.rowScales());
            activationScales.putAll(r.activationScales());
        }
        WeightMap canonical = HiggsAudioLayout.merge(config, quantized, stored.tp(), stored.pp());
        WeightMap scaleMap = HiggsAudioLayout.merge(config, rowScales, stored.tp(), stored.pp());
        return new Quantized(canonical, quantizedScales(canonical, scaleMap), quant, activationScales);
    }

    /**
     * One rank, for that rank's engine: its weights under canonical names (global layer indices)
     * with its own shapes, fused tensors taken apart ({@code q/k/v} of its heads, {@code gate} and
     * {@code up} of its slice) and split ones as stored (the LM head's rows include the rank's
     * padding). {@code int8_wo} and {@code fp8} weights stay quantized, with their row and
     * activation scales as in {@link #quantized()}; other formats are dequantized (SmoothQuant
     * restored) to the checkpoint's dtype.
     *
     * @param m the rank, of this checkpoint's tp x pp
     * @return the rank's weights
     * @throws IOException     when the rank file cannot be read
     * @throws LayoutException when {@code m} is of another layout
     */
    public Quantized rank(Mapping m) throws IOException {
        if (m.tpSize() != stored.tp() || m.ppSize() != stored.pp()) {
            throw new LayoutException(folder + " is tp " + stored.tp() + " x pp " + stored.pp() + ", not tp "
                    + m.tpSize() + " x pp " + m.ppSize());
        }
        QuantFormat quant = stored.quant();
        if (!keepsQuantized(quant)) {
            return new Quantized(HiggsAudioLayout.unfuse(config, dequantized(rankFile(m), stored), m), Map.of(), quant, Map.of());
        }
        RankFile r = readRankFile(m);
        WeightMap weights = HiggsAudioLayout.unfuse(config, r.weights(), m);
        return new Quantized(weights, quantizedScales(weights, HiggsAudioLayout.unfuse(config, r.rowScales(), m)), quant,
                r.activationScales());
    }

    /**
     * The activation rounding of this conversion, as a hook for the reference forward over the
     * same folder's (rounded) weights: SmoothQuant's per-token or static INT8 rounding of each
     * quantized linear's input (after its smoother); FP8 with static activation scales rounds
     * each decoder linear's input to E4M3 with its scale, saturating at +-448 as the engine's
     * quantize does; {@link LinearInputs#NONE} for weight-only formats and float checkpoints.
     *
     * @return the hook
     * @throws IOException when a rank file cannot be read
     */
    public LinearInputs activationRounding() throws IOException {
        if (stored.quant().isSmoothQuant()) {
            return SmoothQuant.simulation(config, stored.quant(), stored.tp(), stored.pp(), this::rankFile);
        }
        if (stored.quant() != QuantFormat.FP8) {
            return LinearInputs.NONE;
        }
        Map<String, Float> scales = new HashMap<>();
        for (Mapping m : Mapping.all(stored.tp(), stored.pp())) {
            scales.putAll(Quantizer.activationScales(folder.resolve(m.fileName()), rankFile(m), m.layers(config.numLayers())));
        }
        return Quantizer.fp8Rounding(scales);
    }

    /**
     * Unmaps every rank file opened. Idempotent.
     *
     * @throws IOException when a rank file fails to close (the others are closed all the same)
     */
    @Override
    public synchronized void close() throws IOException {
        closed = true;
        IOException first = null;
        for (SafetensorsCheckpoint ck : opened.values()) {
            try {
                ck.close();
            } catch (IOException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        opened.clear();
        if (first != null) {
            throw first;
        }
    }

    private RankFile readRankFile(Mapping m) throws IOException {
        String scaleSuffix = Quantizer.scaleSuffix(stored.quant());
        WeightMap file = rankFile(m);
        Path f = folder.resolve(m.fileName());
        Map<String, Float> activationScales = Quantizer.activationScales(f, file, m.layers(config.numLayers()));
        WeightMap.Builder weights = WeightMap.builder();
        WeightMap.Builder scales = WeightMap.builder();
        for (var w : file) {
            if (w.name().endsWith(scaleSuffix) || w.name().endsWith(Quantizer.ACTIVATION_SCALE)) {
                continue;
            }
            weights.put(w);
            String scale = w.name().endsWith(".weight")
                    ? w.name().substring(0, w.name().length() - ".weight".length()) + scaleSuffix : null;
            if (scale != null && file.contains(scale)) {
                scales.put(w.name(), rowScales(f, scale, file.tensor(scale), w.tensor().shape().dim(0)), w.provenance());
            } else {
                scales.put(w);
            }
        }
        return new RankFile(weights.build(), scales.build(), activationScales);
    }

    private static WeightMap dequantized(WeightMap rank, Stored stored) {
        QuantFormat quant = stored.quant();
        return quant.isSmoothQuant() || SmoothQuant.smoothed(rank)
                ? SmoothQuant.restore(rank, quant, stored.dtype())
                : Quantizer.dequantize(rank, quant, stored.dtype());
    }

    private static boolean keepsQuantized(QuantFormat quant) {
        return quant == QuantFormat.INT8_WO || quant == QuantFormat.FP8;
    }

    /** A rank file's weights without their scales, the row scales of each (F32 [out, 1]) under the weight's name, and its activation scales. */
    private record RankFile(WeightMap weights, WeightMap rowScales, Map<String, Float> activationScales) {
    }

    /** The scales of the weights of {@code weights} that are stored I8 or F8_E4M3, from {@code scaleMap}. */
    private static Map<String, TensorSource> quantizedScales(WeightMap weights, WeightMap scaleMap) {
        Map<String, TensorSource> scales = new TreeMap<>();
        for (var w : weights) {
            DType d = w.tensor().dtype();
            if (d == DType.I8 || d == DType.F8_E4M3) {
                scales.put(w.name(), scaleMap.tensor(w.name()));
            }
        }
        return scales;
    }

    /** A weight's scale ([out] or the [1] of a tensor) as F32 [out, 1], one scale a row. */
    private static TensorSource rowScales(Path file, String name, TensorSource scale, long rows) {
        long n = scale.shape().elementCount();
        if (scale.dtype() != DType.F32 || (n != rows && n != 1)) {
            throw new LayoutException(file + ": '" + name + "' must be F32 with 1 or " + rows + " values, got "
                    + scale.dtype().safetensorsName() + " " + scale.shape());
        }
        TensorSource column = scale.reshape(Shape.of(n, 1));
        return n == rows ? column : TensorSource.concat(java.util.Collections.nCopies((int) rows, column), 0);
    }
}
