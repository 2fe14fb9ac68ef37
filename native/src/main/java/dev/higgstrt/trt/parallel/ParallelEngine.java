package dev.higgstrt.trt.parallel;

import dev.higgstrt.trt.cuda.Cuda;
import dev.higgstrt.trt.engine.FfnMode;
import dev.higgstrt.trt.engine.HiggsEngine;
import dev.higgstrt.trt.plugin.ReduceGroup;

import dev.higgstrt.converted.ConvertedCheckpoint;
import dev.higgstrt.layout.Mapping;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.tensor.DType;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * The engines of every rank of a tensor- and pipeline-parallel checkpoint (tp x pp, as converted),
 * one per rank, with the all-reduce group of each pipeline stage. Rank {@code r} runs on CUDA
 * device {@code devices[r % devices.length]}. Sequences run through {@link ParallelSession}s, one
 * thread per tp rank. Owns the engines and groups; {@link #close()} releases them once, sessions
 * first. Thread-safe for opening sessions.
 */
public final class ParallelEngine implements AutoCloseable {
    /**
     * How the ranks are placed and summed.
     *
     * @param devices CUDA device of rank {@code r}: {@code devices[r % devices.length]}
     * @param reduce  how each stage's tp ranks sum: empty for NCCL where they are on distinct GPUs
     *                and in-process otherwise
     * @param timeout how long an in-process rank waits for the others before its step fails
     */
    public record Options(int[] devices, Optional<ReduceGroup.Kind> reduce, Duration timeout) {
        /** Canonical constructor: validates and copies. */
        public Options {
            if (devices.length == 0 || Arrays.stream(devices).anyMatch(d -> d < 0)) {
                throw new IllegalArgumentException("devices must be non-empty and non-negative, got " + Arrays.toString(devices));
            }
            devices = devices.clone();
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("timeout must be positive, got " + timeout);
            }
        }

        /**
         * Rank r on device r modulo the number of CUDA devices here, NCCL where possible, 60 s timeout.
         *
         * @return the default options
         */
        public static Options allDevices() {
            int[] count = new int[1];
            Cuda.check(org.bytedeco.cuda.global.cudart.cudaGetDeviceCount(count), "cudaGetDeviceCount");
            return of(count[0]);
        }

        /**
         * Rank r on device r modulo {@code deviceCount}, NCCL where possible, 60 s timeout.
         *
         * @param deviceCount the device count
         * @return the options
         */
        public static Options of(int deviceCount) {
            int[] d = new int[deviceCount];
            Arrays.setAll(d, i -> i);
            return new Options(d, Optional.empty(), Duration.ofSeconds(60));
        }

        /**
         * These options with every rank on the given devices (round robin).
         *
         * @param d the d
         * @return these options with every rank on the given devices (round robin)
         */
        public Options withDevices(int... d) {
            return new Options(d, reduce, timeout);
        }

        /**
         * These options with the given way of summing.
         *
         * @param kind the kind
         * @return these options with the given way of summing
         */
        public Options withReduce(ReduceGroup.Kind kind) {
            return new Options(devices, Optional.of(kind), timeout);
        }

        /**
         * The CUDA devices, rank r on {@code devices[r % length]}.
         *
         * @return a copy of the device indices
         */
        @Override
        public int[] devices() {
            return devices.clone();
        }

        int device(int rank) {
            return devices[rank % devices.length];
        }
    }

    private final HiggsAudioConfig config;
    private final Mapping layout;
    private final DType dtype;
    private final Options options;
    private final List<HiggsEngine> engines;
    private final List<ReduceGroup> groups;
    private final java.util.Set<ParallelSession> sessions = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    private ParallelEngine(HiggsAudioConfig config, Mapping layout, DType dtype, Options options, List<HiggsEngine> engines,
                           List<ReduceGroup> groups) {
        this.config = config;
        this.layout = layout;
        this.dtype = dtype;
        this.options = options;
        this.engines = List.copyOf(engines);
        this.groups = groups;
    }

    /**
     * Builds the engine of every rank of a converted checkpoint, with the dual-FFN plugin where it
     * loads ({@link FfnMode#AUTO}); see {@link HiggsEngine#build(Path, DType, int, FfnMode)}.
     *
     * @param checkpoint  the checkpoint folder
     * @param dtype       the element type
     * @param maxSequence the max sequence
     * @param ffn         the ffn
     * @param options     the options
     * @return the engine of every rank of a converted checkpoint, with the dual-FFN plugin where it loads ({@link FfnMode#AUTO}); see {@link HiggsEngine#build(Path, DType, int, FfnMode)}
     * @throws IOException when a file cannot be read or written
     */
    public static ParallelEngine build(Path checkpoint, DType dtype, int maxSequence, FfnMode ffn, Options options)
            throws IOException {
        return build(checkpoint, dtype, maxSequence, ffn, options, false);
    }

    /** As {@link #build(Path, DType, int, FfnMode, Options)}; {@code reduceAtTp1} keeps the all-reduce at tp 1 (a one-rank sum). */
    static ParallelEngine build(Path checkpoint, DType dtype, int maxSequence, FfnMode ffn, Options options,
                                boolean reduceAtTp1) throws IOException {
        return assemble(checkpoint, dtype, options, reduceAtTp1,
                m -> HiggsEngine.buildRank(checkpoint, m, reduceAtTp1, options.device(m.rank()), dtype, maxSequence, ffn));
    }

    /** File in a saved folder that records the layout. */
    static final String LAYOUT_FILE = "parallel.json";

    /**
     * Loads a folder written by {@link #save}, checking that every rank was built from {@code checkpoint}.
     *
     * @throws IllegalArgumentException when the folder is not a saved parallel engine, or was built from another checkpoint
     * @param folder     the folder
     * @param checkpoint the checkpoint folder
     * @param options    the options
     * @return the engines of every rank
     * @throws IOException when a file cannot be read or written
     */
    public static ParallelEngine load(Path folder, Path checkpoint, Options options) throws IOException {
        Path layoutFile = folder.resolve(LAYOUT_FILE);
        if (!java.nio.file.Files.isRegularFile(layoutFile)) {
            throw new IllegalArgumentException(folder + ": not a saved parallel engine (no " + LAYOUT_FILE + ")");
        }
        var layout = dev.higgstrt.io.Json.readUtf8(dev.higgstrt.io.Json.STRICT, java.nio.file.Files.readAllBytes(layoutFile));
        ConvertedCheckpoint.Stored stored = ConvertedCheckpoint.stored(checkpoint);
        int[] tpPp = {stored.tp(), stored.pp()};
        if (layout.path("tp_size").asInt() != tpPp[0] || layout.path("pp_size").asInt() != tpPp[1]) {
            throw new IllegalArgumentException(folder + ": saved for tp " + layout.path("tp_size").asInt() + " x pp "
                    + layout.path("pp_size").asInt() + ", but " + checkpoint + " is tp " + tpPp[0] + " x pp " + tpPp[1]);
        }
        return assemble(checkpoint, DType.parse(layout.path("dtype").asText()), options, layout.path("reduce_at_tp1").asBoolean(),
                m -> HiggsEngine.load(folder.resolve(rankFile(m.rank())), checkpoint, options.device(m.rank())));
    }

    private static String rankFile(int rank) {
        return "rank" + rank + ".engine";
    }

    /**
     * Writes every rank's engine ({@code rankN.engine}) and {@value #LAYOUT_FILE} into {@code folder},
     * which must not exist; the files are written into a temporary folder beside it that is renamed
     * at the end, so a failed save leaves no folder of that name.
     *
     * @param folder the folder
     * @throws IOException when a file cannot be read or written
     */
    public void save(Path folder) throws IOException {
        if (java.nio.file.Files.exists(folder)) {
            throw new java.nio.file.FileAlreadyExistsException(folder.toString(), null, "a parallel engine is saved into a new folder");
        }
        Path parent = folder.toAbsolutePath().getParent();
        Path temp = java.nio.file.Files.createTempDirectory(parent, "." + folder.getFileName() + ".tmp-");
        try {
            for (int r = 0; r < engines.size(); r++) {
                engines.get(r).save(temp.resolve(rankFile(r)));
            }
            var layout = dev.higgstrt.io.Json.PRETTY.createObjectNode();
            layout.put("tp_size", tp());
            layout.put("pp_size", pp());
            layout.put("dtype", dtype.torchName());
            layout.put("reduce_at_tp1", tp() == 1 && engines.getFirst().rank().reduceWorld() > 0);
            java.nio.file.Files.write(temp.resolve(LAYOUT_FILE), dev.higgstrt.io.Json.PRETTY.writeValueAsBytes(layout));
            java.nio.file.Files.move(temp, folder, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            dev.higgstrt.io.FileTrees.delete(temp);
            throw e;
        }
    }

    @FunctionalInterface
    private interface RankEngines {
        HiggsEngine of(Mapping m) throws IOException;
    }

    private static ParallelEngine assemble(Path checkpoint, DType dtype, Options options, boolean reduceAtTp1,
                                           RankEngines rankEngines) throws IOException {
        ConvertedCheckpoint.Stored layout = ConvertedCheckpoint.stored(checkpoint);
        int[] tpPp = {layout.tp(), layout.pp()};
        int tp = tpPp[0];
        int pp = tpPp[1];
        HiggsAudioConfig config = HiggsAudioConfig.readFolder(checkpoint);
        List<HiggsEngine> engines = new ArrayList<>();
        List<ReduceGroup> groups = new ArrayList<>();
        try {
            for (int p = 0; p < pp; p++) {
                if (tp > 1 || reduceAtTp1) {
                    int[] devices = new int[tp];
                    for (int j = 0; j < tp; j++) {
                        devices[j] = options.device(p * tp + j);
                    }
                    boolean distinct = Arrays.stream(devices).distinct().count() == tp;
                    ReduceGroup.Kind kind = options.reduce().orElse(distinct ? ReduceGroup.Kind.NCCL : ReduceGroup.Kind.IN_PROCESS);
                    groups.add(kind == ReduceGroup.Kind.NCCL ? ReduceGroup.nccl(devices) : ReduceGroup.inProcess(options.timeout(), devices));
                } else {
                    groups.add(null);
                }
            }
            for (Mapping m : Mapping.all(tp, pp)) {
                engines.add(rankEngines.of(m));
            }
        } catch (IOException | RuntimeException e) {
            engines.forEach(HiggsEngine::close);
            groups.stream().filter(java.util.Objects::nonNull).forEach(ReduceGroup::close);
            throw e;
        }
        return new ParallelEngine(config, new Mapping(tp, pp, 0), dtype, options, engines, java.util.Collections.unmodifiableList(groups));
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
     * Tensor-parallel size.
     *
     * @return tensor-parallel size
     */
    public int tp() {
        return layout.tpSize();
    }

    /**
     * Pipeline-parallel size.
     *
     * @return pipeline-parallel size
     */
    public int pp() {
        return layout.ppSize();
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
     * How the dual FFN is computed (the same on every rank).
     *
     * @return how the dual FFN is computed (the same on every rank)
     */
    public FfnMode ffnMode() {
        return engines.getFirst().ffnMode();
    }

    /**
     * The longest sequence a session may hold.
     *
     * @return the longest sequence a session may hold
     */
    public int maxSequence() {
        return engines.getFirst().maxSequence();
    }

    /**
     * How each pipeline stage's ranks sum: the kind of its group, or empty where tp is 1.
     *
     * @return how each pipeline stage's ranks sum: the kind of its group, or empty where tp is 1
     */
    public List<Optional<ReduceGroup.Kind>> reduceKinds() {
        return groups.stream().map(g -> Optional.ofNullable(g).map(ReduceGroup::kind)).toList();
    }

    HiggsEngine engine(int rank) {
        return engines.get(rank);
    }

    ReduceGroup group(int stage) {
        return groups.get(stage);
    }

    int device(int rank) {
        return options.device(rank);
    }

    java.util.Set<ParallelSession> sessions() {
        return sessions;
    }

    /**
     * A new sequence: one execution context, stream and KV cache per rank, and a thread per tp rank.
     *
     * @return a new sequence: one execution context, stream and KV cache per rank, and a thread per tp rank
     */
    public ParallelSession newSession() {
        if (closed) {
            throw new IllegalStateException("parallel engine is closed");
        }
        return new ParallelSession(this);
    }

    /** Closes the open sessions, then the engines, then the groups. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (ParallelSession s : List.copyOf(sessions)) {
            s.close();
        }
        for (int r = engines.size() - 1; r >= 0; r--) {
            engines.get(r).close();
        }
        for (ReduceGroup g : groups) {
            if (g != null) {
                g.close();
            }
        }
    }
}
