package dev.higgstrt.convert;

import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.SourceLayout;
import dev.higgstrt.tensor.Shape;

import java.util.function.Function;

/**
 * The tensors of a Higgs Audio v2 source checkpoint: their names in each layout ({@code {L}}
 * stands for the global layer index) and their shapes as implied by the config.
 */
public enum SourceTensor {
    EMBED_TOKENS("model.embed_tokens.weight", "embed_tokens.weight", c -> Shape.of(c.vocabSize(), c.hiddenSize())),
    AUDIO_EMBED("model.embed_audio_tokens.embed_audio_tokens.weight", "audio_codebook_embeddings.weight",
            c -> Shape.of(c.audioVocabSize(), c.hiddenSize())),
    NORM("model.norm.weight", "norm.weight", c -> Shape.of(c.hiddenSize())),
    AUDIO_HEAD("audio_lm_head.weight", "audio_decoder_proj.audio_lm_head.weight",
            c -> Shape.of(c.audioVocabSize(), c.hiddenSize())),
    TEXT_HEAD("text_lm_head.weight", "audio_decoder_proj.text_lm_head.weight", c -> Shape.of(c.vocabSize(), c.hiddenSize())),
    Q("self_attn.q_proj.weight", c -> Shape.of((long) c.numHeads() * c.headDim(), c.hiddenSize()), false),
    K("self_attn.k_proj.weight", c -> Shape.of((long) c.numKvHeads() * c.headDim(), c.hiddenSize()), false),
    V("self_attn.v_proj.weight", c -> Shape.of((long) c.numKvHeads() * c.headDim(), c.hiddenSize()), false),
    O("self_attn.o_proj.weight", c -> Shape.of(c.hiddenSize(), (long) c.numHeads() * c.headDim()), false),
    GATE("mlp.gate_proj.weight", c -> Shape.of(c.intermediateSize(), c.hiddenSize()), false),
    UP("mlp.up_proj.weight", c -> Shape.of(c.intermediateSize(), c.hiddenSize()), false),
    DOWN("mlp.down_proj.weight", c -> Shape.of(c.hiddenSize(), c.intermediateSize()), false),
    AUDIO_GATE("audio_mlp.gate_proj.weight", c -> Shape.of(c.intermediateSize(), c.hiddenSize()), true),
    AUDIO_UP("audio_mlp.up_proj.weight", c -> Shape.of(c.intermediateSize(), c.hiddenSize()), true),
    AUDIO_DOWN("audio_mlp.down_proj.weight", c -> Shape.of(c.hiddenSize(), c.intermediateSize()), true),
    INPUT_LN("input_layernorm.weight", c -> Shape.of(c.hiddenSize()), false),
    POST_LN("post_attention_layernorm.weight", c -> Shape.of(c.hiddenSize()), false),
    AUDIO_INPUT_LN("audio_input_layernorm.weight", c -> Shape.of(c.hiddenSize()), true),
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

    /** Whether there is one of these per layer. */
    public boolean perLayer() {
        return perLayer;
    }

    /** Whether it exists only in layers with the audio path. */
    public boolean audioPath() {
        return audioPath;
    }

    /** The name template in {@code layout} ({@code {L}} for the layer). */
    public String template(SourceLayout layout) {
        return switch (layout) {
            case TRANSFORMERS -> transformersName;
            case BOSON -> bosonName;
            case TRTLLM -> throw new IllegalArgumentException("converted checkpoints are read through their targets");
        };
    }

    /** The name of this tensor of layer {@code layer} (ignored when not per layer) in {@code layout}. */
    public String name(SourceLayout layout, int layer) {
        return template(layout).replace("{L}", Integer.toString(layer));
    }

    /** The full shape the config implies. */
    public Shape shape(HiggsAudioConfig config) {
        return shape.apply(config);
    }
}
