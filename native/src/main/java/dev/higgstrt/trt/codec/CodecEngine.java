package dev.higgstrt.trt.codec;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.higgstrt.audio.AudioDecoder;
import dev.higgstrt.audio.CodecConfig;
import dev.higgstrt.audio.CodecDecoder;
import dev.higgstrt.audio.CodecWeights;
import dev.higgstrt.io.Json;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.trt.cuda.Cuda;
import dev.higgstrt.trt.cuda.NativeRelease;
import dev.higgstrt.trt.engine.EngineFile;
import dev.higgstrt.trt.engine.HiggsNetwork;
import dev.higgstrt.trt.engine.PlanBuilder;
import dev.higgstrt.trt.tensorrt.TrtException;
import dev.higgstrt.trt.tensorrt.TrtLogger;
import dev.higgstrt.trt.tensorrt.TrtObjects;
import org.bytedeco.tensorrt.global.nvinfer;
import org.bytedeco.tensorrt.global.nvinfer.OptProfileSelector;
import org.bytedeco.tensorrt.nvinfer.ICudaEngine;
import org.bytedeco.tensorrt.nvinfer.IExecutionContext;
import org.bytedeco.tensorrt.nvinfer.IOptimizationProfile;
import org.bytedeco.tensorrt.nvinfer.IRuntime;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * The codec decoder as a TensorRT engine, built from a codec folder with the network API
 * ({@link CodecNetwork}) for up to {@code maxFrames} frames a call, in FP32, FP16 or BF16. It
 * decodes as the CPU reference does ({@link CodecDecoder}), which is the oracle its GPU test
 * compares with. One execution context: calls are serialized. Owns the runtime, engine, context,
 * stream and device buffers; {@link #close()} frees them.
 */
public final class CodecEngine implements AudioDecoder, AutoCloseable {
    private static final byte[] MAGIC = "HXCODEC1".getBytes(StandardCharsets.US_ASCII);

    private final CodecConfig config;
    private final DType dtype;
    private final int maxFrames;
    private final Arena planArena;
    private final MemorySegment plan;
    private final TrtLogger logger;
    private final IRuntime runtime;
    private final ICudaEngine engine;
    private final IExecutionContext context;
    private final Cuda.Stream stream;
    private final Cuda.DeviceBuffer codes;
    private final Cuda.DeviceBuffer audio;
    private final NativeRelease release;

    private CodecEngine(CodecConfig config, DType dtype, int maxFrames, Arena planArena, MemorySegment plan) {
        this.config = config;
        this.dtype = dtype;
        this.maxFrames = maxFrames;
        this.planArena = planArena;
        this.plan = plan;
        this.logger = new TrtLogger();
        IRuntime rt = null;
        ICudaEngine e = null;
        IExecutionContext ctx = null;
        Cuda.Stream s = null;
        Cuda.DeviceBuffer in = null;
        Cuda.DeviceBuffer out = null;
        try {
            rt = nvinfer.createInferRuntime(logger);
            if (rt == null || rt.isNull()) {
                throw new TrtException("createInferRuntime failed: " + logger.drainErrors());
            }
            e = rt.deserializeCudaEngine(TrtObjects.address(plan), plan.byteSize());
            if (e == null || e.isNull()) {
                throw new TrtException("deserializeCudaEngine failed: " + logger.drainErrors());
            }
            ctx = e.createExecutionContext();
            if (ctx == null || ctx.isNull()) {
                throw new TrtException("createExecutionContext failed: " + logger.drainErrors());
            }
            s = new Cuda.Stream();
            in = new Cuda.DeviceBuffer(4L * config.numQuantizers() * maxFrames);
            out = new Cuda.DeviceBuffer(4L * maxFrames * config.samplesPerFrame());
        } catch (RuntimeException ex) {
            free(out, in, s, ctx, e, rt, planArena, logger).run();
            throw ex;
        }
        this.runtime = rt;
        this.engine = e;
        this.context = ctx;
        this.stream = s;
        this.codes = in;
        this.audio = out;
        this.release = NativeRelease.register(this, "a CodecEngine (" + dtype.torchName() + ")",
                free(out, in, s, ctx, e, rt, planArena, logger));
    }

    private static Runnable free(Cuda.DeviceBuffer out, Cuda.DeviceBuffer in, Cuda.Stream s, IExecutionContext ctx,
                                 ICudaEngine e, IRuntime rt, Arena planArena, TrtLogger logger) {
        return () -> {
            if (out != null) {
                out.close();
            }
            if (in != null) {
                in.close();
            }
            if (s != null) {
                s.close();
            }
            TrtObjects.delete(ctx);
            TrtObjects.delete(e);
            TrtObjects.delete(rt);
            planArena.close();
            logger.close();
        };
    }

    /**
     * Builds the engine of a codec folder.
     *
     * @param codecFolder the codec (config.json and safetensors)
     * @param dtype       the compute dtype: F32 (TF32 off), F16 or BF16
     * @param maxFrames   the most frames one call decodes
     * @return the engine
     * @throws IOException when the codec cannot be read
     */
    public static CodecEngine build(Path codecFolder, DType dtype, int maxFrames) throws IOException {
        if (maxFrames < 1) {
            throw new IllegalArgumentException("max frames must be positive, got " + maxFrames);
        }
        CodecConfig config = CodecConfig.read(codecFolder);
        CodecWeights weights = CodecWeights.load(codecFolder, config);
        Arena planArena = Arena.ofShared();
        try (Arena arena = Arena.ofShared()) {
            MemorySegment plan = PlanBuilder.build("the codec engine", dtype, 1L << 31, null, network -> {
                CodecNetwork.define(network, weights, dtype, arena);
                return List.of();
            }, (builder, bc) -> {
                IOptimizationProfile p = builder.createOptimizationProfile();
                int k = config.numQuantizers();
                long[] t = {1, Math.min(maxFrames, 250), maxFrames};
                OptProfileSelector[] at = {OptProfileSelector.kMIN, OptProfileSelector.kOPT, OptProfileSelector.kMAX};
                for (int i = 0; i < 3; i++) {
                    if (!p.setDimensions(CodecNetwork.CODES, at[i], HiggsNetwork.dims(k, t[i]))) {
                        throw new TrtException("optimization profile rejected [" + k + ", " + t[i] + "] for codes");
                    }
                }
                bc.addOptimizationProfile(p);
            }, planArena);
            return new CodecEngine(config, dtype, maxFrames, planArena, plan);
        } catch (RuntimeException e) {
            planArena.close();
            throw e;
        }
    }

    /**
     * Writes the engine file: a header with the codec's config, dtype and frame limit, then the plan.
     *
     * @param file the engine file (written atomically)
     * @throws IOException when it cannot be written
     */
    public void save(Path file) throws IOException {
        ObjectNode meta = Json.PRETTY.createObjectNode();
        meta.set("codec_config", Json.STRICT.readTree(config.toJson()));
        meta.put("dtype", dtype.torchName());
        meta.put("max_frames", maxFrames);
        meta.put("tensorrt", nvinfer.getInferLibVersion());
        EngineFile.write(file, MAGIC, meta, plan);
    }

    /**
     * Loads an engine file written by {@link #save}.
     *
     * @param file the engine file
     * @return the engine
     * @throws IOException              when it cannot be read
     * @throws IllegalArgumentException when it is not a codec engine file
     */
    public static CodecEngine load(Path file) throws IOException {
        Arena arena = Arena.ofShared();
        try {
            EngineFile.Contents contents = EngineFile.read(file, MAGIC,
                    file + ": not a higgs-trt codec engine file (build one with higgs-trt build-codec)",
                    file + ": corrupt codec engine header", arena);
            JsonNode meta = contents.header();
            CodecConfig config = CodecConfig.parse(Json.pretty(meta.path("codec_config")));
            return new CodecEngine(config, DType.parse(meta.path("dtype").asText()), meta.path("max_frames").asInt(),
                    arena, contents.plan());
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    @Override
    public CodecConfig config() {
        return config;
    }

    /**
     * The compute dtype.
     *
     * @return F32, F16 or BF16
     */
    public DType dtype() {
        return dtype;
    }

    /**
     * The most frames one call decodes.
     *
     * @return the frame limit
     */
    @Override
    public int maxFrames() {
        return maxFrames;
    }

    /**
     * Decodes on the GPU; longer inputs than {@link #maxFrames()} are refused.
     *
     * @param frames codes [K][T], T at most {@link #maxFrames()}
     * @return {@code T * samplesPerFrame} samples
     */
    @Override
    public synchronized float[] decode(int[][] frames) {
        CodecDecoder.check(config, frames);
        int t = frames[0].length;
        if (t > maxFrames) {
            throw new IllegalArgumentException(t + " frames, the codec engine decodes at most " + maxFrames + " a call");
        }
        int k = config.numQuantizers();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment in = a.allocate(4L * k * t);
            for (int q = 0; q < k; q++) {
                MemorySegment.copy(frames[q], 0, in, ValueLayout.JAVA_INT_UNALIGNED, 4L * q * t, t);
            }
            codes.upload(in);
            if (!context.setInputShape(CodecNetwork.CODES, HiggsNetwork.dims(k, t))) {
                throw new TrtException("setInputShape(codes) failed: " + logger.drainErrors());
            }
            if (!context.setTensorAddress(CodecNetwork.CODES, codes.pointer())
                    || !context.setTensorAddress(CodecNetwork.AUDIO, audio.pointer())) {
                throw new TrtException("setTensorAddress failed: " + logger.drainErrors());
            }
            if (!context.enqueueV3(stream.handle())) {
                throw new TrtException("enqueueV3 of the codec failed: " + logger.drainErrors());
            }
            stream.synchronize();
            int samples = t * config.samplesPerFrame();
            MemorySegment out = a.allocate(4L * samples);
            audio.download(out);
            return out.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    /** Frees the engine and its buffers; idempotent. */
    @Override
    public void close() {
        release.close();
    }
}
