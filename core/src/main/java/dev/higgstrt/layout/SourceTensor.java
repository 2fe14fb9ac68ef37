package dev.higgstrt.layout;

import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.SourceLayout;
import dev.higgstrt.tensor.Shape;

import java.util.function.Function;

/**
 * The tensors of a Higgs Audio v2 source checkpoint: their names in each layout ({@code {L}}
 * stands for the global layer index) and their shapes as implied by the config.
 */
public enum SourceTensor {
    /** The text token embedding [vocab, hidden]. */
    EMBED_TOKENS("model.embed_tokens.weight", "embed_tokens.weight", c -> Shape.of(c.vocabSize(), c.hiddenSize())),
    /** The codebook embeddings, all codebooks stacked [codebooks * codebook_size, hidden]. */
    AUDIO_EMBED("model.embed_audio_tokens.embed_audio_tokens.weight", "audio_codebook_embeddings.weight",
            c -> Shape.of(c.audioVocabSize(), c.hiddenSize())),
    /** The final RMSNorm [hidden]. */
    NORM("model.norm.weight", "norm.weight", c -> Shape.of(c.hiddenSize())),
    /** The audio head [codebooks * codebook_size, hidden]. */
    AUDIO_HEAD("audio_lm_head.weight", "audio_decoder_proj.audio_lm_head.weight",
            c -> Shape.of(c.audioVocabSize(), c.hiddenSize())),
    /** The text head [vocab, hidden] (optional). */
    TEXT_HEAD("text_lm_head.weight", "audio_decoder_proj.text_lm_head.weight", c -> Shape.of(c.vocabSize(), c.hiddenSize())),
    /** Attention query projection, per layer. */
    Q("self_attn.q_proj.weight", c -> Shape.of((long) c.numHeads() * c.headDim(), c.hiddenSize()), false),
    /** Attention key projection, per layer. */
    K("self_attn.k_proj.weight", c -> Shape.of((long) c.numKvHeads() * c.headDim(), c.hiddenSize()), false),
    /** Attention value projection, per layer. */
    V("self_attn.v_proj.weight", c -> Shape.of((long) c.numKvHeads() * c.headDim(), c.hiddenSize()), false),
    /** Attention output projection, per layer. */
    O("self_attn.o_proj.weight", c -> Shape.of(c.hiddenSize(), (long) c.numHeads() * c.headDim()), false),
    /** Text MLP gate projection, per layer. */
    GATE("mlp.gate_proj.weight", c -> Shape.of(c.intermediateSize(), c.hiddenSize()), false),
    /** Text MLP up projection, per layer. */
    UP("mlp.up_proj.weight", c -> Shape.of(c.intermediateSize(), c.hiddenSize()), false),
    /** Text MLP down projection, per layer. */
    DOWN("mlp.down_proj.weight", c -> Shape.of(c.hiddenSize(), c.intermediateSize()), false),
    /** Audio MLP gate projection, per dual-FFN layer. */
    AUDIO_GATE("audio_mlp.gate_proj.weight", c -> Shape.of(c.intermediateSize(), c.hiddenSize()), true),
    /** Audio MLP up projection, per dual-FFN layer. */
    AUDIO_UP("audio_mlp.up_proj.weight", c -> Shape.of(c.intermediateSize(), c.hiddenSize()), true),
    /** Audio MLP down projection, per dual-FFN layer. */
    AUDIO_DOWN("audio_mlp.down_proj.weight", c -> Shape.of(c.hiddenSize(), c.intermediateSize()), true),
    /** Text path input RMSNorm, per layer. */
    INPUT_LN("input_layernorm.weight", c -> Shape.of(c.hiddenSize()), false),
    /** Text path post-attention RMSNorm, per layer. */
    POST_LN("post_attention_layernorm.weight", c -> Shape.of(c.hiddenSize()), false),
    /** Audio path input RMSNorm, per dual-FFN layer. */
    AUDIO_INPUT_LN("audio_input_layernorm.weight", c -> Shape.of(c.hiddenSize()), true),
    /** Audio path post-attention RMSNorm, per dual-FFN layer. */
    AUDIO_POST_LN("audio_post_attention_layernorm.weight", c -> Shape.of(c.hiddenSize()), true);

    private final String transformersName;
    private final String bosonName;
    private final Function<HiggsAudioConfig, Shape> shape;
    private final boolean perLayer;
    private final boolean audioPath;

    SourceTensor(String transformers, String boson, Function<HiggsAudioConfig, Shape> shape) {
        this.transformersName = transformers;
        this.bosonName = boson;
        this.shape = shape;
        this.perLayer = false;
        this.audioPath = false;
    }

    SourceTensor(String layerSuffix, Function<HiggsAudioConfig, Shape> shape, boolean audioPath) {
        this.transformersName = "model.layers.{L}." + layerSuffix;
        this.bosonName = "layers.{L}." + layerSuffix;
        this.shape = shape;
        this.perLayer = true;
        this.audioPath = audioPath;
    }

    /**
     * Whether there is one of these per layer.
     *
     * @return whether there is one of these per layer
     */
    public boolean perLayer() {
        return perLayer;
    }

    /**
     * Whether it exists only in layers with the audio path.
     *
     * @return whether it exists only in layers with the audio path
     */
    public boolean audioPath() {
        return audioPath;
    }

    /**
     * The name template in {@code layout} ({@code {L}} for the layer).
     *
     * @param layout the layout
     * @return the name template in {@code layout} ({@code {L}} for the layer)
     */
    public String template(SourceLayout layout) {
        return switch (layout) {
            case TRANSFORMERS -> transformersName;
            case BOSON -> bosonName;
            case TRTLLM -> throw new IllegalArgumentException("converted checkpoints are read through their targets");
        };
    }

    /**
     * The name of this tensor of layer {@code layer} (ignored when not per layer) in {@code layout}.
     *
     * @param layout the layout
     * @param layer  the layer index
     * @return the name of this tensor of layer {@code layer} (ignored when not per layer) in {@code layout}
     */
    public String name(SourceLayout layout, int layer) {
        return template(layout).replace("{L}", Integer.toString(layer));
    }

    /**
     * The full shape the config implies.
     *
     * @param config the model config
     * @return the full shape the config implies
     */
    public Shape shape(HiggsAudioConfig config) {
        return shape.apply(config);
    }
}
