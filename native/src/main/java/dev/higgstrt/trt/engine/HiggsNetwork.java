package dev.higgstrt.trt.engine;

import dev.higgstrt.trt.tensorrt.TrtObjects;
import dev.higgstrt.converted.ConvertedCheckpoint;
import dev.higgstrt.trt.plugin.AllReducePlugin;
import dev.higgstrt.trt.plugin.DualFfnPlugin;
import dev.higgstrt.trt.plugin.LinearPlugin;
import dev.higgstrt.trt.plugin.PagedAttentionPlugin;
import dev.higgstrt.trt.tensorrt.TrtException;

import dev.higgstrt.layout.SourceTensor;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.SourceLayout;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Tensor;
import dev.higgstrt.tensor.TensorSource;
import dev.higgstrt.weights.WeightMap;
import org.bytedeco.tensorrt.global.nvinfer.ActivationType;
import org.bytedeco.tensorrt.global.nvinfer.DataType;
import org.bytedeco.tensorrt.global.nvinfer.ElementWiseOperation;
import org.bytedeco.tensorrt.global.nvinfer.MatrixOperation;
import org.bytedeco.tensorrt.global.nvinfer.ReduceOperation;
import org.bytedeco.tensorrt.global.nvinfer.UnaryOperation;
import org.bytedeco.tensorrt.nvinfer.Dims64;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.tensorrt.nvinfer.INetworkDefinition;
import org.bytedeco.tensorrt.nvinfer.IPluginV3;
import org.bytedeco.tensorrt.nvinfer.IPluginV3Layer;
import org.bytedeco.tensorrt.nvinfer.IShuffleLayer;
import org.bytedeco.tensorrt.nvinfer.ITensor;
import org.bytedeco.tensorrt.nvinfer.Permutation;
import org.bytedeco.tensorrt.nvinfer.Weights;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;

/**
 * The Higgs Audio v2 decoder as a strongly typed TensorRT network, batch 1, with the KV cache as
 * explicit inputs and outputs. The host supplies, per call of T new positions after P cached ones:
 *
 * <ul>
 * <li>{@code input_ids} INT32 [T], {@code audio_codes} INT32 [T, K] (zeros at text positions),
 *     {@code audio_mask} BOOL [T, 1];</li>
 * <li>{@code rope_cos}, {@code rope_sin} FLOAT [T, d]: the rotary tables of positions P..P+T-1
 *     (llama3 scaling applied on the host, as in the reference);</li>
 * <li>{@code attention_bias} FLOAT [1, group*T, P+T]: 0 where a query may attend, -inf elsewhere
 *     (causal), repeated for the query heads of each kv head;</li>
 * <li>{@code past_key_L}, {@code past_value_L} [nKV, P, d] per layer;</li>
 * </ul>
 * and gets {@code logits} FLOAT [T, K * codebook_size] and {@code present_key_L},
 * {@code present_value_L} [nKV, P+T, d]. Norms and softmax run in FP32 whatever the compute type.
 * The dual FFN of each dual-FFN layer is either the {@link DualFfnPlugin} (each position computes
 * its own path) or, as the measured baseline, both paths computed for every position and selected.
 */
public final class HiggsNetwork {
    static final String INPUT_IDS = "input_ids";
    static final String AUDIO_CODES = "audio_codes";
    static final String AUDIO_MASK = "audio_mask";
    static final String ROPE_COS = "rope_cos";
    static final String ROPE_SIN = "rope_sin";
    static final String ATTENTION_BIAS = "attention_bias";
    static final String LOGITS = "logits";
    static final String BLOCK_INPUT = "hidden";
    static final String BLOCK_OUTPUT = "hidden_out";
    static final String POSITIONS = "positions";
    static final String SLOTS = "slots";
    static final String BLOCK_TABLES = "block_tables";
    static final String LAST_TOKENS = "last_tokens";
    static final String TEXT_TOKENS = "text_tokens";

    private final INetworkDefinition net;
    private final HiggsAudioConfig c;
    private final WeightMap w;
    private final java.util.Map<String, TensorSource> scales;
    private final ConvertedCheckpoint.Quantized stored;
    private final DType dtype;
    private final DataType trtType;
    private final Arena arena;
    private final DualFfnPlugin plugin;
    private final RankLayout rank;
    private final AllReducePlugin allReduce;
    private final List<Object> keepAlive = new ArrayList<>();
    private final List<IPluginV3> plugins = new ArrayList<>();
    /** The packed network's count of text tokens (as its shape) for the dual-FFN plugin; null elsewhere. */
    private ITensor textTokens;

    private HiggsNetwork(INetworkDefinition net, HiggsAudioConfig c, RankLayout rank, ConvertedCheckpoint.Quantized stored,
                         DType dtype, Arena arena, DualFfnPlugin plugin) {
        this.net = net;
        this.c = c;
        this.w = stored.weights();
        this.scales = stored.scales();
        this.stored = stored;
        this.dtype = dtype;
        this.trtType = trtType(dtype);
        this.arena = arena;
        this.plugin = plugin;
        this.rank = rank;
        this.allReduce = rank.reduceWorld() > 0 ? AllReducePlugin.get() : null;
    }

    static String pastKey(int layer) {
        return "past_key_" + layer;
    }

    static String pastValue(int layer) {
        return "past_value_" + layer;
    }

    static String presentKey(int layer) {
        return "present_key_" + layer;
    }

    static String presentValue(int layer) {
        return "present_value_" + layer;
    }

    static String kvCache(int layer) {
        return "kv_cache_" + layer;
    }

    static DataType trtType(DType d) {
        return switch (d) {
            case F32 -> DataType.kFLOAT;
            case F16 -> DataType.kHALF;
            case BF16 -> DataType.kBF16;
            default -> throw new IllegalArgumentException("engine dtype must be float32, float16 or bfloat16, got " + d);
        };
    }

    /**
     * Defines the network; weights are copied into {@code arena}, which must stay open until the
     * engine is built. With a {@code plugin}, every dual-FFN layer uses it; the plugin instances
     * returned belong to the caller, who destroys them after the build. A weight with scales in
     * {@code stored} is I8 or F8_E4M3 and enters the network as such, dequantized by its row
     * scales ([out, 1]) right before its product; an FP8 weight whose site has a static
     * activation scale also gets its input quantized to FP8 and dequantized with that scale, so
     * that TensorRT can run the product in FP8.
     *
     * <p>For a rank of a tp x pp layout ({@code rank}, weights from {@code ConvertedCheckpoint.rank}) the
     * network holds that rank's layers and heads; a stage after the first takes {@code hidden}
     * [T, H] (compute type) instead of the token inputs, and one before the last returns
     * {@code hidden_out} instead of logits. The last stage's logits are the rank's rows of the
     * audio head. With an all-reduce, the attention's dense output and the FFN output are summed
     * over the tp group (the {@link AllReducePlugin}) before each residual add.
     */
    static List<IPluginV3> define(INetworkDefinition net, HiggsAudioConfig c, RankLayout rank, ConvertedCheckpoint.Quantized stored,
                                  DType dtype, Arena arena, DualFfnPlugin plugin) {
        HiggsNetwork network = new HiggsNetwork(net, c, rank, stored, dtype, arena, plugin);
        try {
            network.define();
        } catch (RuntimeException e) {
            network.plugins.forEach(PlanBuilder::destroy);
            throw e;
        }
        return List.copyOf(network.plugins);
    }

    private void define() {
        int h = c.hiddenSize();
        int hd = c.headDim();
        ITensor mask = net.addInput(AUDIO_MASK, DataType.kBOOL, dims(-1, 1));
        ITensor cos = cast(net.addInput(ROPE_COS, DataType.kFLOAT, dims(-1, hd)), trtType);
        ITensor sin = cast(net.addInput(ROPE_SIN, DataType.kFLOAT, dims(-1, hd)), trtType);
        ITensor bias = net.addInput(ATTENTION_BIAS, DataType.kFLOAT, dims(1, -1, -1));
        ITensor x = rank.first() ? embeddings(mask) : net.addInput(BLOCK_INPUT, trtType, dims(-1, h));
        ITensor rotate = rotateHalfMatrix(hd);
        for (int layer : rank.layers()) {
            x = layer(layer, x, mask, cos, sin, bias, rotate);
        }
        if (!rank.last()) {
            x.setName(BLOCK_OUTPUT);
            net.markOutput(x);
            return;
        }
        ITensor normed = rmsNorm(x, SourceTensor.NORM, 0);
        ITensor logits = linear(normed, SourceTensor.AUDIO_HEAD, 0);
        ITensor out = cast(logits, DataType.kFLOAT);
        out.setName(LOGITS);
        net.markOutput(out);
    }

    /**
     * Defines the packed, batched network of the whole model (tp 1, pp 1) over a paged KV cache:
     * the tokens of many sequences in one call, attention by the {@link PagedAttentionPlugin}.
     * Inputs per call of T tokens of S sequences: {@code input_ids} [T], {@code audio_codes} [T, K],
     * {@code audio_mask} BOOL [T, 1], {@code positions} and {@code slots} (the token's row of the
     * block tables) INT32 [T], {@code block_tables} INT32 [S, M], {@code last_tokens} INT32 [S]
     * (each sequence's last token in the packing), and per layer {@code kv_cache_L} [N, 2, nKV,
     * B, d] in the compute type, which the attention writes in place; with the dual-FFN plugin also
     * {@code text_tokens} INT32 [number of text tokens], whose shape alone is read (the plugin
     * then needs no host round trip, and a call can be captured as a CUDA graph). Output: {@code logits}
     * FLOAT [S, K * codebook_size], the audio logits of each sequence's last token. With a {@code linear}
     * plugin, the attention's projections (with the input norm and the residual) and the audio head
     * (with the final norm) of weights in the compute type are {@link LinearPlugin} layers; null, or
     * quantized weights, take TensorRT's GEMMs.
     */
    static List<IPluginV3> definePacked(INetworkDefinition net, HiggsAudioConfig c, ConvertedCheckpoint.Quantized stored,
                                        DType dtype, Arena arena, DualFfnPlugin plugin, PagedAttentionPlugin attention,
                                        LinearPlugin linear, int blockSize) {
        HiggsNetwork network = new HiggsNetwork(net, c, RankLayout.whole(c), stored, dtype, arena, plugin);
        try {
            network.definePacked(attention, linear, blockSize);
        } catch (RuntimeException e) {
            network.plugins.forEach(PlanBuilder::destroy);
            throw e;
        }
        return List.copyOf(network.plugins);
    }

    private void definePacked(PagedAttentionPlugin attention, LinearPlugin linear, int blockSize) {
        int hd = c.headDim();
        ITensor mask = net.addInput(AUDIO_MASK, DataType.kBOOL, dims(-1, 1));
        Packing packing = new Packing(net.addInput(POSITIONS, DataType.kINT32, dims(-1)),
                net.addInput(SLOTS, DataType.kINT32, dims(-1)), net.addInput(BLOCK_TABLES, DataType.kINT32, dims(-1, -1)),
                floatConstant(c.rope().inverseFrequencies(hd), dims(hd / 2), DataType.kFLOAT), attention, linear, blockSize);
        ITensor last = net.addInput(LAST_TOKENS, DataType.kINT32, dims(-1));
        if (plugin != null) {
            textTokens = net.addInput(TEXT_TOKENS, DataType.kINT32, dims(-1));
        }
        ITensor x = embeddings(mask);
        for (int layer = 0; layer < c.numLayers(); layer++) {
            x = packedLayer(layer, x, mask, packing);
        }
        ITensor lastRows = net.addGather(x, last, 0).getOutput(0);
        ITensor head = inComputeType(linear, 0, SourceTensor.AUDIO_HEAD)
                ? linearPlugin(linear, "audio_head", lastRows, List.of(constant(SourceTensor.AUDIO_HEAD, 0)),
                        List.of(normWeight(SourceTensor.NORM, 0)), LinearPlugin.Norm.SHARED, null)[0]
                : linear(rmsNorm(lastRows, SourceTensor.NORM, 0), SourceTensor.AUDIO_HEAD, 0);
        ITensor out = cast(head, DataType.kFLOAT);
        out.setName(LOGITS);
        net.markOutput(out);
    }

    /** What every layer's attention of the packed network shares. */
    private record Packing(ITensor positions, ITensor slots, ITensor tables, ITensor invFreq,
                           PagedAttentionPlugin attention, LinearPlugin linear, int blockSize) {
    }

    private ITensor packedLayer(int layer, ITensor x, ITensor mask, Packing p) {
        boolean dual = c.isDualFfn(layer);
        int hd = c.headDim();
        boolean fused = inComputeType(p.linear(), layer, SourceTensor.Q, SourceTensor.K, SourceTensor.V, SourceTensor.O);
        List<ITensor> projected;   // q and kv, or (fused) one qkv tensor: one GEMM of the three weights a prefill
        if (fused) {
            // the input norm inside the projection: each token's path's norm in a dual-FFN layer
            List<ITensor> norm = dual
                    ? List.of(mask, normWeight(SourceTensor.INPUT_LN, layer), normWeight(SourceTensor.AUDIO_INPUT_LN, layer))
                    : List.of(normWeight(SourceTensor.INPUT_LN, layer));
            projected = List.of(linearPlugin(p.linear(), "qkv_" + layer, x,
                    List.of(matrix(List.of(SourceTensor.Q, SourceTensor.K, SourceTensor.V), layer)), norm,
                    dual ? LinearPlugin.Norm.PER_PATH : LinearPlugin.Norm.SHARED, null));
        } else {
            ITensor hn = inputNorm(x, mask, layer, dual);
            projected = List.of(linear(hn, SourceTensor.Q, layer),
                    net.addMatrixMultiply(activation(hn, SourceTensor.K, layer), MatrixOperation.kNONE,
                            matrix(List.of(SourceTensor.K, SourceTensor.V), layer), MatrixOperation.kTRANSPOSE).getOutput(0));
        }
        ITensor cache = net.addInput(kvCache(layer), trtType, dims(-1, 2, rank.kvHeads(), p.blockSize(), hd));
        IPluginV3 instance = p.attention().create("paged_attention_" + layer,
                // PagedDecoder packs each sequence's tokens together at consecutive positions (StepInputs)
                new PagedAttentionPlugin.Geometry(rank.heads(), rank.kvHeads(), hd, p.blockSize(), true, fused));
        plugins.add(instance);
        List<ITensor> all = new ArrayList<>(projected);
        all.addAll(List.of(p.positions(), p.slots(), p.tables(), p.invFreq(), cache));
        ITensor[] inputs = all.toArray(ITensor[]::new);
        IPluginV3Layer added = net.addPluginV3(new PointerPointer<ITensor>(inputs), inputs.length, (PointerPointer<?>) null, 0, instance);
        if (added == null || added.isNull()) {
            throw new TrtException("adding the paged attention of layer " + layer + " failed: " + p.attention().lastError());
        }
        added.setName("paged_attention_" + layer);
        x = fused
                ? linearPlugin(p.linear(), "o_" + layer, added.getOutput(0), List.of(constant(SourceTensor.O, layer)), List.of(),
                        LinearPlugin.Norm.NONE, x)[0]
                : op(x, linear(added.getOutput(0), SourceTensor.O, layer), ElementWiseOperation.kSUM);
        return feedForward(x, mask, layer, dual);
    }

    /** Whether {@code linear} is there and the weights {@code parts} of {@code layer} are in the compute type (not quantized). */
    private boolean inComputeType(LinearPlugin linear, int layer, SourceTensor... parts) {
        if (linear == null) {
            return false;
        }
        for (SourceTensor t : parts) {
            if (scales.containsKey(t.name(SourceLayout.TRANSFORMERS, layer))) {
                return false;
            }
        }
        return true;
    }

    /** An RMSNorm weight [H] of {@code layer} as an FP32 constant. */
    private ITensor normWeight(SourceTensor weight, int layer) {
        return floatConstant(source(weight, layer), dims(c.hiddenSize()), DataType.kFLOAT);
    }

    /**
     * A {@link LinearPlugin} layer: {@code x} through {@code weights} (one output each), after the
     * norm given by {@code norm} and its inputs {@code normInputs}, plus {@code residual} where not null.
     */
    private ITensor[] linearPlugin(LinearPlugin linear, String name, ITensor x, List<ITensor> weights, List<ITensor> normInputs,
                                   LinearPlugin.Norm norm, ITensor residual) {
        List<Integer> rows = new ArrayList<>();
        for (ITensor wt : weights) {
            rows.add(Math.toIntExact(wt.getDimensions().d(0)));
        }
        int in = Math.toIntExact(weights.getFirst().getDimensions().d(1));
        LinearPlugin.Spec spec = new LinearPlugin.Spec(in, rows, norm, (float) c.rmsNormEps(), residual != null);
        List<ITensor> given = new ArrayList<>();
        given.add(x);
        given.addAll(weights);
        given.addAll(normInputs);
        if (residual != null) {
            given.add(residual);
        }
        if (given.size() != spec.inputCount()) {
            throw new IllegalStateException(name + ": " + given.size() + " inputs for a linear plugin that takes " + spec.inputCount());
        }
        IPluginV3 instance = linear.create(name, spec);
        plugins.add(instance);
        ITensor[] inputs = given.toArray(ITensor[]::new);
        IPluginV3Layer added = net.addPluginV3(new PointerPointer<ITensor>(inputs), inputs.length, (PointerPointer<?>) null, 0, instance);
        if (added == null || added.isNull()) {
            throw new TrtException("adding the linear plugin " + name + " failed: " + linear.lastError());
        }
        added.setName("linear_" + name);
        ITensor[] outputs = new ITensor[weights.size()];
        for (int i = 0; i < outputs.length; i++) {
            outputs[i] = added.getOutput(i);
        }
        return outputs;
    }

    /** The first stage's hidden states: text rows, or the sum of one row per codebook at audio positions. */
    private ITensor embeddings(ITensor mask) {
        int k = c.numCodebooks();
        ITensor ids = net.addInput(INPUT_IDS, DataType.kINT32, dims(-1));
        ITensor codes = net.addInput(AUDIO_CODES, DataType.kINT32, dims(-1, k));
        // embeddings: text rows, or the sum of one row per codebook at audio positions
        ITensor text = net.addGather(constant(SourceTensor.EMBED_TOKENS, 0), ids, 0).getOutput(0);
        int[] offsets = new int[k];
        for (int i = 0; i < k; i++) {
            offsets[i] = i * c.codebookSize();
        }
        ITensor rows = op(codes, intConstant(offsets, dims(1, k)), ElementWiseOperation.kSUM);
        ITensor perCodebook = net.addGather(constant(SourceTensor.AUDIO_EMBED, 0), rows, 0).getOutput(0);
        ITensor audio = net.addReduce(perCodebook, ReduceOperation.kSUM, 1 << 1, false).getOutput(0);
        return net.addSelect(mask, audio, text).getOutput(0);
    }

    private ITensor layer(int layer, ITensor x, ITensor mask, ITensor cos, ITensor sin, ITensor bias, ITensor rotate) {
        boolean dual = c.isDualFfn(layer);
        int hd = c.headDim();
        int heads = rank.heads();
        int kv = rank.kvHeads();
        ITensor hn = inputNorm(x, mask, layer, dual);
        ITensor q = heads(rope(heads(linear(hn, SourceTensor.Q, layer), heads), cos, sin, rotate));
        ITensor kNew = heads(rope(heads(linear(hn, SourceTensor.K, layer), kv), cos, sin, rotate));
        ITensor vNew = heads(heads(linear(hn, SourceTensor.V, layer), kv));
        ITensor pastK = net.addInput(pastKey(layer), trtType, dims(kv, -1, hd));
        ITensor pastV = net.addInput(pastValue(layer), trtType, dims(kv, -1, hd));
        ITensor keys = concat(pastK, kNew, 1);
        ITensor values = concat(pastV, vNew, 1);
        keys.setName(presentKey(layer));
        values.setName(presentValue(layer));
        net.markOutput(keys);
        net.markOutput(values);

        // [nH, T, d] -> [nKV, group*T, d]: the query heads of one kv head are adjacent
        ITensor qg = reshape(q, dims(kv, -1, hd));
        ITensor scale = scalar((float) (1.0 / Math.sqrt(hd)), trtType, 3);
        ITensor scores = net.addMatrixMultiply(op(qg, scale, ElementWiseOperation.kPROD), MatrixOperation.kNONE,
                keys, MatrixOperation.kTRANSPOSE).getOutput(0);
        ITensor biased = op(cast(scores, DataType.kFLOAT), bias, ElementWiseOperation.kSUM);
        var softmax = net.addSoftMax(biased);
        softmax.setAxes(1 << 2);
        ITensor probs = cast(softmax.getOutput(0), trtType);
        ITensor attn = net.addMatrixMultiply(probs, MatrixOperation.kNONE, values, MatrixOperation.kNONE).getOutput(0);
        // [nKV, group*T, d] -> [nH, T, d] -> [T, nH, d] -> [T, nH*d]
        ITensor perHead = reshape(attn, dims(heads, -1, hd));
        IShuffleLayer toTokens = net.addShuffle(perHead);
        toTokens.setFirstTranspose(permutation(1, 0, 2));
        toTokens.setReshapeDimensions(dims(0, heads * hd));
        toTokens.setZeroIsPlaceholder(true);
        ITensor o = reduced(linear(toTokens.getOutput(0), SourceTensor.O, layer), "dense_" + layer);
        x = op(x, o, ElementWiseOperation.kSUM);

        return feedForward(x, mask, layer, dual);
    }

    /** The attention's input norm: each position's path's norm in a dual-FFN layer, else the text one for all. */
    private ITensor inputNorm(ITensor x, ITensor mask, int layer, boolean dual) {
        return dual
                ? net.addSelect(mask, rmsNorm(x, SourceTensor.AUDIO_INPUT_LN, layer), rmsNorm(x, SourceTensor.INPUT_LN, layer)).getOutput(0)
                : rmsNorm(x, SourceTensor.INPUT_LN, layer);
    }

    /** x + the feed-forward block after attention: the dual FFN where {@code dual}, else the text MLP for all. */
    private ITensor feedForward(ITensor x, ITensor mask, int layer, boolean dual) {
        String reduceName = "ffn_" + layer;
        if (dual && plugin != null) {
            if (allReduce == null) {
                return dualFfnPlugin(x, mask, layer, true);
            }
            return op(x, reduced(dualFfnPlugin(x, mask, layer, false), reduceName), ElementWiseOperation.kSUM);
        }
        ITensor textOut = mlp(rmsNorm(x, SourceTensor.POST_LN, layer), SourceTensor.GATE, SourceTensor.UP, SourceTensor.DOWN, layer);
        if (!dual) {
            return op(x, reduced(textOut, reduceName), ElementWiseOperation.kSUM);
        }
        ITensor audioOut = mlp(rmsNorm(x, SourceTensor.AUDIO_POST_LN, layer),
                SourceTensor.AUDIO_GATE, SourceTensor.AUDIO_UP, SourceTensor.AUDIO_DOWN, layer);
        ITensor ffn = net.addSelect(mask, audioOut, textOut).getOutput(0);
        return op(x, reduced(ffn, reduceName), ElementWiseOperation.kSUM);
    }

    /** {@code partial} summed over the tp group, where this rank has one; else {@code partial}. */
    private ITensor reduced(ITensor partial, String name) {
        if (allReduce == null) {
            return partial;
        }
        IPluginV3 instance = allReduce.create(name, rank.reduceWorld());
        plugins.add(instance);
        IPluginV3Layer added = net.addPluginV3(new PointerPointer<ITensor>(new ITensor[]{partial}), 1, (PointerPointer<?>) null, 0, instance);
        if (added == null || added.isNull()) {
            throw new TrtException("adding the all-reduce " + name + " failed: " + allReduce.lastError());
        }
        added.setName("all_reduce_" + name);
        return added.getOutput(0);
    }

    /**
     * A network of one feed-forward block of {@code layer}: inputs {@code hidden} [T, H] in the
     * compute type and {@code audio_mask} [T, 1] ({@code maskType} BOOL, or INT32 with the plugin),
     * output {@code hidden_out}. {@code dual} false gives the text MLP over all positions.
     */
    static List<IPluginV3> defineFeedForwardBlock(INetworkDefinition net, HiggsAudioConfig c, WeightMap canonical,
                                                  DType dtype, Arena arena,
                                                  DualFfnPlugin plugin, int layer, boolean dual, DataType maskType) {
        HiggsNetwork network = new HiggsNetwork(net, c, RankLayout.whole(c), new ConvertedCheckpoint.Quantized(canonical, java.util.Map.of(),
                dev.higgstrt.quant.QuantFormat.NONE, java.util.Map.of()), dtype, arena, plugin);
        try {
            ITensor x = net.addInput(BLOCK_INPUT, network.trtType, dims(-1, c.hiddenSize()));
            ITensor mask = net.addInput(AUDIO_MASK, maskType, dims(-1, 1));
            ITensor out = network.feedForward(x, mask, layer, dual);
            out.setName(BLOCK_OUTPUT);
            net.markOutput(out);
        } catch (RuntimeException e) {
            network.plugins.forEach(PlanBuilder::destroy);
            throw e;
        }
        return List.copyOf(network.plugins);
    }

    /**
     * x + FFN_path(norm_path(x)) per position (FFN_path(norm_path(x)) alone without {@code residual}),
     * by the plugin: each position computes its own path only.
     */
    private ITensor dualFfnPlugin(ITensor x, ITensor mask, int layer, boolean residual) {
        int h = c.hiddenSize();
        ITensor gateUp = matrix(List.of(SourceTensor.GATE, SourceTensor.UP), layer);
        List<ITensor> given = new ArrayList<>(List.of(x, mask,
                floatConstant(source(SourceTensor.POST_LN, layer), dims(h), DataType.kFLOAT),
                floatConstant(source(SourceTensor.AUDIO_POST_LN, layer), dims(h), DataType.kFLOAT),
                gateUp, constant(SourceTensor.DOWN, layer),
                constant(SourceTensor.AUDIO_GATE, layer), constant(SourceTensor.AUDIO_UP, layer),
                constant(SourceTensor.AUDIO_DOWN, layer)));
        if (textTokens != null) {
            given.add(textTokens);
        }
        ITensor[] inputs = given.toArray(ITensor[]::new);
        int intermediate = Math.toIntExact(source(SourceTensor.GATE, layer).shape().dim(0));
        IPluginV3 instance = plugin.create("dual_ffn_" + layer, h, intermediate, (float) c.rmsNormEps(), residual);
        plugins.add(instance);
        IPluginV3Layer added = net.addPluginV3(new PointerPointer<ITensor>(inputs), inputs.length, (PointerPointer<?>) null, 0, instance);
        if (added == null || added.isNull()) {
            throw new TrtException("adding the dual-FFN plugin of layer " + layer + " failed: " + plugin.lastError());
        }
        added.setName("dual_ffn_" + layer);
        return added.getOutput(0);
    }

    private TensorSource source(SourceTensor t, int layer) {
        return w.tensor(t.name(SourceLayout.TRANSFORMERS, layer));
    }

    private ITensor mlp(ITensor x, SourceTensor gate, SourceTensor up, SourceTensor down, int layer) {
        ITensor g = linear(x, gate, layer);
        ITensor u = linear(x, up, layer);
        ITensor sig = net.addActivation(g, ActivationType.kSIGMOID).getOutput(0);
        ITensor act = op(op(g, sig, ElementWiseOperation.kPROD), u, ElementWiseOperation.kPROD);
        return linear(act, down, layer);
    }

    /** [T, heads*d] -> [T, heads, d] (or, applied to that, -> [heads, T, d]). */
    private ITensor heads(ITensor t, int heads) {
        return reshape(t, dims(0, heads, c.headDim()));
    }

    private ITensor heads(ITensor t) {
        IShuffleLayer s = net.addShuffle(t);
        s.setFirstTranspose(permutation(1, 0, 2));
        return s.getOutput(0);
    }

    /** x * cos + rotate_half(x) * sin on [T, heads, d], rotate_half as a product with a fixed matrix. */
    private ITensor rope(ITensor x, ITensor cos, ITensor sin, ITensor rotate) {
        ITensor cos3 = reshape(cos, dims(0, 1, c.headDim()));
        ITensor sin3 = reshape(sin, dims(0, 1, c.headDim()));
        ITensor rotated = net.addMatrixMultiply(x, MatrixOperation.kNONE, rotate, MatrixOperation.kNONE).getOutput(0);
        return op(op(x, cos3, ElementWiseOperation.kPROD), op(rotated, sin3, ElementWiseOperation.kPROD), ElementWiseOperation.kSUM);
    }

    /** R with x R = rotate_half(x) = [-x2, x1] for x = [x1, x2]. */
    private ITensor rotateHalfMatrix(int hd) {
        float[] r = new float[hd * hd];
        int half = hd / 2;
        for (int i = 0; i < half; i++) {
            r[(i + half) * hd + i] = -1;   // out[i] = -x[i + half]
            r[i * hd + i + half] = 1;      // out[i + half] = x[i]
        }
        return floatConstant(r, dims(1, hd, hd), trtType);
    }

    /** RMSNorm in FP32: x * rsqrt(mean(x^2) + eps) * weight, returned in the compute type. */
    private ITensor rmsNorm(ITensor x, SourceTensor weight, int layer) {
        ITensor f = cast(x, DataType.kFLOAT);
        ITensor mean = net.addReduce(op(f, f, ElementWiseOperation.kPROD), ReduceOperation.kAVG, 1 << 1, true).getOutput(0);
        ITensor rms = net.addUnary(op(mean, scalar((float) c.rmsNormEps(), DataType.kFLOAT, 2), ElementWiseOperation.kSUM),
                UnaryOperation.kSQRT).getOutput(0);
        ITensor normed = op(f, rms, ElementWiseOperation.kDIV);
        ITensor wt = floatConstant(source(weight, layer), dims(1, c.hiddenSize()), DataType.kFLOAT);
        return cast(op(normed, wt, ElementWiseOperation.kPROD), trtType);
    }

    /** x [T, in] times the weight [out, in] transposed: [T, out]. */
    private ITensor linear(ITensor x, SourceTensor weight, int layer) {
        ITensor wt = constant(weight, layer);
        return net.addMatrixMultiply(activation(x, weight, layer), MatrixOperation.kNONE, wt, MatrixOperation.kTRANSPOSE).getOutput(0);
    }

    /** x, or x rounded to FP8 with the static scale of the site {@code weight} reads, where its weight is FP8 and has one. */
    private ITensor activation(ITensor x, SourceTensor weight, int layer) {
        String name = weight.name(SourceLayout.TRANSFORMERS, layer);
        var site = site(weight);
        if (site == null || w.tensor(name).dtype() != DType.F8_E4M3) {
            return x;
        }
        var scale = stored.activationScale(layer, site);
        if (scale.isEmpty()) {
            return x;
        }
        ITensor s = floatConstant(new float[]{scale.get()}, dims(), trtType);
        var q = net.addQuantize(x, s, DataType.kFP8);
        if (q == null || q.isNull()) {
            throw new TrtException("adding the FP8 quantize of the input of " + name + " failed");
        }
        var dq = net.addDequantize(q.getOutput(0), s, trtType);
        if (dq == null || dq.isNull()) {
            throw new TrtException("adding the dequantize of the input of " + name + " failed");
        }
        return dq.getOutput(0);
    }

    /** The site whose input {@code weight} reads; null for the LM head. */
    private static dev.higgstrt.model.LinearSite site(SourceTensor weight) {
        return switch (weight) {
            case Q, K, V -> dev.higgstrt.model.LinearSite.QKV;
            case O -> dev.higgstrt.model.LinearSite.DENSE;
            case GATE, UP -> dev.higgstrt.model.LinearSite.GATE_UP;
            case DOWN -> dev.higgstrt.model.LinearSite.DOWN;
            case AUDIO_GATE, AUDIO_UP -> dev.higgstrt.model.LinearSite.AUDIO_GATE_UP;
            case AUDIO_DOWN -> dev.higgstrt.model.LinearSite.AUDIO_DOWN;
            default -> null;
        };
    }

    private ITensor constant(SourceTensor t, int layer) {
        return matrix(List.of(t), layer);
    }

    /**
     * The weights {@code parts} of {@code layer} stacked by rows, in the compute type: a constant,
     * or, for quantized weights, their INT8/FP8 constant dequantized per row (per tensor where all
     * rows share one scale).
     */
    private ITensor matrix(List<SourceTensor> parts, int layer) {
        List<String> names = parts.stream().map(t -> t.name(SourceLayout.TRANSFORMERS, layer)).toList();
        List<TensorSource> sources = names.stream().map(w::tensor).toList();
        TensorSource all = sources.size() == 1 ? sources.getFirst() : TensorSource.concat(sources, 0);
        if (!scales.containsKey(names.getFirst())) {
            return floatConstant(all, dims(all.shape().toArray()), trtType);
        }
        TensorSource scale = TensorSource.concat(names.stream().map(scales::get).toList(), 0);
        DataType stored = all.dtype() == DType.I8 ? DataType.kINT8 : DataType.kFP8;
        ITensor q = weights(all.materialize(arena), dims(all.shape().toArray()), stored);
        float[] s = scale.cast(DType.F32).materialize(arena).toFloatArray();
        boolean perTensor = true;
        for (float v : s) {
            perTensor &= v == s[0];
        }
        ITensor scaleTensor = perTensor ? floatConstant(new float[]{s[0]}, dims(), trtType) : floatConstant(s, dims(s.length), trtType);
        var dq = net.addDequantize(q, scaleTensor, trtType);
        if (dq == null || dq.isNull()) {
            throw new TrtException("adding the dequantize of " + names + " failed");
        }
        dq.setAxis(0);
        return dq.getOutput(0);
    }

    private ITensor floatConstant(TensorSource src, Dims64 d, DataType type) {
        DType target = type == DataType.kFLOAT ? DType.F32 : dtype;
        return weights(src.cast(target).materialize(arena), d, type);
    }

    private ITensor floatConstant(float[] values, Dims64 d, DataType type) {
        DType target = type == DataType.kFLOAT ? DType.F32 : dtype;
        return weights(Tensor.fromFloats(target, dev.higgstrt.tensor.Shape.of(values.length), values, arena), d, type);
    }

    /** A one-element constant of {@code rank} dimensions (elementwise inputs must have equal ranks). */
    private ITensor scalar(float v, DataType type, int rank) {
        long[] ones = new long[rank];
        java.util.Arrays.fill(ones, 1);
        return floatConstant(new float[]{v}, dims(ones), type);
    }

    private ITensor intConstant(int[] values, Dims64 d) {
        Tensor t = Tensor.allocate(DType.I32, dev.higgstrt.tensor.Shape.of(values.length), arena);
        for (int i = 0; i < values.length; i++) {
            t.data().set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, i * 4L, values[i]);
        }
        return weights(t, d, DataType.kINT32);
    }

    private ITensor weights(Tensor values, Dims64 d, DataType type) {
        var pointer = TrtObjects.address(values.data());
        Weights wt = new Weights().type(type).values(pointer).count(values.shape().elementCount());
        keepAlive.add(pointer);
        keepAlive.add(wt);
        keepAlive.add(values);
        return net.addConstant(d, wt).getOutput(0);
    }

    private ITensor op(ITensor a, ITensor b, ElementWiseOperation op) {
        return net.addElementWise(a, b, op).getOutput(0);
    }

    private ITensor cast(ITensor t, DataType type) {
        if (t.getType() == type) {
            return t;
        }
        return net.addCast(t, type).getOutput(0);
    }

    private ITensor concat(ITensor a, ITensor b, int axis) {
        var layer = net.addConcatenation(new org.bytedeco.javacpp.PointerPointer<ITensor>(a, b), 2);
        layer.setAxis(axis);
        return layer.getOutput(0);
    }

    private ITensor reshape(ITensor t, Dims64 d) {
        IShuffleLayer s = net.addShuffle(t);
        s.setReshapeDimensions(d);
        s.setZeroIsPlaceholder(true);
        return s.getOutput(0);
    }

    /**
     * TensorRT dimensions.
     *
     * @param d the extents
     * @return them as {@code Dims64}
     */
    public static Dims64 dims(long... d) {
        Dims64 out = new Dims64();
        out.nbDims(d.length);
        for (int i = 0; i < d.length; i++) {
            out.d(i, d[i]);
        }
        return out;
    }

    static Permutation permutation(int... order) {
        Permutation p = new Permutation();
        for (int i = 0; i < order.length; i++) {
            p.order(i, order[i]);
        }
        return p;
    }
}
