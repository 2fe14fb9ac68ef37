package dev.higgstrt.trt.engine;

import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.runtime.BatchDecoder;
import dev.higgstrt.trt.cuda.Cuda;
import dev.higgstrt.trt.cuda.NativeRelease;
import dev.higgstrt.trt.plugin.DualFfnPlugin;
import dev.higgstrt.trt.plugin.LinearPlugin;
import dev.higgstrt.trt.plugin.PagedAttentionPlugin;
import dev.higgstrt.trt.tensorrt.TrtException;
import dev.higgstrt.trt.tensorrt.TrtObjects;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.tensorrt.nvinfer.Dims64;
import org.bytedeco.tensorrt.nvinfer.IExecutionContext;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs the steps of a {@link dev.higgstrt.runtime.BatchRuntime} on a {@link PagedEngine}: an
 * execution context, its stream, and the KV cache of every layer in device memory, in blocks that
 * the runtime assigns (block n of every layer holds the same positions of one sequence). A step
 * packs the new tokens of its sequences (no padding), uploads them with the block tables in one
 * copy, runs the engine, and downloads the last position's audio logits of each sequence. A
 * finished sequence's blocks are free for the next at once: nothing here holds per-sequence state.
 * For one thread at a time; {@link #close()} frees everything once.
 */
public final class PagedDecoder implements BatchDecoder {
    private static final long ALIGN = 256;
    /**
     * System property: {@code true} replays repeated step shapes as CUDA graphs. Off by default:
     * on the H200 it saved 3% of a batch-1 step (5.17 to 5.00 ms), and under the server, a
     * synchronous copy of another thread on the legacy stream broke a capture through one of
     * TensorRT's auxiliary streams and aborted the process. Engines are now built without
     * auxiliary streams (every kernel on the decoder's non-blocking stream): with them, graphs ran
     * on the full model (a batch-1 step 3.82 to 3.54 ms), and under the runtime while another
     * thread copied on the legacy stream ({@code PagedEngineGpuTest}), not yet under the server; an
     * engine file with auxiliary streams runs without graphs.
     */
    public static final String GRAPHS_PROPERTY = "higgs.trt.cudaGraphs";
    private static final int MAX_GRAPHS = 64;

    private final PagedEngine engine;
    private final HiggsAudioConfig c;
    private final PagedEngine.Shape shape;
    private final int kvBlocks;
    private final IExecutionContext context;
    private final Cuda.Stream stream;
    private final List<Cuda.DeviceBuffer> buffers = new ArrayList<>();
    private final Cuda.DeviceBuffer[] caches;
    private final List<Cuda.PinnedBuffer> pinned = new ArrayList<>();
    private final Cuda.DeviceBuffer inputs;
    private final Cuda.DeviceBuffer logits;
    private final Cuda.PinnedBuffer hostInputs;
    private final Cuda.PinnedBuffer hostLogits;
    private final Bindings bindings;
    private final NativeRelease release;
    private final Map<Long, Cuda.Graph> graphs = new HashMap<>();
    private final Map<Long, Integer> shapesSeen = new HashMap<>();
    private boolean useGraphs;
    private long graphLaunches;
    private StepTiming lastTiming = new StepTiming(0, 0, 0, false);

    /**
     * Where the host's time of one step went: packing and uploading the inputs and setting the
     * shapes, enqueueing the engine (or launching its graph), and waiting for the logits.
     *
     * @param prepareNanos packing, the upload and the shapes and addresses
     * @param enqueueNanos {@code enqueueV3}, or the graph's launch (and its capture, the first time), until it returned
     * @param waitNanos the logits' download, the wait for the GPU included
     * @param replayed whether the step replayed a captured CUDA graph
     */
    public record StepTiming(long prepareNanos, long enqueueNanos, long waitNanos, boolean replayed) {
    }

    PagedDecoder(PagedEngine engine, int kvBlocks) {
        if (kvBlocks < 1 || kvBlocks > PagedEngine.MAX_CACHE_BLOCKS) {
            throw new IllegalArgumentException("KV blocks " + kvBlocks + " outside [1, " + PagedEngine.MAX_CACHE_BLOCKS + "]");
        }
        this.engine = engine;
        this.c = engine.config();
        this.shape = engine.shape();
        this.kvBlocks = kvBlocks;
        Cuda.setDevice(0);
        this.context = engine.handle().createExecutionContext();
        if (context == null || context.isNull()) {
            throw new TrtException("createExecutionContext failed: " + engine.logger().drainErrors());
        }
        Bindings bound = new Bindings(context, engine);
        this.bindings = bound;
        Cuda.Stream[] holder = new Cuda.Stream[1];
        List<Cuda.DeviceBuffer> owned = buffers;
        List<Cuda.PinnedBuffer> ownedHost = pinned;
        Map<Long, Cuda.Graph> captured = graphs;
        IExecutionContext ctx = context;
        java.util.Set<NativeRelease> open = engine.decoders();
        this.release = NativeRelease.register(this, "a PagedDecoder", () -> {
            captured.values().forEach(Cuda.Graph::close);
            captured.clear();
            owned.forEach(Cuda.DeviceBuffer::close);
            ownedHost.forEach(Cuda.PinnedBuffer::close);
            bound.close();
            TrtObjects.delete(ctx);
            if (holder[0] != null) {
                holder[0].close();
            }
            open.removeIf(NativeRelease::released);
        });
        open.add(release);
        this.useGraphs = Boolean.parseBoolean(System.getProperty(GRAPHS_PROPERTY, "false"));
        try {
            // other threads (a codec engine, other sessions) copy on the legacy stream while this one may be capturing
            this.stream = Cuda.Stream.nonBlocking();
            int auxCount = engine.handle().getNbAuxStreams();
            if (useGraphs && auxCount > 0) {
                // an engine file of an earlier build: its auxiliary streams are TensorRT's own
                useGraphs = false;
                org.slf4j.LoggerFactory.getLogger(PagedDecoder.class).warn(
                        "decode steps run without CUDA graphs: the engine uses {} auxiliary streams (rebuild it)", auxCount);
            }
            holder[0] = stream;
            long layerBytes = engine.bytesPerBlock() / c.numLayers() * kvBlocks;
            caches = new Cuda.DeviceBuffer[c.numLayers()];
            for (int l = 0; l < caches.length; l++) {
                caches[l] = buffer(layerBytes);
            }
            long inputBytes = layout(shape.maxTokens(), shape.maxSequences()).bytes();
            inputs = buffer(inputBytes);
            logits = buffer(4L * shape.maxSequences() * c.audioVocabSize());
            hostInputs = pinned(inputBytes);
            hostLogits = pinned(logits.bytes());
            // the caches and the logits stay where they are for the decoder's life
            for (int l = 0; l < caches.length; l++) {
                bindings.shape(HiggsNetwork.kvCache(l), kvBlocks, 2, c.numKvHeads(), shape.blockSize(), c.headDim());
                bindings.address(HiggsNetwork.kvCache(l), caches[l], 0);
            }
            bindings.address(HiggsNetwork.LOGITS, logits, 0);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private Cuda.DeviceBuffer buffer(long bytes) {
        Cuda.DeviceBuffer b = new Cuda.DeviceBuffer(bytes);
        buffers.add(b);
        return b;
    }

    private Cuda.PinnedBuffer pinned(long bytes) {
        Cuda.PinnedBuffer b = new Cuda.PinnedBuffer(bytes);
        pinned.add(b);
        return b;
    }

    /** Byte offsets of the packed inputs in the one upload. */
    private record Layout(long ids, long codes, long mask, long positions, long slots, long tables, long last, long bytes) {
    }

    private Layout layout(int tokens, int sequences) {
        long ids = 0;
        long codes = align(ids + 4L * tokens);
        long mask = align(codes + 4L * tokens * c.numCodebooks());
        long positions = align(mask + tokens);
        long slots = align(positions + 4L * tokens);
        long tables = align(slots + 4L * tokens);
        long last = align(tables + 4L * sequences * shape.blocksPerSequence());
        return new Layout(ids, codes, mask, positions, slots, tables, last, align(last + 4L * sequences));
    }

    private static long align(long n) {
        return (n + ALIGN - 1) / ALIGN * ALIGN;
    }

    @Override
    public int maxSequence() {
        return shape.maxSequence();
    }

    /**
     * Positions a KV block holds (the runtime's blocks must be these).
     *
     * @return the block size
     */
    public int blockSize() {
        return shape.blockSize();
    }

    /**
     * Blocks in this decoder's cache (the runtime's pool must not exceed them).
     *
     * @return the block count
     */
    public int kvBlocks() {
        return kvBlocks;
    }

    /**
     * Runtime options that fit this decoder: at most the engine's sequences a step and tokens a
     * step, its block size, all its blocks.
     *
     * @param maxRunning    sequences that may run together (capped at the engine's)
     * @param queueCapacity requests that may wait
     * @return the options for a {@link dev.higgstrt.runtime.BatchRuntime} over this decoder
     */
    public dev.higgstrt.runtime.BatchRuntime.Options runtimeOptions(int maxRunning, int queueCapacity) {
        int running = Math.min(maxRunning, shape.maxSequences());
        int tokens = shape.maxTokens();
        return new dev.higgstrt.runtime.BatchRuntime.Options(running, queueCapacity, Math.max(1, Math.min(256, tokens - running)),
                tokens, shape.blockSize(), kvBlocks);
    }

    /**
     * Device bytes of this decoder's KV cache.
     *
     * @return bytes
     */
    public long kvBytes() {
        return engine.bytesPerBlock() * kvBlocks;
    }

    @Override
    public List<float[]> step(List<Work> batch) {
        if (release.released()) {
            throw new IllegalStateException("decoder is closed (or its engine is)");
        }
        if (batch.size() > shape.maxSequences()) {
            throw new IllegalArgumentException(batch.size() + " sequences in a step, the engine takes " + shape.maxSequences());
        }
        Map<Integer, RuntimeException> failures = new HashMap<>();
        List<Integer> run = new ArrayList<>();
        int tokens = 0;
        for (int i = 0; i < batch.size(); i++) {
            try {
                check(batch.get(i));
                run.add(i);
                tokens += batch.get(i).tokens().length();
            } catch (IllegalArgumentException e) {
                failures.put(i, e);
            }
        }
        if (tokens > shape.maxTokens()) {
            throw new IllegalArgumentException(tokens + " tokens in a step, the engine takes " + shape.maxTokens());
        }
        List<float[]> out = new ArrayList<>(java.util.Collections.nCopies(batch.size(), (float[]) null));
        if (!run.isEmpty()) {
            float[][] rows = execute(batch, run, tokens);
            for (int r = 0; r < run.size(); r++) {
                out.set(run.get(r), rows[r]);
            }
        }
        if (!failures.isEmpty()) {
            throw new StepFailure(out, failures);
        }
        return out;
    }

    /** One entry's positions, blocks and tokens against the engine and this cache. */
    private void check(Work w) {
        w.tokens().validate(c);
        int t = w.tokens().length();
        int end = w.past() + t;
        if (end > shape.maxSequence()) {   // Work itself refuses a negative past
            throw new IllegalArgumentException("sequence " + w.sequence() + ": positions up to " + end + " exceed the engine's "
                    + shape.maxSequence());
        }
        int needed = (end + shape.blockSize() - 1) / shape.blockSize();
        int[] table = w.blockTable();
        if (table == null || table.length < needed || table.length > shape.blocksPerSequence()) {
            throw new IllegalArgumentException("sequence " + w.sequence() + ": " + end + " positions need " + needed
                    + " KV blocks, its table has " + (table == null ? 0 : table.length));
        }
        for (int b = 0; b < needed; b++) {
            if (table[b] < 0 || table[b] >= kvBlocks) {
                throw new IllegalArgumentException("sequence " + w.sequence() + ": KV block " + table[b] + " outside the cache's "
                        + kvBlocks);
            }
        }
    }

    private float[][] execute(List<Work> batch, List<Integer> run, int tokens) {
        int s = run.size();
        Layout at = layout(tokens, s);
        long started = System.nanoTime();
        Cuda.setDevice(0);
        StepInputs packed = StepInputs.pack(batch, run, tokens, c, shape.blocksPerSequence());
        int textTokens = packed.textTokens();
        MemorySegment host = hostInputs.segment();
        MemorySegment.copy(packed.ids(), 0, host, ValueLayout.JAVA_INT, at.ids(), tokens);
        MemorySegment.copy(packed.codes(), 0, host, ValueLayout.JAVA_INT, at.codes(), packed.codes().length);
        MemorySegment.copy(packed.mask(), 0, host, ValueLayout.JAVA_BYTE, at.mask(), tokens);
        MemorySegment.copy(packed.positions(), 0, host, ValueLayout.JAVA_INT, at.positions(), tokens);
        MemorySegment.copy(packed.slots(), 0, host, ValueLayout.JAVA_INT, at.slots(), tokens);
        MemorySegment.copy(packed.tables(), 0, host, ValueLayout.JAVA_INT, at.tables(), packed.tables().length);
        MemorySegment.copy(packed.last(), 0, host, ValueLayout.JAVA_INT, at.last(), s);
        try {
            hostInputs.uploadTo(inputs, at.bytes(), stream);
            long shapeKey = ((long) tokens << 40) | ((long) textTokens << 20) | s;
            Cuda.Graph graph = graphs.get(shapeKey);
            if (graph == null) {   // a replayed graph has its shapes and addresses inside it
                bind(at, tokens, textTokens, s);
            }
            long enqueued = System.nanoTime();
            if (graph == null) {
                graph = graphFor(shapeKey);
            }
            if (graph != null) {
                graph.launch(stream);
                graphLaunches++;
            } else if (!context.enqueueV3(stream.handle())) {
                throw new TrtException("enqueueV3 of the paged engine failed: " + engine.logger().drainErrors()
                        + DualFfnPlugin.errorNote() + PagedAttentionPlugin.errorNote() + LinearPlugin.errorNote());
            }
            int width = c.audioVocabSize();
            long waited = System.nanoTime();
            hostLogits.downloadFrom(logits, 4L * s * width, stream);
            MemorySegment rows = hostLogits.segment();
            float[][] out = new float[s][];
            for (int r = 0; r < s; r++) {
                out[r] = rows.asSlice(4L * r * width, 4L * width).toArray(ValueLayout.JAVA_FLOAT);
            }
            lastTiming = new StepTiming(enqueued - started, waited - enqueued, System.nanoTime() - waited, graph != null);
            return out;
        } catch (RuntimeException e) {
            try {
                stream.synchronize();   // the pinned inputs are written again next step: the upload must be done
            } catch (RuntimeException ignored) {
                e.addSuppressed(ignored);
            }
            throw e;
        }
    }

    /** The step's input shapes and where in the uploaded inputs each input lies. */
    private void bind(Layout at, int tokens, int textTokens, int s) {
        int k = c.numCodebooks();
        bindings.shape(HiggsNetwork.INPUT_IDS, tokens);
        bindings.shape(HiggsNetwork.AUDIO_CODES, tokens, k);
        bindings.shape(HiggsNetwork.AUDIO_MASK, tokens, 1);
        bindings.shape(HiggsNetwork.POSITIONS, tokens);
        bindings.shape(HiggsNetwork.SLOTS, tokens);
        bindings.shape(HiggsNetwork.BLOCK_TABLES, s, shape.blocksPerSequence());
        bindings.shape(HiggsNetwork.LAST_TOKENS, s);
        bindings.address(HiggsNetwork.INPUT_IDS, inputs, at.ids());
        bindings.address(HiggsNetwork.AUDIO_CODES, inputs, at.codes());
        bindings.address(HiggsNetwork.AUDIO_MASK, inputs, at.mask());
        bindings.address(HiggsNetwork.POSITIONS, inputs, at.positions());
        bindings.address(HiggsNetwork.SLOTS, inputs, at.slots());
        bindings.address(HiggsNetwork.BLOCK_TABLES, inputs, at.tables());
        bindings.address(HiggsNetwork.LAST_TOKENS, inputs, at.last());
        if (engine.ffnMode() == FfnMode.PLUGIN) {
            bindings.shape(HiggsNetwork.TEXT_TOKENS, textTokens);
            bindings.address(HiggsNetwork.TEXT_TOKENS, inputs, at.ids());   // only its shape is read
        }
    }

    /**
     * The captured graph of calls of this shape: captured the second time a shape comes (the
     * first call of a shape also sets TensorRT up for it), up to {@value #MAX_GRAPHS} shapes;
     * null where the call is enqueued as it is.
     */
    private Cuda.Graph graphFor(long shapeKey) {
        Cuda.Graph graph = graphs.get(shapeKey);
        if (graph != null || !useGraphs || graphs.size() >= MAX_GRAPHS
                || shapesSeen.merge(shapeKey, 1, Integer::sum) < 2) {
            return graph;
        }
        try {
            graph = Cuda.Graph.capture(stream, () -> context.enqueueV3(stream.handle()));
            graphs.put(shapeKey, graph);
            return graph;
        } catch (TrtException e) {
            useGraphs = false;
            org.slf4j.LoggerFactory.getLogger(PagedDecoder.class).warn("decode steps run without CUDA graphs: {}", e.getMessage());
            return null;
        }
    }

    /**
     * Calls replayed as CUDA graphs so far.
     *
     * @return the count
     */
    public long graphLaunches() {
        return graphLaunches;
    }

    /**
     * The host's time of the last step that ran, by phase.
     *
     * @return the phases; zeros before the first step
     */
    public StepTiming lastStepTiming() {
        return lastTiming;
    }

    /**
     * An execution context's input shapes and tensor addresses, each set again only when it
     * changed: a step of a repeated shape then makes no TensorRT call before its enqueue (each
     * call converted the tensor's name and allocated its dims through JavaCPP).
     */
    private static final class Bindings implements AutoCloseable {
        private final IExecutionContext context;
        private final PagedEngine engine;
        private final Map<String, BytePointer> names = new HashMap<>();
        private final Map<String, long[]> shapes = new HashMap<>();
        private final Map<String, Long> addresses = new HashMap<>();
        private final Dims64 dims = new Dims64();

        Bindings(IExecutionContext context, PagedEngine engine) {
            this.context = context;
            this.engine = engine;
        }

        void shape(String name, long... d) {
            if (Arrays.equals(shapes.get(name), d)) {
                return;
            }
            dims.nbDims(d.length);
            for (int i = 0; i < d.length; i++) {
                dims.d(i, d[i]);
            }
            if (!context.setInputShape(name(name), dims)) {
                shapes.remove(name);
                throw new TrtException("setInputShape(" + name + ") failed: " + engine.logger().drainErrors());
            }
            shapes.put(name, d);
        }

        void address(String name, Cuda.DeviceBuffer b, long offset) {
            long where = b.pointer().address() + offset;
            Long last = addresses.get(name);
            if (last != null && last == where) {
                return;
            }
            Pointer p = offset == 0 ? b.pointer() : new Pointer(b.pointer()).position(offset);
            if (!context.setTensorAddress(name(name), p)) {
                addresses.remove(name);
                throw new TrtException("setTensorAddress(" + name + ") failed: " + engine.logger().drainErrors());
            }
            addresses.put(name, where);
        }

        private BytePointer name(String name) {
            return names.computeIfAbsent(name, BytePointer::new);
        }

        /** Frees the names and the dims (the context keeps copies of what was set). */
        @Override
        public void close() {
            names.values().forEach(Pointer::close);
            names.clear();
            dims.close();
        }
    }

    /** Nothing to free: the sequence's blocks belong to the runtime's pool. */
    @Override
    public void release(long sequence) {
    }

    /** Frees the KV cache, the buffers, the stream and the context. Idempotent. */
    @Override
    public void close() {
        release.close();
    }
}
