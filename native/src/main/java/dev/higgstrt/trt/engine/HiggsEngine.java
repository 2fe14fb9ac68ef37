package dev.higgstrt.trt.engine;

import dev.higgstrt.converted.ConvertedCheckpoint;
import dev.higgstrt.trt.plugin.AllReducePlugin;
import dev.higgstrt.trt.cuda.Cuda;
import dev.higgstrt.trt.plugin.DualFfnPlugin;
import dev.higgstrt.trt.cuda.NativeRelease;
import dev.higgstrt.trt.tensorrt.TrtException;
import dev.higgstrt.trt.tensorrt.TrtLogger;
import dev.higgstrt.trt.tensorrt.TrtObjects;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.higgstrt.convert.Converter;
import dev.higgstrt.io.Json;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.SourceLayout;
import dev.higgstrt.tensor.DType;
import org.bytedeco.tensorrt.global.nvinfer;
import org.bytedeco.tensorrt.global.nvinfer.OptProfileSelector;
import org.bytedeco.tensorrt.nvinfer.ICudaEngine;
import org.bytedeco.tensorrt.nvinfer.IOptimizationProfile;
import org.bytedeco.tensorrt.nvinfer.IRuntime;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * A built Higgs Audio v2 TensorRT engine: built from a converted checkpoint folder, serialized to
 * a file that records what it was built from, loaded back, and run through {@link EngineSession}s.
 * Owns the TensorRT runtime and engine; {@link #close()} releases them once. Thread-safe: any
 * thread may open sessions ({@link #newSession()}), each of which is for one thread at a time.
 */
public final class HiggsEngine implements AutoCloseable {
    private static final byte[] MAGIC = "HXTRT001".getBytes(StandardCharsets.US_ASCII);

    private final HiggsAudioConfig config;
    private final RankLayout rank;
    private final int device;
    private final DType dtype;
    private final FfnMode ffnMode;
    private final int maxSequence;
    private final String checkpointHash;
    private final Arena planArena;
    private final MemorySegment plan;
    private final TrtLogger logger;
    private final IRuntime runtime;
    private final ICudaEngine engine;
    private final java.util.Set<NativeRelease> sessions = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final NativeRelease release;

    private HiggsEngine(HiggsAudioConfig config, RankLayout rank, int device, DType dtype, FfnMode ffnMode, int maxSequence,
                        String checkpointHash, Arena planArena, MemorySegment plan) {
        this.config = config;
        this.rank = rank;
        this.device = device;
        this.dtype = dtype;
        this.ffnMode = ffnMode;
        this.maxSequence = maxSequence;
        this.checkpointHash = checkpointHash;
        this.planArena = planArena;
        this.plan = plan;
        this.logger = new TrtLogger();
        Cuda.setDevice(device);
        this.runtime = nvinfer.createInferRuntime(logger);
        if (runtime == null || runtime.isNull()) {
            planArena.close();
            logger.close();
            throw new TrtException("createInferRuntime failed: " + logger.drainErrors());
        }
        this.engine = runtime.deserializeCudaEngine(TrtObjects.address(plan), plan.byteSize());
        if (engine == null || engine.isNull()) {
            String errors = logger.drainErrors();
            TrtObjects.delete(runtime);
            planArena.close();
            logger.close();
            throw new TrtException("deserializeCudaEngine failed: " + errors);
        }
        this.release = NativeRelease.register(this, "a HiggsEngine (" + rank.layers().length + " layers, " + dtype.torchName() + ")",
                releaseAction(sessions, engine, runtime, planArena, logger));
    }

    /** Frees the engine's sessions first (a context must go before its engine), then the engine, runtime, plan and logger. */
    private static Runnable releaseAction(java.util.Set<NativeRelease> sessions, ICudaEngine engine, IRuntime runtime,
                                          Arena planArena, TrtLogger logger) {
        return () -> {
            for (NativeRelease s : sessions) {
                s.close();
            }
            sessions.clear();
            TrtObjects.delete(engine);
            TrtObjects.delete(runtime);
            planArena.close();
            logger.close();
        };
    }


    /**
     * Builds the engine of a converted checkpoint folder (tp 1, pp 1), with the dual-FFN plugin
     * where it loads ({@link FfnMode#AUTO}).
     *
     * @param dtype       compute dtype: {@code F32}, {@code F16} or {@code BF16}
     * @param maxSequence longest sequence (prompt plus generated positions)
     * @param checkpoint the checkpoint folder
     * @return the engine of a converted checkpoint folder (tp 1, pp 1), with the dual-FFN plugin where it loads ({@link FfnMode#AUTO})
     * @throws IOException when a file cannot be read or written
     */
    public static HiggsEngine build(Path checkpoint, DType dtype, int maxSequence) throws IOException {
        return build(checkpoint, dtype, maxSequence, FfnMode.AUTO);
    }

    /**
     * Builds the engine of a converted checkpoint folder (tp 1, pp 1).
     *
     * @param dtype       compute dtype: {@code F32}, {@code F16} or {@code BF16}
     * @param maxSequence longest sequence (prompt plus generated positions)
     * @param ffn         how dual-FFN layers are computed; {@link FfnMode#PLUGIN} fails when the plugin does not load
     * @param checkpoint the checkpoint folder
     * @return the engine of a converted checkpoint folder (tp 1, pp 1)
     * @throws IOException when a file cannot be read or written
     */
    public static HiggsEngine build(Path checkpoint, DType dtype, int maxSequence, FfnMode ffn) throws IOException {
        HiggsAudioConfig.readFolder(checkpoint);
        ConvertedCheckpoint.Stored layout = ConvertedCheckpoint.stored(checkpoint);
        if (layout.tp() != 1 || layout.pp() != 1) {
            throw new IllegalArgumentException(checkpoint + ": a checkpoint of tp " + layout.tp() + " x pp " + layout.pp()
                    + " runs as one engine per rank: use ParallelEngine");
        }
        return buildRank(checkpoint, new dev.higgstrt.layout.Mapping(1, 1, 0), false, 0, dtype, maxSequence, ffn);
    }

    /**
     * Builds the engine of rank {@code m} of a converted checkpoint on CUDA device {@code device}:
     * its layers, heads and MLP slice only (see {@link HiggsNetwork#define}); {@code forceReduce}
     * keeps the all-reduce layers at tp 1.
     *
     * @param checkpoint  the checkpoint folder
     * @param m           the rank mapping
     * @param forceReduce the force reduce
     * @param device      the device
     * @param dtype       the element type
     * @param maxSequence the max sequence
     * @param ffn         the ffn
     * @return the engine of rank {@code m} of a converted checkpoint on CUDA device {@code device}: its layers, heads and MLP slice only (see {@link HiggsNetwork#define}); {@code forceReduce} keeps the all-reduce layers at tp 1
     * @throws IOException when a file cannot be read or written
     */
    public static HiggsEngine buildRank(Path checkpoint, dev.higgstrt.layout.Mapping m, boolean forceReduce, int device,
                                 DType dtype, int maxSequence, FfnMode ffn) throws IOException {
        FfnMode mode = resolve(ffn);
        DualFfnPlugin plugin = mode == FfnMode.PLUGIN ? DualFfnPlugin.get() : null;
        HiggsAudioConfig config = HiggsAudioConfig.readFolder(checkpoint);
        if (config.layout() != SourceLayout.TRTLLM) {
            throw new IllegalArgumentException(checkpoint + ": not a converted checkpoint (run higgs-trt convert first)");
        }
        if (maxSequence < 2 || maxSequence > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("max sequence " + maxSequence + " outside [2, " + config.maxPositionEmbeddings() + "]");
        }
        RankLayout rank = RankLayout.of(config, m, forceReduce);
        String checkpointHash = hash(checkpoint);
        Arena planArena = Arena.ofShared();
        MemorySegment plan;
        try (Arena weights = Arena.ofShared(); ConvertedCheckpoint converted = ConvertedCheckpoint.open(checkpoint)) {
            ConvertedCheckpoint.Quantized stored = converted.rank(m);
            if (stored.format() != dev.higgstrt.quant.QuantFormat.NONE && stored.scales().isEmpty()) {
                org.slf4j.LoggerFactory.getLogger(HiggsEngine.class).info(
                        "{} weights are dequantized to {} for the engine (native: int8_wo and fp8)", stored.format().id(), dtype);
            }
            Cuda.setDevice(device);
            String what = m.worldSize() == 1 ? "the engine" : "the engine of rank " + m.rank();
            plan = PlanBuilder.build(what, dtype, 1L << 30, plugin,
                    network -> HiggsNetwork.define(network, config, rank, stored, dtype, weights, plugin),
                    (builder, bc) -> {
                        for (boolean prefill : new boolean[]{true, false}) {
                            IOptimizationProfile profile = builder.createOptimizationProfile();
                            profile(profile, config, rank, prefill, maxSequence);
                            bc.addOptimizationProfile(profile);
                        }
                    }, planArena);
        } catch (IOException | RuntimeException e) {
            planArena.close();
            throw e;
        }
        return new HiggsEngine(config, rank, device, dtype, mode, maxSequence, checkpointHash, planArena, plan);
    }

    /**
     * Frees the TensorRT builder that builds keep between them (creating one takes seconds, so it
     * is kept once made, with its host memory). Builds after this create a new one.
     */
    public static void releaseBuilder() {
        PlanBuilder.releaseBuilder();
    }

    /**
     * Whether engines run the weights of {@code format} quantized (INT8 or FP8 constants and a dequantize before each product).
     *
     * @param format the format
     * @return whether engines run the weights of {@code format} quantized (INT8 or FP8 constants and a dequantize before each product)
     */
    public static boolean runsNatively(dev.higgstrt.quant.QuantFormat format) {
        return format == dev.higgstrt.quant.QuantFormat.INT8_WO || format == dev.higgstrt.quant.QuantFormat.FP8;
    }

    private static FfnMode resolve(FfnMode requested) {
        if (requested != FfnMode.AUTO) {
            return requested;
        }
        var reason = DualFfnPlugin.unavailableReason();
        if (reason.isPresent()) {
            org.slf4j.LoggerFactory.getLogger(HiggsEngine.class)
                    .warn("dual-FFN plugin unavailable, computing both FFN paths: {}", reason.get());
            return FfnMode.COMPUTE_BOTH;
        }
        return FfnMode.PLUGIN;
    }

    /** Profile 0: a prefill of 1..max positions into an empty cache. */
    static final int PREFILL_PROFILE = 0;
    /** Profile 1: one position after 0..max-1 cached ones. */
    static final int DECODE_PROFILE = 1;

    /**
     * The two optimization profiles. Each is consistent at its min, opt and max points (the new
     * positions T, the cached ones P and the attention width S = P + T move together).
     */
    private static void profile(IOptimizationProfile p, HiggsAudioConfig c, RankLayout rank, boolean prefill, int max) {
        int k = c.numCodebooks();
        int hd = c.headDim();
        int group = rank.group();
        int opt = Math.max(1, max / 4);
        long[] t = prefill ? new long[]{1, opt, max} : new long[]{1, 1, 1};
        long[] past = prefill ? new long[]{0, 0, 0} : new long[]{0, opt - 1, max - 1};
        for (int i = 0; i < 3; i++) {
            long width = t[i] + past[i];
            if (rank.first()) {
                set(p, HiggsNetwork.INPUT_IDS, i, t[i]);
                set(p, HiggsNetwork.AUDIO_CODES, i, t[i], k);
            } else {
                set(p, HiggsNetwork.BLOCK_INPUT, i, t[i], c.hiddenSize());
            }
            set(p, HiggsNetwork.AUDIO_MASK, i, t[i], 1);
            set(p, HiggsNetwork.ROPE_COS, i, t[i], hd);
            set(p, HiggsNetwork.ROPE_SIN, i, t[i], hd);
            set(p, HiggsNetwork.ATTENTION_BIAS, i, 1, group * t[i], width);
            for (int l : rank.layers()) {
                set(p, HiggsNetwork.pastKey(l), i, rank.kvHeads(), past[i], hd);
                set(p, HiggsNetwork.pastValue(l), i, rank.kvHeads(), past[i], hd);
            }
        }
    }

    /** Sets {@code name}'s dimensions at profile point 0 (min), 1 (opt) or 2 (max). */
    static void set(IOptimizationProfile p, String name, int point, long... dims) {
        OptProfileSelector selector = switch (point) {
            case 0 -> OptProfileSelector.kMIN;
            case 1 -> OptProfileSelector.kOPT;
            default -> OptProfileSelector.kMAX;
        };
        if (!p.setDimensions(name, selector, HiggsNetwork.dims(dims))) {
            throw new TrtException("optimization profile rejected " + java.util.Arrays.toString(dims) + " for " + name);
        }
    }

    /** SHA-256 over the converted checkpoint's config.json and its rank files' names and sizes. */
    static String hash(Path checkpoint) throws IOException {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(Files.readAllBytes(checkpoint.resolve(HiggsAudioConfig.FILE_NAME)));
            try (var files = Files.list(checkpoint)) {
                for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList()) {
                    md.update((f.getFileName() + ":" + Files.size(f) + "\n").getBytes(StandardCharsets.UTF_8));
                }
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Writes the engine: a header recording what it was built from, then TensorRT's plan.
     *
     * @param file the file
     * @throws IOException when a file cannot be read or written
     */
    public void save(Path file) throws IOException {
        ObjectNode meta = Json.PRETTY.createObjectNode();
        meta.put("checkpoint_sha256", checkpointHash);
        meta.put("dtype", dtype.torchName());
        meta.put("dual_ffn", ffnMode.id());
        meta.put("max_sequence", maxSequence);
        ObjectNode mapping = meta.putObject("mapping");
        mapping.put("tp_size", rank.mapping().tpSize());
        mapping.put("pp_size", rank.mapping().ppSize());
        mapping.put("rank", rank.mapping().rank());
        mapping.put("reduce_world", rank.reduceWorld());
        meta.put("tensorrt", nvinfer.getInferLibVersion());
        meta.set("config", Json.PRETTY.readTree(Converter.trtllmConfig(config, 1, 1, dtype, false)));
        EngineFile.write(file, MAGIC, meta, plan);
    }

    /**
     * Loads an engine file and checks that it was built from {@code checkpoint}.
     *
     * @throws IllegalArgumentException when the file is not an engine or was built from another checkpoint
     * @param file       the file
     * @param checkpoint the checkpoint folder
     * @return the engine, checked to have been built from {@code checkpoint}
     * @throws IOException when a file cannot be read or written
     */
    public static HiggsEngine load(Path file, Path checkpoint) throws IOException {
        return load(file, checkpoint, 0);
    }

    /**
     * As {@link #load(Path, Path)}, onto CUDA device {@code device}; the file may hold one rank of a tp x pp layout.
     *
     * @param file       the file
     * @param checkpoint the checkpoint folder
     * @param device     the device
     * @return the engine
     * @throws IOException when a file cannot be read or written
     */
    public static HiggsEngine load(Path file, Path checkpoint, int device) throws IOException {
        Arena arena = Arena.ofShared();
        try {
            EngineFile.Contents contents = EngineFile.readBuiltFrom(file, MAGIC, "engine", checkpoint, arena);
            JsonNode meta = contents.header();
            String expected = meta.path("checkpoint_sha256").asText();
            MemorySegment plan = contents.plan();
            FfnMode ffn = FfnMode.parse(meta.path("dual_ffn").asText(FfnMode.COMPUTE_BOTH.id()));
            if (ffn == FfnMode.PLUGIN) {
                DualFfnPlugin.get();   // the plan refers to the plugin's creator by name
            }
            HiggsAudioConfig config = HiggsAudioConfig.readFolder(checkpoint);
            JsonNode mapping = meta.path("mapping");
            dev.higgstrt.layout.Mapping m = new dev.higgstrt.layout.Mapping(mapping.path("tp_size").asInt(1),
                    mapping.path("pp_size").asInt(1), mapping.path("rank").asInt(0));
            boolean reduce = mapping.path("reduce_world").asInt(0) > 0;
            if (reduce) {
                AllReducePlugin.get();
            }
            return new HiggsEngine(config, RankLayout.of(config, m, reduce), device, DType.parse(meta.path("dtype").asText()), ffn,
                    meta.path("max_sequence").asInt(), expected, arena, plan);
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * The model's config.
     *
     * @return the model's config
     */
    public HiggsAudioConfig config() {
        return config;
    }

    /**
     * What this engine computes: the whole model, or one rank's part.
     *
     * @return what this engine computes: the whole model, or one rank's part
     */
    public RankLayout rank() {
        return rank;
    }

    /** The CUDA device the engine runs on. */
    int device() {
        return device;
    }

    /**
     * The compute dtype.
     *
     * @return the compute dtype
     */
    public DType dtype() {
        return dtype;
    }

    /**
     * How the dual FFN is computed: {@link FfnMode#PLUGIN} or {@link FfnMode#COMPUTE_BOTH}.
     *
     * @return how the dual FFN is computed: {@link FfnMode#PLUGIN} or {@link FfnMode#COMPUTE_BOTH}
     */
    public FfnMode ffnMode() {
        return ffnMode;
    }

    /**
     * The longest sequence a session may hold.
     *
     * @return the longest sequence a session may hold
     */
    public int maxSequence() {
        return maxSequence;
    }

    /**
     * Size of the serialized plan.
     *
     * @return size of the serialized plan
     */
    public long planBytes() {
        return plan.byteSize();
    }

    ICudaEngine handle() {
        if (release.released()) {
            throw new IllegalStateException("engine is closed");
        }
        return engine;
    }

    /** Tracks a session's release, run before the engine's own; the session forgets itself when it closes. */
    java.util.Set<NativeRelease> sessions() {
        return sessions;
    }

    TrtLogger logger() {
        return logger;
    }

    /**
     * A new sequence: an execution context and its KV cache on the GPU.
     *
     * @return a new sequence: an execution context and its KV cache on the GPU
     */
    public EngineSession newSession() {
        return new EngineSession(this);
    }

    /**
     * Releases the engine and the runtime, closing its sessions that are still open first.
     * Idempotent. An engine never closed is released by a Cleaner once unreachable, with a warning.
     */
    @Override
    public void close() {
        release.close();
    }
}
