package dev.higgstrt.trt.engine;

import dev.higgstrt.converted.ConvertedCheckpoint;
import dev.higgstrt.convert.Converter;
import dev.higgstrt.io.Json;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.SourceLayout;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.trt.cuda.Cuda;
import dev.higgstrt.trt.cuda.NativeRelease;
import dev.higgstrt.trt.plugin.DualFfnPlugin;
import dev.higgstrt.trt.plugin.LinearPlugin;
import dev.higgstrt.trt.plugin.PagedAttentionPlugin;
import dev.higgstrt.trt.tensorrt.TrtException;
import dev.higgstrt.trt.tensorrt.TrtLogger;
import dev.higgstrt.trt.tensorrt.TrtObjects;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.tensorrt.global.nvinfer;
import org.bytedeco.tensorrt.nvinfer.ICudaEngine;
import org.bytedeco.tensorrt.nvinfer.IOptimizationProfile;
import org.bytedeco.tensorrt.nvinfer.IRuntime;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The packed, batched Higgs Audio engine (tp 1, pp 1): one call runs the new tokens of many
 * sequences, some in prefill and some decoding, over a paged KV cache that each
 * {@link PagedDecoder} owns in device memory (see {@link HiggsNetwork#definePacked}). Built from a
 * converted checkpoint, saved with a header recording its origin and shape, loaded back; it runs on
 * CUDA device 0. Owns the TensorRT runtime and engine; {@link #close()} releases them (and its
 * decoders) once. Thread-safe.
 */
public final class PagedEngine implements AutoCloseable {
    private static final byte[] MAGIC = "HXPAGED1".getBytes(StandardCharsets.US_ASCII);
    /** The most KV blocks a decoder's cache may have (the profile's bound; memory is the real one). */
    static final int MAX_CACHE_BLOCKS = 1 << 22;
    /**
     * The system property that, set to {@code false}, builds the attention projections and the
     * audio head as TensorRT's GEMMs instead of {@link LinearPlugin} layers (the baseline they are
     * measured against).
     */
    public static final String LINEAR_PLUGIN_PROPERTY = "higgs.trt.linearPlugin";

    /**
     * What one engine call may hold.
     *
     * @param maxSequence  the most positions of one sequence
     * @param maxTokens    the most tokens of one call (all sequences)
     * @param maxSequences the most sequences of one call
     * @param blockSize    positions a KV block holds
     */
    public record Shape(int maxSequence, int maxTokens, int maxSequences, int blockSize) {
        /** Checks the values. */
        public Shape {
            if (maxSequence < 2 || maxTokens < 1 || maxSequences < 1 || maxSequences > maxTokens || blockSize < 1) {
                throw new IllegalArgumentException("paged engine shape out of range: sequence " + maxSequence + ", tokens " + maxTokens
                        + ", sequences " + maxSequences + " (at most one a token), block " + blockSize);
            }
        }

        /**
         * The block table's width: blocks of the longest sequence.
         *
         * @return blocks a sequence may hold
         */
        public int blocksPerSequence() {
            return (maxSequence + blockSize - 1) / blockSize;
        }
    }

    private final HiggsAudioConfig config;
    private final DType dtype;
    private final FfnMode ffnMode;
    private final Shape shape;
    private final String checkpointHash;
    private final MemorySegment plan;
    private final TrtLogger logger;
    private final ICudaEngine engine;
    private final java.util.Set<NativeRelease> decoders = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final NativeRelease release;

    private PagedEngine(HiggsAudioConfig config, DType dtype, FfnMode ffnMode, Shape shape, String checkpointHash,
                        Arena planArena, MemorySegment plan) {
        this.config = config;
        this.dtype = dtype;
        this.ffnMode = ffnMode;
        this.shape = shape;
        this.checkpointHash = checkpointHash;
        this.plan = plan;
        this.logger = new TrtLogger();
        Cuda.setDevice(0);
        IRuntime runtime = nvinfer.createInferRuntime(logger);
        ICudaEngine created = runtime == null || runtime.isNull() ? null : runtime.deserializeCudaEngine(TrtObjects.address(plan), plan.byteSize());
        if (created == null || created.isNull()) {
            String errors = logger.drainErrors();
            TrtObjects.delete(runtime);
            planArena.close();
            logger.close();
            throw new TrtException("loading the paged engine failed: " + errors);
        }
        this.engine = created;
        java.util.Set<NativeRelease> open = decoders;
        TrtLogger log = logger;
        this.release = NativeRelease.register(this, "a PagedEngine (" + config.numLayers() + " layers, " + dtype.torchName() + ")", () -> {
            open.forEach(NativeRelease::close);
            open.clear();
            TrtObjects.delete(created);
            TrtObjects.delete(runtime);
            planArena.close();
            log.close();
        });
    }

    /**
     * Builds the engine of a converted checkpoint folder (tp 1, pp 1) with the paged-attention
     * plugin, and the dual-FFN plugin or both FFN paths computed ({@code ffn}).
     *
     * @param checkpoint the converted checkpoint folder
     * @param dtype      the compute dtype: {@code F32}, {@code F16} or {@code BF16}
     * @param shape      what a call may hold
     * @param ffn        how the dual FFN is computed
     * @return the engine
     * @throws IOException when a file cannot be read
     * @throws TrtException when the plugin library is unavailable or the build fails
     */
    public static PagedEngine build(Path checkpoint, DType dtype, Shape shape, FfnMode ffn) throws IOException {
        HiggsAudioConfig config = HiggsAudioConfig.readFolder(checkpoint);
        if (config.layout() != SourceLayout.TRTLLM) {
            throw new IllegalArgumentException(checkpoint + ": not a converted checkpoint (run higgs-trt convert first)");
        }
        ConvertedCheckpoint.Stored layout = ConvertedCheckpoint.stored(checkpoint);
        if (layout.tp() != 1 || layout.pp() != 1) {
            throw new IllegalArgumentException(checkpoint + ": the paged engine runs tp 1 x pp 1 checkpoints; this one is tp "
                    + layout.tp() + " x pp " + layout.pp());
        }
        if (shape.maxSequence() > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("max sequence " + shape.maxSequence() + " exceeds the model's "
                    + config.maxPositionEmbeddings() + " positions");
        }
        FfnMode mode = ffn == FfnMode.AUTO ? FfnMode.PLUGIN : ffn;
        DualFfnPlugin plugin = mode == FfnMode.PLUGIN ? DualFfnPlugin.get() : null;
        PagedAttentionPlugin attention = PagedAttentionPlugin.get();
        LinearPlugin linear = Boolean.parseBoolean(System.getProperty(LINEAR_PLUGIN_PROPERTY, "true")) ? LinearPlugin.get() : null;
        String hash = HiggsEngine.hash(checkpoint);
        Arena planArena = Arena.ofShared();
        try (Arena weights = Arena.ofShared(); ConvertedCheckpoint converted = ConvertedCheckpoint.open(checkpoint)) {
            ConvertedCheckpoint.Quantized stored = converted.rank(new dev.higgstrt.layout.Mapping(1, 1, 0));
            Cuda.setDevice(0);
            MemorySegment plan = PlanBuilder.build("the paged engine", dtype, 1L << 30, plugin,
                    network -> HiggsNetwork.definePacked(network, config, stored, dtype, weights, plugin, attention, linear,
                            shape.blockSize()),
                    (builder, bc) -> {
                        IOptimizationProfile profile = builder.createOptimizationProfile();
                        profile(profile, config, shape, plugin != null);
                        bc.addOptimizationProfile(profile);
                        // every kernel on the decoder's one stream: a step can then be captured as a
                        // CUDA graph (TensorRT's own auxiliary streams are blocking ones, which another
                        // thread's copy on the legacy stream breaks mid-capture)
                        bc.setMaxAuxStreams(0);
                    }, planArena);
            return new PagedEngine(config, dtype, mode, shape, hash, planArena, plan);
        } catch (IOException | RuntimeException e) {
            planArena.close();
            throw e;
        }
    }

    /** One profile: 1..maxTokens tokens of 1..maxSequences sequences, caches of 1..MAX_CACHE_BLOCKS blocks. */
    private static void profile(IOptimizationProfile p, HiggsAudioConfig c, Shape s, boolean plugin) {
        long[] tokens = {1, Math.max(1, Math.min(s.maxTokens(), 64)), s.maxTokens()};
        long[] sequences = {1, Math.min(tokens[1], s.maxSequences()), s.maxSequences()};
        long[] blocks = {1, 4096, MAX_CACHE_BLOCKS};
        int m = s.blocksPerSequence();
        for (int i = 0; i < 3; i++) {
            HiggsEngine.set(p, HiggsNetwork.INPUT_IDS, i, tokens[i]);
            HiggsEngine.set(p, HiggsNetwork.AUDIO_CODES, i, tokens[i], c.numCodebooks());
            HiggsEngine.set(p, HiggsNetwork.AUDIO_MASK, i, tokens[i], 1);
            HiggsEngine.set(p, HiggsNetwork.POSITIONS, i, tokens[i]);
            HiggsEngine.set(p, HiggsNetwork.SLOTS, i, tokens[i]);
            HiggsEngine.set(p, HiggsNetwork.BLOCK_TABLES, i, sequences[i], m);
            HiggsEngine.set(p, HiggsNetwork.LAST_TOKENS, i, sequences[i]);
            if (plugin) {
                HiggsEngine.set(p, HiggsNetwork.TEXT_TOKENS, i, i == 2 ? tokens[2] : 0);
            }
            for (int l = 0; l < c.numLayers(); l++) {
                HiggsEngine.set(p, HiggsNetwork.kvCache(l), i, blocks[i], 2, c.numKvHeads(), s.blockSize(), c.headDim());
            }
        }
    }

    /**
     * Writes the engine: a header recording its checkpoint, dtype and shape, then the plan.
     *
     * @param file the file (written through a temporary file and renamed)
     * @throws IOException when the file cannot be written
     */
    public void save(Path file) throws IOException {
        ObjectNode meta = Json.PRETTY.createObjectNode();
        meta.put("checkpoint_sha256", checkpointHash);
        meta.put("dtype", dtype.torchName());
        meta.put("dual_ffn", ffnMode.id());
        meta.put("max_sequence", shape.maxSequence());
        meta.put("max_tokens", shape.maxTokens());
        meta.put("max_sequences", shape.maxSequences());
        meta.put("block_size", shape.blockSize());
        meta.put("tensorrt", nvinfer.getInferLibVersion());
        meta.set("config", Json.PRETTY.readTree(Converter.trtllmConfig(config, 1, 1, dtype, false)));
        EngineFile.write(file, MAGIC, meta, plan);
    }

    /**
     * Loads a paged engine file and checks that it was built from {@code checkpoint}.
     *
     * @param file       the engine file
     * @param checkpoint the converted checkpoint it was built from
     * @return the engine
     * @throws IOException              when a file cannot be read
     * @throws IllegalArgumentException when the file is not a paged engine or was built from another checkpoint
     */
    public static PagedEngine load(Path file, Path checkpoint) throws IOException {
        Arena arena = Arena.ofShared();
        try {
            EngineFile.Contents contents = EngineFile.readBuiltFrom(file, MAGIC, "paged engine", checkpoint, arena);
            JsonNode meta = contents.header();
            FfnMode ffn = FfnMode.parse(meta.path("dual_ffn").asText(FfnMode.COMPUTE_BOTH.id()));
            if (ffn == FfnMode.PLUGIN) {
                DualFfnPlugin.get();
            }
            // the plan names its plugins' creators, which must be registered before it is read
            PagedAttentionPlugin.get();
            LinearPlugin.get();
            Shape shape = new Shape(meta.path("max_sequence").asInt(), meta.path("max_tokens").asInt(),
                    meta.path("max_sequences").asInt(), meta.path("block_size").asInt());
            return new PagedEngine(HiggsAudioConfig.readFolder(checkpoint), DType.parse(meta.path("dtype").asText()), ffn, shape,
                    meta.path("checkpoint_sha256").asText(), arena, contents.plan());
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * A decoder over this engine with a KV cache of {@code kvBlocks} blocks in device memory.
     *
     * @param kvBlocks blocks of {@link Shape#blockSize()} positions, every layer
     * @return the decoder (closed with the engine if not before)
     */
    public PagedDecoder newDecoder(int kvBlocks) {
        return new PagedDecoder(this, kvBlocks);
    }

    /**
     * One sequence as a {@link dev.higgstrt.decoding.DecoderSession}, with its own cache.
     *
     * @return the session
     */
    public PagedSession newSession() {
        return new PagedSession(this);
    }

    /**
     * Whether {@code file} starts as a paged engine file does (not checked further).
     *
     * @param file a file
     * @return true for a paged engine file
     * @throws IOException when the file cannot be read
     */
    public static boolean isPagedEngineFile(Path file) throws IOException {
        return EngineFile.isKind(file, MAGIC);
    }

    /**
     * Device bytes one KV block takes over all layers.
     *
     * @return bytes a block
     */
    public long bytesPerBlock() {
        return (long) config.numLayers() * 2 * config.numKvHeads() * shape.blockSize() * config.headDim() * dtype.byteSize();
    }

    /**
     * The model's config.
     *
     * @return the config
     */
    public HiggsAudioConfig config() {
        return config;
    }

    /**
     * The compute dtype.
     *
     * @return the dtype
     */
    public DType dtype() {
        return dtype;
    }

    /**
     * How the dual FFN is computed.
     *
     * @return the mode
     */
    public FfnMode ffnMode() {
        return ffnMode;
    }

    /**
     * What a call may hold.
     *
     * @return the shape
     */
    public Shape shape() {
        return shape;
    }

    ICudaEngine handle() {
        if (release.released()) {
            throw new IllegalStateException("paged engine is closed");
        }
        return engine;
    }

    TrtLogger logger() {
        return logger;
    }

    java.util.Set<NativeRelease> decoders() {
        return decoders;
    }

    /** Releases the engine, closing its decoders first. Idempotent. */
    @Override
    public void close() {
        release.close();
    }
}
