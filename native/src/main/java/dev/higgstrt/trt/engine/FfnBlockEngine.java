package dev.higgstrt.trt.engine;

import dev.higgstrt.trt.cuda.Cuda;
import dev.higgstrt.trt.plugin.DualFfnPlugin;
import dev.higgstrt.trt.cuda.NativeRelease;
import dev.higgstrt.trt.tensorrt.TrtException;
import dev.higgstrt.trt.tensorrt.TrtLogger;
import dev.higgstrt.trt.tensorrt.TrtObjects;

import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.Tensor;
import dev.higgstrt.weights.WeightMap;
import org.bytedeco.tensorrt.global.nvinfer;
import org.bytedeco.tensorrt.global.nvinfer.DataType;
import org.bytedeco.tensorrt.global.nvinfer.OptProfileSelector;
import org.bytedeco.tensorrt.nvinfer.ICudaEngine;
import org.bytedeco.tensorrt.nvinfer.IExecutionContext;
import org.bytedeco.tensorrt.nvinfer.IOptimizationProfile;
import org.bytedeco.tensorrt.nvinfer.IRuntime;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * A TensorRT engine of one feed-forward block of a decoder layer (hidden [T, H] and the audio mask
 * in, hidden [T, H] out), for checking the dual-FFN plugin against the CPU reference and for
 * timing it against its baselines. Not thread-safe; {@link #close()} frees everything once.
 */
public final class FfnBlockEngine implements AutoCloseable {
    /** What the block computes. */
    public enum Variant {
        /** The dual FFN by the plugin: each position its own path. */
        PLUGIN,
        /** The dual FFN with both paths computed for every position, then selected. */
        COMPUTE_BOTH,
        /** The text MLP for every position: one FFN's work, the floor the plugin is measured against. */
        TEXT_ONLY
    }

    private final int hidden;
    private final int maxTokens;
    private final DType dtype;
    private final boolean intMask;
    private final TrtLogger logger;
    private final IRuntime runtime;
    private final ICudaEngine engine;
    private final IExecutionContext context;
    private final Cuda.Stream stream;
    private final Cuda.DeviceBuffer input;
    private final Cuda.DeviceBuffer mask;
    private final Cuda.DeviceBuffer output;
    private final NativeRelease release;

    private FfnBlockEngine(int hidden, int maxTokens, DType dtype, boolean intMask, TrtLogger logger, IRuntime runtime,
                           ICudaEngine engine) {
        this.hidden = hidden;
        this.maxTokens = maxTokens;
        this.dtype = dtype;
        this.intMask = intMask;
        this.logger = logger;
        this.runtime = runtime;
        this.engine = engine;
        this.context = engine.createExecutionContext();
        if (context == null || context.isNull()) {
            TrtObjects.delete(engine);
            TrtObjects.delete(runtime);
            logger.close();
            throw new TrtException("createExecutionContext failed: " + logger.drainErrors());
        }
        this.stream = new Cuda.Stream();
        long rowBytes = (long) hidden * dtype.byteSize();
        this.input = new Cuda.DeviceBuffer(maxTokens * rowBytes);
        this.mask = new Cuda.DeviceBuffer(4L * maxTokens);
        this.output = new Cuda.DeviceBuffer(maxTokens * rowBytes);
        this.release = NativeRelease.register(this, "an FfnBlockEngine (hidden " + hidden + ")",
                releaseAction(List.of(input, mask, output), stream, context, engine, runtime, logger));
    }

    private static Runnable releaseAction(List<Cuda.DeviceBuffer> buffers, Cuda.Stream stream, IExecutionContext context,
                                          ICudaEngine engine, IRuntime runtime, TrtLogger logger) {
        return () -> {
            buffers.forEach(Cuda.DeviceBuffer::close);
            stream.close();
            TrtObjects.delete(context);
            TrtObjects.delete(engine);
            TrtObjects.delete(runtime);
            logger.close();
        };
    }

    /**
     * Builds the block of {@code layer} of a model from its canonical (transformers-named) weights.
     *
     * @param maxTokens the most positions a call may take
     * @param intMask   an INT32 audio mask instead of BOOL (plugin only)
     * @param c         the model config
     * @param canonical the weights under canonical names
     * @param layer     the layer index
     * @param dtype     the element type
     * @param variant   the variant
     * @return the block of {@code layer} of a model from its canonical (transformers-named) weights
     */
    public static FfnBlockEngine build(HiggsAudioConfig c, WeightMap canonical, int layer, DType dtype, int maxTokens,
                                       Variant variant, boolean intMask) {
        if (intMask && variant != Variant.PLUGIN) {
            throw new IllegalArgumentException("an INT32 audio mask is only taken by the plugin");
        }
        DualFfnPlugin plugin = variant == Variant.PLUGIN ? DualFfnPlugin.get() : null;
        try (Arena weights = Arena.ofShared(); Arena planArena = Arena.ofConfined()) {
            MemorySegment plan = PlanBuilder.build("the feed-forward block", dtype, 2L << 30, plugin,
                    network -> HiggsNetwork.defineFeedForwardBlock(network, c, canonical, dtype, weights, plugin, layer,
                            variant != Variant.TEXT_ONLY, intMask ? DataType.kINT32 : DataType.kBOOL),
                    (builder, config) -> {
                        IOptimizationProfile profile = builder.createOptimizationProfile();
                        long[] tokens = {1, Math.max(1, maxTokens / 2), maxTokens};
                        OptProfileSelector[] points = {OptProfileSelector.kMIN, OptProfileSelector.kOPT, OptProfileSelector.kMAX};
                        for (int i = 0; i < 3; i++) {
                            profile.setDimensions(HiggsNetwork.BLOCK_INPUT, points[i], HiggsNetwork.dims(tokens[i], c.hiddenSize()));
                            profile.setDimensions(HiggsNetwork.AUDIO_MASK, points[i], HiggsNetwork.dims(tokens[i], 1));
                        }
                        config.addOptimizationProfile(profile);
                    }, planArena);
            TrtLogger logger = new TrtLogger();
            IRuntime runtime = nvinfer.createInferRuntime(logger);
            ICudaEngine engine = runtime.deserializeCudaEngine(TrtObjects.address(plan), plan.byteSize());
            if (engine == null || engine.isNull()) {
                String errors = logger.drainErrors();
                TrtObjects.delete(runtime);
                logger.close();
                throw new TrtException("deserializing the feed-forward block failed: " + errors);
            }
            return new FfnBlockEngine(c.hiddenSize(), maxTokens, dtype, intMask, logger, runtime, engine);
        }
    }

    /**
     * Runs the block on {@code hidden} [tokens, H] (rounded to the compute type) and returns its output in FP32.
     *
     * @param hidden the hidden
     * @param audio  the audio
     * @return the block's output [tokens, H] in FP32
     */
    public float[] run(float[] hidden, boolean[] audio) {
        int tokens = audio.length;
        if (hidden.length != (long) tokens * this.hidden) {
            throw new IllegalArgumentException(hidden.length + " hidden values for " + tokens + " tokens of width " + this.hidden);
        }
        try (Arena arena = Arena.ofConfined()) {
            Tensor in = Tensor.fromFloats(dtype, Shape.of(tokens, this.hidden), hidden, arena);
            input.upload(in.data());
            setMask(audio, arena);
            enqueue(tokens);
            stream.synchronize();
            Tensor out = Tensor.allocate(dtype, Shape.of(tokens, this.hidden), arena);
            output.download(out.data());
            return out.toFloatArray();
        }
    }

    /**
     * Milliseconds per call on {@code audio.length} positions, averaged over {@code iterations}
     * back-to-back calls after {@code warmup} ones (inputs are whatever the buffers hold).
     *
     * @param audio      the audio
     * @param warmup     the warmup
     * @param iterations the iterations
     * @return milliseconds a call
     */
    public double millisPerCall(boolean[] audio, int warmup, int iterations) {
        try (Arena arena = Arena.ofConfined()) {
            setMask(audio, arena);
        }
        for (int i = 0; i < warmup; i++) {
            enqueue(audio.length);
        }
        stream.synchronize();
        long start = System.nanoTime();
        for (int i = 0; i < iterations; i++) {
            enqueue(audio.length);
        }
        stream.synchronize();
        return (System.nanoTime() - start) / 1e6 / iterations;
    }

    /**
     * Fills the input with values of about unit size, as a residual stream has.
     *
     * @param seed the random seed
     */
    public void randomizeInput(long seed) {
        java.util.Random r = new java.util.Random(seed);
        float[] values = new float[maxTokens * hidden];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) r.nextGaussian();
        }
        try (Arena arena = Arena.ofConfined()) {
            input.upload(Tensor.fromFloats(dtype, Shape.of(maxTokens, hidden), values, arena).data());
        }
    }

    private void setMask(boolean[] audio, Arena arena) {
        if (audio.length < 1 || audio.length > maxTokens) {
            throw new IllegalArgumentException(audio.length + " tokens outside [1, " + maxTokens + "]");
        }
        MemorySegment m = arena.allocate(intMask ? 4L * audio.length : audio.length);
        for (int i = 0; i < audio.length; i++) {
            if (intMask) {
                m.setAtIndex(ValueLayout.JAVA_INT, i, audio[i] ? 1 : 0);
            } else {
                m.set(ValueLayout.JAVA_BYTE, i, (byte) (audio[i] ? 1 : 0));
            }
        }
        mask.upload(m);
    }

    private void enqueue(int tokens) {
        if (release.released()) {
            throw new IllegalStateException("feed-forward block engine is closed");
        }
        if (!context.setInputShape(HiggsNetwork.BLOCK_INPUT, HiggsNetwork.dims(tokens, hidden))
                || !context.setInputShape(HiggsNetwork.AUDIO_MASK, HiggsNetwork.dims(tokens, 1))
                || !context.setTensorAddress(HiggsNetwork.BLOCK_INPUT, input.pointer())
                || !context.setTensorAddress(HiggsNetwork.AUDIO_MASK, mask.pointer())
                || !context.setTensorAddress(HiggsNetwork.BLOCK_OUTPUT, output.pointer())) {
            throw new TrtException("binding the feed-forward block's tensors failed: " + logger.drainErrors());
        }
        if (!context.enqueueV3(stream.handle())) {
            throw new TrtException("enqueueV3 of the feed-forward block failed: " + logger.drainErrors()
                    + DualFfnPlugin.errorNote());
        }
    }

    /**
     * Frees the buffers, the stream, the context, the engine and the runtime. Idempotent; an
     * engine never closed is released by a Cleaner once unreachable, with a warning.
     */
    @Override
    public void close() {
        release.close();
    }
}
