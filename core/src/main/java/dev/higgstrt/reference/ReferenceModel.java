package dev.higgstrt.reference;

import dev.higgstrt.decoding.Logits;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.model.LinearInputs;
import dev.higgstrt.model.LinearSite;
import dev.higgstrt.converted.ConvertedCheckpoint;
import dev.higgstrt.decoding.DecoderSession;
import dev.higgstrt.layout.HiggsAudioLayout;
import dev.higgstrt.quant.ActivationStats;
import dev.higgstrt.layout.SourceTensor;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.SourceLayout;
import dev.higgstrt.safetensors.SafetensorsCheckpoint;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.Tensor;
import dev.higgstrt.tensor.TensorSource;
import dev.higgstrt.weights.Weight;
import dev.higgstrt.weights.WeightMap;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The Higgs Audio v2 decoder on the CPU in float32: the numerics oracle that the converter, the
 * TensorRT engine, the plugin and quantization are measured against.
 *
 * <p>Per layer, each position takes the text path (input norm, MLP) or, when it holds an audio
 * frame and the layer has the audio path, the audio path (audio input norm, audio MLP); attention
 * (grouped-query, RoPE with llama3 scaling, causal) is shared. See docs/architecture.md.
 *
 * <p>The weights of a model whose float copy would take more than an eighth of the heap (or 256
 * MB) stay as stored (F32, BF16 or F16), in the checkpoint's memory mapping where they are plain
 * tensors of it, and are converted to float a block of rows at a time as they are used: the heap
 * then holds activations and the KV cache only, so the full model runs in a heap of 2 GB. Smaller
 * models are held as floats, the fastest to compute from; both give the same sums. A
 * model from {@link #load} owns the checkpoint it maps; {@link #close()} unmaps it. A model is
 * immutable and safe to use from several threads; each {@link Session} (one sequence with its KV
 * cache) is for one thread.
 */
public final class ReferenceModel implements AutoCloseable, ActivationStats.HookedForward {
    private final HiggsAudioConfig config;
    private final Map<String, Matrix> weights;
    private final boolean textHead;
    private final float[] invFreq;
    private final List<AutoCloseable> owned;

    private ReferenceModel(HiggsAudioConfig config, Map<String, Matrix> weights, List<AutoCloseable> owned) {
        this.config = config;
        this.weights = weights;
        this.textHead = weights.containsKey(SourceTensor.TEXT_HEAD.name(SourceLayout.TRANSFORMERS, 0));
        this.invFreq = config.rope().inverseFrequencies(config.headDim());
        this.owned = List.copyOf(owned);
    }

    /**
     * Loads a checkpoint of any layout: transformers, Boson, or a converted TensorRT-LLM folder
     * (whose ranks are merged back through the layout spec). The model maps the checkpoint until
     * it is closed.
     *
     * @param dir the checkpoint folder
     * @return the model
     * @throws IOException when the checkpoint cannot be read
     */
    public static ReferenceModel load(Path dir) throws IOException {
        HiggsAudioConfig config = HiggsAudioConfig.readFolder(dir);
        List<AutoCloseable> owned = new ArrayList<>();
        try {
            WeightMap canonical;
            if (config.layout() == SourceLayout.TRTLLM) {
                ConvertedCheckpoint ck = ConvertedCheckpoint.open(dir);
                owned.add(ck);
                canonical = ck.weights();
            } else {
                SafetensorsCheckpoint ck = SafetensorsCheckpoint.open(dir);
                owned.add(ck);
                HiggsAudioLayout.Resolution r = HiggsAudioLayout.resolve(config, ck.weights().names());
                canonical = HiggsAudioLayout.canonical(r, ck.weights());
            }
            Arena arena = Arena.ofShared();
            owned.add(arena);
            return new ReferenceModel(config, matrices(canonical, arena, false), owned);
        } catch (IOException | RuntimeException | Error e) {
            closeAll(owned);
            throw e;
        }
    }

    /**
     * A model of {@code config} with weights in canonical (transformers) names. The weights are
     * copied, in their own dtype, off the heap (into memory the model frees at {@link #close()},
     * or when it is collected), so the map's sources need not outlive the call.
     *
     * @param config    the geometry
     * @param canonical the weights under transformers' names
     * @return the model
     */
    public static ReferenceModel of(HiggsAudioConfig config, WeightMap canonical) {
        Arena arena = Arena.ofAuto();
        return new ReferenceModel(config, matrices(canonical, arena, true), List.of());
    }

    /**
     * Each weight as a matrix: a plain float tensor is used where it lies (a mapped file), other
     * sources (casts, merges, dequantized views) are materialized once into {@code arena}.
     */
    private static Map<String, Matrix> matrices(WeightMap canonical, Arena arena, boolean copyAll) {
        long floatBytes = 0;
        for (Weight weight : canonical) {
            floatBytes += 4 * weight.shape().elementCount();
        }
        boolean onHeap = floatBytes <= heapBudget();
        Map<String, Matrix> w = new HashMap<>();
        for (Weight weight : canonical) {
            TensorSource src = weight.tensor();
            if (!isFloat(src.dtype())) {
                src = src.cast(DType.F32);
            }
            Shape shape = src.shape();
            int rows = Math.toIntExact(shape.rank() == 1 ? 1 : shape.dim(0));
            int cols = Math.toIntExact(shape.rank() == 1 ? shape.dim(0) : shape.elementCount() / Math.max(1, rows));
            if (onHeap) {
                try (Arena scratch = Arena.ofConfined()) {
                    w.put(weight.name(), Matrix.of(src.materialize(scratch).toFloatArray(), rows, cols));
                }
                continue;
            }
            Tensor t = !copyAll && src instanceof Tensor plain ? plain : src.materialize(arena);
            w.put(weight.name(), new Matrix(t.data(), t.dtype(), rows, cols));
        }
        return Map.copyOf(w);
    }

    /**
     * Weights whose float copy fits in an eighth of the heap (at most 256 MB) are held as floats,
     * the fastest to compute from; larger models stay in their mapping or their own dtype.
     */
    private static long heapBudget() {
        return Math.min(256L << 20, Runtime.getRuntime().maxMemory() / 8);
    }

    private static boolean isFloat(DType d) {
        return d == DType.F32 || d == DType.BF16 || d == DType.F16;
    }

    /** Unmaps the checkpoint of a loaded model (idempotent); a model made by {@link #of} has nothing to close. */
    @Override
    public void close() {
        closeAll(owned);
    }

    private static void closeAll(List<AutoCloseable> resources) {
        for (AutoCloseable c : resources) {
            try {
                c.close();
            } catch (Exception | Error e) {
                // closing an already closed arena or checkpoint: nothing left to free
            }
        }
    }

    /**
     * The config.
     *
     * @return the config
     */
    public HiggsAudioConfig config() {
        return config;
    }

    /**
     * Whether the model has a text head (its own or tied).
     *
     * @return whether the model has a text head (its own or tied)
     */
    public boolean hasTextHead() {
        return textHead;
    }

    /**
     * A full forward pass over {@code input}, audio head only.
     *
     * @param input the positions
     * @return their audio logits
     */
    public Logits forward(TokenInput input) {
        return newSession().forward(input, Heads.AUDIO);
    }

    /**
     * A full forward pass over {@code input}.
     *
     * @param input the positions
     * @param heads which heads to compute (text logits only where the model has a text head)
     * @return their logits
     */
    public Logits forward(TokenInput input, Heads heads) {
        return newSession().forward(input, heads);
    }

    /**
     * A forward pass over {@code input} as a sequence of its own, its linear layers' activations
     * passing through {@code hook} (calibration, quantization simulation).
     *
     * @param input the positions
     * @param hook  the activation hook
     */
    @Override
    public void forward(TokenInput input, LinearInputs hook) {
        newSession(hook).forward(input);
    }

    /**
     * A new sequence with an empty KV cache.
     *
     * @return a new sequence with an empty KV cache
     */
    public Session newSession() {
        return new Session(LinearInputs.NONE);
    }

    /**
     * A new sequence whose linear layers' activations pass through {@code hook}.
     *
     * @param hook the activation hook
     * @return a new sequence whose linear layers' activations pass through {@code hook}
     */
    public Session newSession(LinearInputs hook) {
        return new Session(java.util.Objects.requireNonNull(hook, "hook"));
    }

    private Matrix w(SourceTensor t, int layer) {
        return weights.get(t.name(SourceLayout.TRANSFORMERS, layer));
    }

    /** A vector weight (a norm) as floats. */
    private float[] vector(SourceTensor t, int layer) {
        Matrix m = w(t, layer);
        float[] held = m.heapFloats();   // read only: the norms are never written
        return held != null ? held : m.toFloats();
    }

    /**
     * One sequence: positions are appended chunk by chunk (a prefill, then decode steps of one
     * position), attending to everything before them through the KV cache. Not thread-safe.
     */
    public final class Session implements DecoderSession {
        private final float[][] keys = new float[config.numLayers()][];
        private final float[][] values = new float[config.numLayers()][];
        private final LinearInputs hook;
        private int cached;

        private Session(LinearInputs hook) {
            this.hook = hook;
        }

        /**
         * Positions processed so far.
         *
         * @return positions processed so far
         */
        @Override
        public int length() {
            return cached;
        }

        /**
         * The model's {@code max_position_embeddings}.
         *
         * @return the room of a sequence
         */
        @Override
        public int capacity() {
            return config.maxPositionEmbeddings();
        }

        /** The reference holds its KV cache on the heap: nothing to free. */
        @Override
        public void close() {
        }

        /**
         * Appends {@code chunk} to the sequence and returns its positions' audio logits.
         *
         * @param chunk the positions to append
         * @return the chunk's audio logits
         * @throws IllegalArgumentException when the input does not fit the model
         */
        @Override
        public Logits forward(TokenInput chunk) {
            return forward(chunk, Heads.AUDIO);
        }

        /**
         * Appends {@code chunk} to the sequence and returns the logits of its positions.
         *
         * @param chunk the positions to append
         * @param heads which heads to compute
         * @return the chunk's logits
         * @throws IllegalArgumentException when the input does not fit the model
         */
        public Logits forward(TokenInput chunk, Heads heads) {
            boolean text = heads == Heads.AUDIO_AND_TEXT;
            HiggsAudioConfig c = config;
            chunk.validate(c);
            int t = chunk.length();
            if (cached + t > c.maxPositionEmbeddings()) {
                throw new IllegalArgumentException("sequence of " + (cached + t) + " positions exceeds max_position_embeddings "
                        + c.maxPositionEmbeddings());
            }
            int h = c.hiddenSize();
            boolean[] audio = new boolean[t];
            float[] x = embed(chunk, audio);
            for (int layer = 0; layer < c.numLayers(); layer++) {
                layer(layer, x, t, c.isDualFfn(layer) ? audio : new boolean[t]);
            }
            cached += t;
            float[] normed = new float[t * h];
            float[] norm = vector(SourceTensor.NORM, 0);
            for (int i = 0; i < t; i++) {
                Kernels.rmsNorm(x, i * h, norm, (float) c.rmsNormEps(), normed, i * h, h);
            }
            int a = c.audioVocabSize();
            float[] audioLogits = new float[t * a];
            Kernels.matmul(normed, t, h, w(SourceTensor.AUDIO_HEAD, 0), a, audioLogits);
            Optional<float[]> textLogits = Optional.empty();
            if (text && textHead) {
                float[] tl = new float[t * c.vocabSize()];
                Kernels.matmul(normed, t, h, w(SourceTensor.TEXT_HEAD, 0), c.vocabSize(), tl);
                textLogits = Optional.of(tl);
            }
            return new Logits(t, audioLogits, a, textLogits, c.vocabSize(), audio);
        }

        private float[] embed(TokenInput in, boolean[] audio) {
            HiggsAudioConfig c = config;
            int h = c.hiddenSize();
            int t = in.length();
            float[] x = new float[t * h];
            Matrix text = w(SourceTensor.EMBED_TOKENS, 0);
            Matrix codebooks = w(SourceTensor.AUDIO_EMBED, 0);
            float[] row = new float[h];
            int frame = 0;
            for (int i = 0; i < t; i++) {
                boolean isAudio = in.inputIds() == null || c.audioTokenIds().contains(in.inputIds()[i]);
                audio[i] = isAudio;
                if (!isAudio) {
                    text.read(in.inputIds()[i], 1, row);
                    System.arraycopy(row, 0, x, i * h, h);
                    continue;
                }
                int[] codes = in.audioFrames()[frame++];
                for (int k = 0; k < codes.length; k++) {
                    codebooks.read(k * c.codebookSize() + codes[k], 1, row);
                    for (int j = 0; j < h; j++) {
                        x[i * h + j] += row[j];
                    }
                }
            }
            return x;
        }

        private void layer(int layer, float[] x, int t, boolean[] audio) {
            HiggsAudioConfig c = config;
            int h = c.hiddenSize();
            int hd = c.headDim();
            int qDim = c.numHeads() * hd;
            int kvDim = c.numKvHeads() * hd;
            float eps = (float) c.rmsNormEps();
            float[] hn = new float[t * h];
            float[] textNorm = vector(SourceTensor.INPUT_LN, layer);
            float[] audioNorm = c.isDualFfn(layer) ? vector(SourceTensor.AUDIO_INPUT_LN, layer) : textNorm;
            for (int i = 0; i < t; i++) {
                float[] weight = audio[i] ? audioNorm : textNorm;
                Kernels.rmsNorm(x, i * h, weight, eps, hn, i * h, h);
            }
            float[] q = new float[t * qDim];
            float[] k = new float[t * kvDim];
            float[] v = new float[t * kvDim];
            hook.input(layer, LinearSite.QKV, hn, t, h);
            Kernels.matmul(hn, t, h, w(SourceTensor.Q, layer), qDim, q);
            Kernels.matmul(hn, t, h, w(SourceTensor.K, layer), kvDim, k);
            Kernels.matmul(hn, t, h, w(SourceTensor.V, layer), kvDim, v);
            hook.output(layer, LinearSite.QKV, q, t, qDim);
            hook.output(layer, LinearSite.QKV, k, t, kvDim);
            hook.output(layer, LinearSite.QKV, v, t, kvDim);
            for (int i = 0; i < t; i++) {
                rope(q, i * qDim, c.numHeads(), cached + i);
                rope(k, i * kvDim, c.numKvHeads(), cached + i);
            }
            keys[layer] = append(keys[layer], cached * kvDim, k);
            values[layer] = append(values[layer], cached * kvDim, v);
            float[] attn = attention(layer, q, t);
            float[] o = new float[t * h];
            hook.input(layer, LinearSite.DENSE, attn, t, qDim);
            Kernels.matmul(attn, t, qDim, w(SourceTensor.O, layer), h, o);
            hook.output(layer, LinearSite.DENSE, o, t, h);
            for (int i = 0; i < t * h; i++) {
                x[i] += o[i];
            }
            mlp(layer, x, t, audio, false);
            if (c.isDualFfn(layer)) {
                mlp(layer, x, t, audio, true);
            }
        }

        /** The MLP of one path over the positions routed to it, added to the residual. */
        private void mlp(int layer, float[] x, int t, boolean[] audio, boolean audioPath) {
            HiggsAudioConfig c = config;
            boolean[] routed = new boolean[t];
            for (int i = 0; i < t; i++) {
                routed[i] = audio[i] == audioPath;
            }
            FeedForward.PathWeights pw = new FeedForward.PathWeights(
                    vector(audioPath ? SourceTensor.AUDIO_POST_LN : SourceTensor.POST_LN, layer),
                    w(audioPath ? SourceTensor.AUDIO_GATE : SourceTensor.GATE, layer),
                    w(audioPath ? SourceTensor.AUDIO_UP : SourceTensor.UP, layer),
                    w(audioPath ? SourceTensor.AUDIO_DOWN : SourceTensor.DOWN, layer));
            FeedForward.addPath(x, t, routed, pw, (float) c.rmsNormEps(), new FeedForward.Site(hook, layer, audioPath));
        }

        /** Rotates pairs (i, i + d/2) of each head by position * invFreq[i] (GPT-NeoX style). */
        private void rope(float[] a, int offset, int heads, int position) {
            int hd = config.headDim();
            int half = hd / 2;
            for (int i = 0; i < half; i++) {
                float angle = (float) position * invFreq[i];
                float cos = (float) Math.cos(angle);
                float sin = (float) Math.sin(angle);
                for (int head = 0; head < heads; head++) {
                    int base = offset + head * hd;
                    float x1 = a[base + i];
                    float x2 = a[base + i + half];
                    a[base + i] = x1 * cos - x2 * sin;
                    a[base + i + half] = x2 * cos + x1 * sin;
                }
            }
        }

        private float[] append(float[] cache, int used, float[] add) {
            float[] out = cache;
            if (out == null || out.length < used + add.length) {
                out = new float[Math.max(used + add.length, out == null ? 0 : out.length * 2)];
                if (cache != null) {
                    System.arraycopy(cache, 0, out, 0, used);
                }
            }
            System.arraycopy(add, 0, out, used, add.length);
            return out;
        }

        /** Causal grouped-query attention of the new positions over the cache. */
        private float[] attention(int layer, float[] q, int t) {
            HiggsAudioConfig c = config;
            int hd = c.headDim();
            int qDim = c.numHeads() * hd;
            int kvDim = c.numKvHeads() * hd;
            int group = c.numHeads() / c.numKvHeads();
            float scale = (float) (1.0 / Math.sqrt(hd));
            float[] kc = keys[layer];
            float[] vc = values[layer];
            float[] out = new float[t * qDim];
            java.util.stream.IntStream tasks = java.util.stream.IntStream.range(0, t * c.numHeads());
            if ((long) t * (cached + t) * qDim > 1 << 16) {
                tasks = tasks.parallel();
            }
            tasks.forEach(task -> {
                int i = task / c.numHeads();
                int head = task % c.numHeads();
                int kvHead = head / group;
                int visible = cached + i + 1;
                float[] scores = new float[visible];
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < visible; j++) {
                    scores[j] = Kernels.dot(q, i * qDim + head * hd, kc, j * kvDim + kvHead * hd, hd) * scale;
                    max = Math.max(max, scores[j]);
                }
                double sum = 0;
                for (int j = 0; j < visible; j++) {
                    scores[j] = (float) Math.exp(scores[j] - max);
                    sum += scores[j];
                }
                float inv = (float) (1.0 / sum);
                int o = i * qDim + head * hd;
                for (int j = 0; j < visible; j++) {
                    float p = scores[j] * inv;
                    int vo = j * kvDim + kvHead * hd;
                    for (int d = 0; d < hd; d++) {
                        out[o + d] += p * vc[vo + d];
                    }
                }
            });
            return out;
        }
    }
}
