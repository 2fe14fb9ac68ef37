package dev.higgstrt.trt.engine;

import dev.higgstrt.trt.plugin.AllReducePlugin;
import dev.higgstrt.trt.cuda.Cuda;
import dev.higgstrt.trt.plugin.DualFfnPlugin;
import dev.higgstrt.trt.cuda.NativeRelease;
import dev.higgstrt.trt.parallel.ParallelEngine;
import dev.higgstrt.trt.tensorrt.TrtException;
import dev.higgstrt.trt.tensorrt.TrtObjects;

import dev.higgstrt.decoding.DecoderSession;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.decoding.Logits;
import dev.higgstrt.decoding.TokenInput;
import org.bytedeco.tensorrt.nvinfer.IExecutionContext;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One sequence on the GPU: an execution context, its CUDA stream, and the KV cache of every layer
 * in device memory (two buffers a layer, swapped after each call, since a call reads the past and
 * writes the present). {@link #forward} takes a prefill into the empty cache (engine profile 0),
 * then one position per decode step (profile 1). Not thread-safe; {@link #close()} frees
 * everything once.
 */
public final class EngineSession implements DecoderSession {
    private final HiggsEngine engine;
    private final HiggsAudioConfig c;
    private final RankLayout rank;
    private final IExecutionContext context;
    private final Cuda.Stream stream;
    private final List<Cuda.DeviceBuffer> buffers = new ArrayList<>();
    private final Cuda.DeviceBuffer[][] keys;
    private final Cuda.DeviceBuffer[][] values;
    private final Cuda.DeviceBuffer ids;
    private final Cuda.DeviceBuffer codes;
    private final Cuda.DeviceBuffer mask;
    private final Cuda.DeviceBuffer cos;
    private final Cuda.DeviceBuffer sin;
    private final Cuda.DeviceBuffer bias;
    private final Cuda.DeviceBuffer logits;
    private final Cuda.DeviceBuffer hiddenOut;
    private final float[] invFreq;
    private final NativeRelease release;
    private int current;
    private int cached;
    private int activeProfile;
    private int pendingLength = -1;

    EngineSession(HiggsEngine engine) {
        this.engine = engine;
        this.c = engine.config();
        this.rank = engine.rank();
        Cuda.setDevice(engine.device());
        this.context = engine.handle().createExecutionContext();
        if (context == null || context.isNull()) {
            throw new TrtException("createExecutionContext failed: " + engine.logger().drainErrors());
        }
        Cuda.Stream[] streamHolder = new Cuda.Stream[1];
        this.release = NativeRelease.register(this, "an EngineSession", releaseAction(engine.sessions(), context, streamHolder, buffers));
        engine.sessions().add(release);
        try {
            this.stream = new Cuda.Stream();
            streamHolder[0] = stream;
            int max = engine.maxSequence();
            int hd = c.headDim();
            long kvBytes = (long) rank.kvHeads() * max * hd * engine.dtype().byteSize();
            int layers = rank.layers().length;
            keys = new Cuda.DeviceBuffer[layers][2];
            values = new Cuda.DeviceBuffer[layers][2];
            for (int l = 0; l < layers; l++) {
                for (int i = 0; i < 2; i++) {
                    keys[l][i] = buffer(kvBytes);
                    values[l][i] = buffer(kvBytes);
                }
            }
            int group = rank.group();
            ids = rank.first() ? buffer(4L * max) : null;
            codes = rank.first() ? buffer(4L * max * c.numCodebooks()) : null;
            mask = buffer(max);
            cos = buffer(4L * max * hd);
            sin = buffer(4L * max * hd);
            bias = buffer(4L * group * max * max);
            logits = rank.last() ? buffer(4L * max * rank.logitsWidth(c)) : null;
            hiddenOut = rank.last() ? null : buffer((long) max * c.hiddenSize() * engine.dtype().byteSize());
            invFreq = c.rope().inverseFrequencies(hd);
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

    /**
     * The engine's longest sequence.
     *
     * @return the engine's {@code maxSequence}
     */
    @Override
    public int capacity() {
        return engine.maxSequence();
    }

    /**
     * Appends {@code chunk} and downloads the audio logits of its last position alone.
     *
     * @param chunk the positions to append
     * @return the last position's audio logits (FP32)
     */
    @Override
    public float[] forwardLast(TokenInput chunk) {
        if (!rank.first() || !rank.last() || rank.mapping().tpSize() != 1) {
            return DecoderSession.super.forwardLast(chunk);
        }
        int t = begin(chunk, null);
        finish();
        int w = rank.logitsWidth(c);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(4L * w);
            logits.download(out, 4L * (t - 1) * w);
            float[] row = out.toArray(ValueLayout.JAVA_FLOAT);
            return w == c.audioVocabSize() ? row : java.util.Arrays.copyOf(row, c.audioVocabSize());
        }
    }

    @Override
    public int length() {
        return cached;
    }

    /**
     * Appends {@code chunk} and returns its positions' audio logits (FP32).
     *
     * @throws IllegalStateException on the engine of one rank of a tp x pp layout (run those through a
     *                               {@link ParallelEngine})
     */
    @Override
    public Logits forward(TokenInput chunk) {
        if (!rank.first() || !rank.last() || rank.mapping().tpSize() != 1) {
            throw new IllegalStateException("this engine is rank " + rank.mapping().rank() + " of tp "
                    + rank.mapping().tpSize() + " x pp " + rank.mapping().ppSize() + ": run it through a ParallelEngine");
        }
        int t = begin(chunk, null);
        finish();
        return new Logits(t, logitsOf(t), c.audioVocabSize(), Optional.empty(), c.vocabSize(), audioMask(c, chunk));
    }

    /**
     * Checks {@code chunk}, uploads its inputs and enqueues the engine on this session's stream, reading
     * {@code hiddenIn} ([T, H], compute type) where the engine is a later pipeline stage. The cache
     * advances at {@link #finish()}. Returns the chunk's length.
     *
     * @param chunk    the chunk
     * @param hiddenIn the hidden in
     * @return the chunk's length
     */
    public int begin(TokenInput chunk, Cuda.DeviceBuffer hiddenIn) {
        if (release.released()) {
            throw new IllegalStateException("session is closed (or its engine is)");
        }
        if (pendingLength >= 0) {
            throw new IllegalStateException("the previous step was not finished");
        }
        checkStep(c, chunk, cached, engine.maxSequence());
        int t = chunk.length();
        int p = cached;
        int s = p + t;
        if (rank.first() != (hiddenIn == null)) {
            throw new IllegalArgumentException(rank.first() ? "the first stage takes no hidden input" : "a later stage needs the hidden input");
        }
        Cuda.setDevice(engine.device());
        int profile = p == 0 ? HiggsEngine.PREFILL_PROFILE : HiggsEngine.DECODE_PROFILE;
        if (profile != activeProfile) {
            if (!context.setOptimizationProfileAsync(profile, stream.handle())) {
                throw new TrtException("setOptimizationProfileAsync(" + profile + ") failed: " + engine.logger().drainErrors());
            }
            activeProfile = profile;
        }
        int hd = c.headDim();
        int k = c.numCodebooks();
        int group = rank.group();
        boolean[] audio = audioMask(c, chunk);
        try (Arena arena = Arena.ofConfined()) {
            if (rank.first()) {
                MemorySegment idSeg = arena.allocate(4L * t);
                MemorySegment codeSeg = arena.allocate(4L * t * k);
                int frame = 0;
                for (int i = 0; i < t; i++) {
                    idSeg.set(ValueLayout.JAVA_INT, 4L * i, chunk.inputIds() == null ? 0 : chunk.inputIds()[i]);
                    if (audio[i]) {
                        int[] f = chunk.audioFrames()[frame++];
                        for (int j = 0; j < k; j++) {
                            codeSeg.set(ValueLayout.JAVA_INT, 4L * (i * k + j), f[j]);
                        }
                    }
                }
                ids.upload(idSeg);
                codes.upload(codeSeg);
                shape(HiggsNetwork.INPUT_IDS, t);
                shape(HiggsNetwork.AUDIO_CODES, t, k);
                address(HiggsNetwork.INPUT_IDS, ids);
                address(HiggsNetwork.AUDIO_CODES, codes);
            } else {
                shape(HiggsNetwork.BLOCK_INPUT, t, c.hiddenSize());
                address(HiggsNetwork.BLOCK_INPUT, hiddenIn);
            }
            MemorySegment maskSeg = arena.allocate(t);
            for (int i = 0; i < t; i++) {
                maskSeg.set(ValueLayout.JAVA_BYTE, i, (byte) (audio[i] ? 1 : 0));
            }
            MemorySegment cosSeg = arena.allocate(4L * t * hd);
            MemorySegment sinSeg = arena.allocate(4L * t * hd);
            int half = hd / 2;
            for (int i = 0; i < t; i++) {
                for (int j = 0; j < half; j++) {
                    float angle = (float) (p + i) * invFreq[j];
                    float cv = (float) Math.cos(angle);
                    float sv = (float) Math.sin(angle);
                    cosSeg.set(ValueLayout.JAVA_FLOAT, 4L * (i * hd + j), cv);
                    cosSeg.set(ValueLayout.JAVA_FLOAT, 4L * (i * hd + j + half), cv);
                    sinSeg.set(ValueLayout.JAVA_FLOAT, 4L * (i * hd + j), sv);
                    sinSeg.set(ValueLayout.JAVA_FLOAT, 4L * (i * hd + j + half), sv);
                }
            }
            MemorySegment biasSeg = arena.allocate(4L * group * t * s);
            for (int g = 0; g < group; g++) {
                for (int i = 0; i < t; i++) {
                    long row = (long) (g * t + i) * s;
                    for (int j = 0; j < s; j++) {
                        biasSeg.set(ValueLayout.JAVA_FLOAT, 4L * (row + j), j <= p + i ? 0f : Float.NEGATIVE_INFINITY);
                    }
                }
            }
            mask.upload(maskSeg);
            cos.upload(cosSeg);
            sin.upload(sinSeg);
            bias.upload(biasSeg);

            shape(HiggsNetwork.AUDIO_MASK, t, 1);
            shape(HiggsNetwork.ROPE_COS, t, hd);
            shape(HiggsNetwork.ROPE_SIN, t, hd);
            shape(HiggsNetwork.ATTENTION_BIAS, 1, (long) group * t, s);
            address(HiggsNetwork.AUDIO_MASK, mask);
            address(HiggsNetwork.ROPE_COS, cos);
            address(HiggsNetwork.ROPE_SIN, sin);
            address(HiggsNetwork.ATTENTION_BIAS, bias);
            address(rank.last() ? HiggsNetwork.LOGITS : HiggsNetwork.BLOCK_OUTPUT, rank.last() ? logits : hiddenOut);
            int next = 1 - current;
            int[] layers = rank.layers();
            for (int i = 0; i < layers.length; i++) {
                int l = layers[i];
                shape(HiggsNetwork.pastKey(l), rank.kvHeads(), p, hd);
                shape(HiggsNetwork.pastValue(l), rank.kvHeads(), p, hd);
                address(HiggsNetwork.pastKey(l), keys[i][current]);
                address(HiggsNetwork.pastValue(l), values[i][current]);
                address(HiggsNetwork.presentKey(l), keys[i][next]);
                address(HiggsNetwork.presentValue(l), values[i][next]);
            }
            if (!context.enqueueV3(stream.handle())) {
                throw new TrtException("enqueueV3 failed: " + engine.logger().drainErrors() + DualFfnPlugin.errorNote()
                        + AllReducePlugin.errorNote());
            }
        }
        pendingLength = t;
        return t;
    }

    /** Waits for the step that {@link #begin} enqueued and advances the cache past it. */
    public void finish() {
        if (pendingLength < 0) {
            throw new IllegalStateException("no step to finish");
        }
        stream.synchronize();
        current = 1 - current;
        cached += pendingLength;
        pendingLength = -1;
    }

    /**
     * The logits of the last finished step, [t, this rank's width], on the last stage.
     *
     * @param t the t
     * @return the logits of the last finished step, [t, this rank's width], on the last stage
     */
    public float[] logitsOf(int t) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(4L * t * rank.logitsWidth(c));
            logits.download(out);
            return out.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    /**
     * The hidden states the last finished step passes to the next stage, [t, H] in the compute type.
     *
     * @return the hidden states the last finished step passes to the next stage, [t, H] in the compute type
     */
    public Cuda.DeviceBuffer hiddenOut() {
        return hiddenOut;
    }

    /**
     * Checks that {@code chunk} is valid for the model and may follow {@code cached} positions: the
     * prefill, or one position a step, within {@code maxSequence}.
     *
     * @param c           the model config
     * @param chunk       the chunk
     * @param cached      the cached
     * @param maxSequence the max sequence
     */
    public static void checkStep(HiggsAudioConfig c, TokenInput chunk, int cached, int maxSequence) {
        chunk.validate(c);
        int t = chunk.length();
        if (cached + t > maxSequence) {
            throw new IllegalArgumentException("sequence of " + (cached + t) + " positions exceeds the engine's maximum " + maxSequence);
        }
        if (cached > 0 && t != 1) {
            throw new IllegalArgumentException("after the prefill, positions are decoded one at a time (got " + t
                    + " positions after " + cached + ")");
        }
    }

    /**
     * Which positions of {@code chunk} are audio (all of them where it has no ids).
     *
     * @param c     the model config
     * @param chunk the chunk
     * @return which positions of {@code chunk} are audio (all of them where it has no ids)
     */
    public static boolean[] audioMask(HiggsAudioConfig c, TokenInput chunk) {
        boolean[] audio = new boolean[chunk.length()];
        for (int i = 0; i < audio.length; i++) {
            audio[i] = chunk.inputIds() == null || c.audioTokenIds().contains(chunk.inputIds()[i]);
        }
        return audio;
    }

    private void shape(String name, long... dims) {
        if (!context.setInputShape(name, HiggsNetwork.dims(dims))) {
            throw new TrtException("setInputShape(" + name + ") failed: " + engine.logger().drainErrors());
        }
    }

    private void address(String name, Cuda.DeviceBuffer b) {
        if (!context.setTensorAddress(name, b.pointer())) {
            throw new TrtException("setTensorAddress(" + name + ") failed: " + engine.logger().drainErrors());
        }
    }

    private static Runnable releaseAction(java.util.Set<NativeRelease> engineSessions, IExecutionContext context,
                                          Cuda.Stream[] stream, List<Cuda.DeviceBuffer> buffers) {
        return () -> {
            for (Cuda.DeviceBuffer b : buffers) {
                b.close();
            }
            if (stream[0] != null) {
                stream[0].close();
            }
            TrtObjects.delete(context);
            engineSessions.removeIf(NativeRelease::released);
        };
    }

    /**
     * Frees the KV cache, the buffers, the stream and the context. Idempotent; closing the engine
     * closes its sessions. A session never closed is released by a Cleaner once unreachable, with a warning.
     */
    @Override
    public void close() {
        release.close();
    }
}
