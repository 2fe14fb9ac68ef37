package dev.higgstrt.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.higgstrt.io.Json;
import dev.higgstrt.tensor.DType;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.stream.IntStream;

/**
 * One typed, validated view of a Higgs Audio v2 decoder's configuration, read from any of the
 * three config flavours ({@link SourceLayout}).
 *
 * @param layout                the layout the config came from
 * @param vocabSize             text vocabulary size
 * @param hiddenSize            model width
 * @param intermediateSize      MLP width (text and audio MLPs alike)
 * @param numLayers             decoder layers
 * @param numHeads              attention heads
 * @param numKvHeads            key/value heads (grouped-query attention)
 * @param headDim               dimensions per head
 * @param rmsNormEps            RMSNorm epsilon
 * @param maxPositionEmbeddings longest sequence
 * @param rope                  rotary embedding parameters
 * @param numCodebooks          audio codebooks per frame
 * @param codebookSize          codes per codebook, stream specials included (rows per codebook in
 *                              the audio embedding and the audio head)
 * @param audioTokenIds         input ids whose positions hold audio frames (sorted)
 * @param audioStreamBosId      code that starts an audio stream
 * @param audioStreamEosId      code that ends an audio stream
 * @param dualFfnLayers         layers that have the audio path (sorted)
 * @param tieWordEmbeddings     whether the text head is the token embedding
 * @param torchDtype            the dtype the config declares, if any
 */
public record HiggsAudioConfig(SourceLayout layout, int vocabSize, int hiddenSize, int intermediateSize,
                               int numLayers, int numHeads, int numKvHeads, int headDim, double rmsNormEps,
                               int maxPositionEmbeddings, RopeParameters rope, int numCodebooks, int codebookSize,
                               List<Integer> audioTokenIds, int audioStreamBosId, int audioStreamEosId,
                               List<Integer> dualFfnLayers, boolean tieWordEmbeddings, Optional<DType> torchDtype) {

    /** File name of the config in every layout. */
    public static final String FILE_NAME = "config.json";
    /** The TensorRT-LLM architecture name of converted checkpoints. */
    public static final String TRTLLM_ARCHITECTURE = "HiggsAudioForCausalLM";

    /** Canonical constructor: validates and copies. */
    public HiggsAudioConfig {
        positive("vocab_size", vocabSize);
        positive("hidden_size", hiddenSize);
        positive("intermediate_size", intermediateSize);
        positive("num_hidden_layers", numLayers);
        positive("num_attention_heads", numHeads);
        positive("num_key_value_heads", numKvHeads);
        positive("head_dim", headDim);
        positive("num_codebooks", numCodebooks);
        positive("codebook_size", codebookSize);
        positive("max_position_embeddings", maxPositionEmbeddings);
        if (numHeads % numKvHeads != 0) {
            throw new ConfigException("num_key_value_heads (" + numKvHeads + ") must divide num_attention_heads (" + numHeads + ")");
        }
        if (hiddenSize % numHeads != 0) {
            throw new ConfigException("num_attention_heads (" + numHeads + ") must divide hidden_size (" + hiddenSize + ")");
        }
        if (headDim % 2 != 0) {
            throw new ConfigException("head_dim must be even for rotary embeddings, got " + headDim);
        }
        if (!(rmsNormEps > 0) || rmsNormEps >= 1) {
            throw new ConfigException("rms_norm_eps must be in (0, 1), got " + rmsNormEps);
        }
        audioTokenIds = List.copyOf(new TreeSet<>(audioTokenIds));
        if (audioTokenIds.isEmpty()) {
            throw new ConfigException("no audio token id");
        }
        for (int id : audioTokenIds) {
            if (id < 0 || id >= vocabSize) {
                throw new ConfigException("audio token id " + id + " outside the vocabulary [0," + vocabSize + ")");
            }
        }
        TreeSet<Integer> layers = new TreeSet<>(dualFfnLayers);
        if (layers.size() != dualFfnLayers.size()) {
            throw new ConfigException("audio_dual_ffn_layers lists a layer twice: " + dualFfnLayers);
        }
        for (int l : layers) {
            if (l < 0 || l >= numLayers) {
                throw new ConfigException("audio_dual_ffn_layers has layer " + l + " outside [0," + numLayers + ")");
            }
        }
        dualFfnLayers = List.copyOf(layers);
        torchDtype = torchDtype == null ? Optional.empty() : torchDtype;
    }

    private static void positive(String name, int v) {
        if (v <= 0) {
            throw new ConfigException(name + " must be positive, got " + v);
        }
    }

    /**
     * Whether layer {@code layer} has the audio path.
     *
     * @param layer the layer index
     * @return whether layer {@code layer} has the audio path
     */
    public boolean isDualFfn(int layer) {
        return java.util.Collections.binarySearch(dualFfnLayers, layer) >= 0;
    }

    /**
     * Rows of the audio embedding and of the audio head: codebooks x codebook size.
     *
     * @return rows of the audio embedding and of the audio head: codebooks x codebook size
     */
    public int audioVocabSize() {
        return numCodebooks * codebookSize;
    }

    /**
     * The same model described as another layout (names differ, numbers do not).
     *
     * @param newLayout the new layout
     * @return the same model described as another layout (names differ, numbers do not)
     */
    public HiggsAudioConfig withLayout(SourceLayout newLayout) {
        return new HiggsAudioConfig(newLayout, vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads,
                headDim, rmsNormEps, maxPositionEmbeddings, rope, numCodebooks, codebookSize, audioTokenIds,
                audioStreamBosId, audioStreamEosId, dualFfnLayers, tieWordEmbeddings, torchDtype);
    }

    /**
     * This config with the audio path on these layers only.
     *
     * @param layers the layers
     * @return this config with the audio path on these layers only
     */
    public HiggsAudioConfig withDualFfnLayers(List<Integer> layers) {
        return new HiggsAudioConfig(layout, vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads,
                headDim, rmsNormEps, maxPositionEmbeddings, rope, numCodebooks, codebookSize, audioTokenIds,
                audioStreamBosId, audioStreamEosId, layers, tieWordEmbeddings, torchDtype);
    }

    /**
     * Every layer index, for configs whose layers all have the audio path.
     *
     * @param numLayers the number of layers
     * @return every layer index, for configs whose layers all have the audio path
     */
    public static List<Integer> allLayers(int numLayers) {
        return IntStream.range(0, numLayers).boxed().toList();
    }

    /**
     * Reads {@code config.json} from a checkpoint folder and detects its layout: {@code model_type}
     * {@code higgs_audio_v2} (transformers), {@code higgs_audio} (Boson) or {@code architecture}
     * {@value #TRTLLM_ARCHITECTURE} (converted). A path that is missing, a file, or a folder
     * without config.json is refused naming the path and what was expected.
     *
     * @param folder the checkpoint folder
     * @return the config
     * @throws IOException     when the folder or its config cannot be read
     * @throws ConfigException for an unknown layout, an unsupported variant or invalid values,
     *                         with a message that starts with the file name
     */
    public static HiggsAudioConfig readFolder(Path folder) throws IOException {
        if (!Files.exists(folder)) {
            throw new NoSuchFileException(folder.toString(), null, "no such folder (expected a checkpoint folder)");
        }
        if (!Files.isDirectory(folder)) {
            throw new ConfigException(folder + ": a file, not a folder (expected a checkpoint folder holding config.json"
                    + " and the weights)");
        }
        if (!Files.isRegularFile(folder.resolve(FILE_NAME))) {
            throw new NoSuchFileException(folder.resolve(FILE_NAME).toString(), null, "no config.json in the checkpoint folder");
        }
        return read(folder);
    }

    /**
     * Reads {@code config.json} from a folder, or a config file itself.
     *
     * @param folderOrFile a checkpoint folder or a config.json
     * @return the config
     * @throws IOException     when the file cannot be read
     * @throws ConfigException when it is not a valid config
     */
    public static HiggsAudioConfig read(Path folderOrFile) throws IOException {
        Path file = Files.isDirectory(folderOrFile) ? folderOrFile.resolve(FILE_NAME) : folderOrFile;
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null, "no config.json");
        }
        if (Files.size(file) > 10_000_000) {
            throw new ConfigException(file.getFileName() + ": larger than 10 MB, not a model config");
        }
        JsonNode root;
        try {
            root = Json.readUtf8(Json.CONFIG, Files.readAllBytes(file));
        } catch (JsonProcessingException e) {
            throw new ConfigException(file.getFileName() + ": not valid JSON: " + e.getOriginalMessage());
        }
        try {
            return parse(root);
        } catch (ConfigException e) {
            throw new ConfigException(file.getFileName() + ": " + e.getMessage());
        }
    }

    /**
     * Parses the text of a config.json of any of the three layouts.
     *
     * @param json the JSON text
     * @return the config
     * @throws ConfigException for invalid JSON, an unknown layout, an unsupported variant or invalid values
     */
    public static HiggsAudioConfig parse(String json) {
        try {
            return parse(Json.CONFIG.readTree(json));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new ConfigException("not valid JSON: " + e.getOriginalMessage());
        }
    }

    /** Parses a config tree of any of the three layouts. */
    static HiggsAudioConfig parse(JsonNode root) {
        if (root == null || !root.isObject()) {
            throw new ConfigException("not a JSON object");
        }
        String modelType = root.path("model_type").asText("");
        String architecture = root.path("architecture").asText("");
        if (architecture.equals(TRTLLM_ARCHITECTURE)) {
            return parseTrtllm(new Fields(root, ""));
        }
        return switch (modelType) {
            case "higgs_audio_v2" -> parseTransformers(new Fields(root, ""));
            case "higgs_audio" -> parseBoson(root);
            default -> throw new ConfigException("unknown layout: model_type '" + modelType
                    + "' (expected higgs_audio_v2 or higgs_audio, or a converted checkpoint with architecture "
                    + TRTLLM_ARCHITECTURE + ")");
        };
    }

    private static HiggsAudioConfig parseTransformers(Fields f) {
        int hidden = f.integer("hidden_size", null);
        int heads = f.integer("num_attention_heads", null);
        int layers = f.integer("num_hidden_layers", null);
        List<Integer> audioIds = new ArrayList<>(List.of(f.integer("audio_token_id", 128016)));
        audioIds.add(f.integer("audio_delay_token_id", 128014));
        return new HiggsAudioConfig(SourceLayout.TRANSFORMERS, f.integer("vocab_size", null), hidden,
                f.integer("intermediate_size", null), layers, heads, f.integer("num_key_value_heads", heads),
                f.integerOrNull("head_dim", heads > 0 ? hidden / heads : 0), f.number("rms_norm_eps", 1e-5),
                f.integer("max_position_embeddings", 2048), rope(f), f.integer("num_codebooks", 8),
                f.integer("codebook_size", 1024), audioIds, f.integer("audio_stream_bos_id", 1024),
                f.integer("audio_stream_eos_id", 1025), allLayers(layers), f.bool("tie_word_embeddings", false),
                f.dtype());
    }

    private static HiggsAudioConfig parseBoson(JsonNode root) {
        Fields top = new Fields(root, "");
        String adapter = top.text("audio_adapter_type", "stack");
        if (!adapter.equals("dual_ffn")) {
            throw new ConfigException("audio_adapter_type '" + adapter + "' is not supported: only 'dual_ffn' "
                    + "(the audio path beside each listed layer's text MLP)");
        }
        for (String flag : new String[]{"use_audio_out_self_attention", "use_audio_out_embed_projector"}) {
            if (top.bool(flag, false)) {
                throw new ConfigException(flag + " is true: this variant (a separate audio "
                        + (flag.contains("attention") ? "self-attention" : "embedding projector") + ") is not supported");
            }
        }
        if (top.integer("audio_decoder_proj_num_layers", 0) != 0) {
            throw new ConfigException("audio_decoder_proj_num_layers > 0 is not supported (extra decoder projection layers)");
        }
        JsonNode text = root.get("text_config");
        if (text == null || !text.isObject()) {
            throw new ConfigException("text_config is missing or not an object");
        }
        Fields f = new Fields(text, "text_config.");
        int hidden = f.integer("hidden_size", null);
        int heads = f.integer("num_attention_heads", null);
        int layers = f.integer("num_hidden_layers", null);
        JsonNode dual = root.get("audio_dual_ffn_layers");
        if (dual == null || !dual.isArray()) {
            throw new ConfigException("audio_dual_ffn_layers is missing or not a list");
        }
        List<Integer> dualLayers = new ArrayList<>();
        for (JsonNode n : dual) {
            if (!n.canConvertToInt() || !n.isIntegralNumber()) {
                throw new ConfigException("audio_dual_ffn_layers has a non-integer entry " + n);
            }
            dualLayers.add(n.intValue());
        }
        List<Integer> audioIds = new ArrayList<>(List.of(top.integer("audio_out_token_idx", 128016)));
        if (top.bool("encode_audio_in_tokens", false)) {
            audioIds.add(top.integer("audio_in_token_idx", 128015));
        }
        Optional<DType> dtype = f.dtype().or(top::dtype);
        return new HiggsAudioConfig(SourceLayout.BOSON, f.integer("vocab_size", null), hidden,
                f.integer("intermediate_size", null), layers, heads, f.integer("num_key_value_heads", heads),
                f.integerOrNull("head_dim", heads > 0 ? hidden / heads : 0), f.number("rms_norm_eps", 1e-5),
                f.integer("max_position_embeddings", 131072), rope(f), top.integer("audio_num_codebooks", 8),
                top.integer("audio_codebook_size", 1024) + 2, audioIds, top.integer("audio_stream_bos_id", 1024),
                top.integer("audio_stream_eos_id", 1025), dualLayers,
                f.bool("tie_word_embeddings", top.bool("tie_word_embeddings", false)), dtype);
    }

    private static HiggsAudioConfig parseTrtllm(Fields f) {
        JsonNode rs = f.node.get("rotary_scaling");
        RopeParameters rope = rs == null || rs.isNull()
                ? RopeParameters.plain(f.number("rotary_base", 10000))
                : RopeParameters.llama3(f.number("rotary_base", 10000), new Fields(rs, "rotary_scaling.").number("factor", null),
                new Fields(rs, "rotary_scaling.").number("low_freq_factor", null),
                new Fields(rs, "rotary_scaling.").number("high_freq_factor", null),
                new Fields(rs, "rotary_scaling.").integer("original_max_position_embeddings", null));
        List<Integer> ids = new ArrayList<>();
        f.node.path("audio_token_ids").forEach(n -> ids.add(n.asInt()));
        List<Integer> dual = new ArrayList<>();
        f.node.path("audio_dual_ffn_layers").forEach(n -> dual.add(n.asInt()));
        return new HiggsAudioConfig(SourceLayout.TRTLLM, f.integer("vocab_size", null), f.integer("hidden_size", null),
                f.integer("intermediate_size", null), f.integer("num_hidden_layers", null),
                f.integer("num_attention_heads", null), f.integer("num_key_value_heads", null),
                f.integer("head_size", null), f.number("norm_epsilon", null), f.integer("max_position_embeddings", null),
                rope, f.integer("num_codebooks", null), f.integer("codebook_size", null), ids,
                f.integer("audio_stream_bos_id", 1024), f.integer("audio_stream_eos_id", 1025), dual,
                f.bool("tie_word_embeddings", false), Optional.of(DType.parse(f.text("dtype", "bfloat16"))));
    }

    private static RopeParameters rope(Fields f) {
        JsonNode params = f.node.get("rope_parameters");
        if (params == null || params.isNull()) {
            params = f.node.get("rope_scaling");
        }
        double theta = f.number("rope_theta", 10000);
        if (params == null || params.isNull()) {
            return RopeParameters.plain(theta);
        }
        if (!params.isObject()) {
            throw new ConfigException(f.prefix + "rope_parameters is not an object");
        }
        Fields p = new Fields(params, f.prefix + (f.node.has("rope_parameters") ? "rope_parameters." : "rope_scaling."));
        theta = p.number("rope_theta", theta);
        String type = p.text("rope_type", p.text("type", "default"));
        return switch (type) {
            case "default" -> RopeParameters.plain(theta);
            case "llama3" -> RopeParameters.llama3(theta, p.number("factor", null), p.number("low_freq_factor", null),
                    p.number("high_freq_factor", null), p.integer("original_max_position_embeddings", null));
            default -> throw new ConfigException(p.prefix + "rope_type '" + type + "' is not supported (default or llama3)");
        };
    }

    /**
     * The transformers {@code config.json} of this model.
     *
     * @return the transformers {@code config.json} of this model
     */
    public String toTransformersJson() {
        return Json.pretty(transformersTree());
    }

    ObjectNode transformersTree() {
        ObjectNode n = Json.PRETTY.createObjectNode();
        n.putArray("architectures").add("HiggsAudioV2ForConditionalGeneration");
        n.put("model_type", "higgs_audio_v2");
        putLlamaFields(n);
        n.put("max_position_embeddings", maxPositionEmbeddings);
        n.set("rope_parameters", ropeJson(true));
        n.put("num_codebooks", numCodebooks);
        n.put("codebook_size", codebookSize);
        n.put("audio_token_id", audioTokenIds.getLast());
        n.put("audio_delay_token_id", audioTokenIds.getFirst());
        n.put("audio_stream_bos_id", audioStreamBosId);
        n.put("audio_stream_eos_id", audioStreamEosId);
        return n;
    }

    /**
     * The Boson AI {@code config.json} of this model (nested text_config).
     *
     * @return the Boson AI {@code config.json} of this model (nested text_config)
     */
    public String toBosonJson() {
        return Json.pretty(bosonTree());
    }

    ObjectNode bosonTree() {
        ObjectNode n = Json.PRETTY.createObjectNode();
        n.putArray("architectures").add("HiggsAudioModel");
        n.put("model_type", "higgs_audio");
        ObjectNode text = n.putObject("text_config");
        text.put("model_type", "llama");
        putLlamaFields(text);
        text.put("max_position_embeddings", maxPositionEmbeddings);
        text.put("rope_theta", rope.theta());
        if (rope.scaled()) {
            text.set("rope_scaling", ropeJson(false));
        }
        n.put("audio_adapter_type", "dual_ffn");
        var dual = n.putArray("audio_dual_ffn_layers");
        dualFfnLayers.forEach(dual::add);
        n.put("audio_num_codebooks", numCodebooks);
        n.put("audio_codebook_size", codebookSize - 2);
        n.put("audio_stream_bos_id", audioStreamBosId);
        n.put("audio_stream_eos_id", audioStreamEosId);
        n.put("audio_out_token_idx", audioTokenIds.getLast());
        // A second audio id (transformers' delay token) is Boson's audio-in token, also embedded from codebooks.
        n.put("encode_audio_in_tokens", audioTokenIds.size() > 1);
        if (audioTokenIds.size() > 1) {
            n.put("audio_in_token_idx", audioTokenIds.getFirst());
        }
        n.put("use_audio_out_self_attention", false);
        n.put("use_audio_out_embed_projector", false);
        n.put("audio_decoder_proj_num_layers", 0);
        n.put("audio_ffn_hidden_size", hiddenSize);
        n.put("audio_ffn_intermediate_size", intermediateSize);
        return n;
    }

    private void putLlamaFields(ObjectNode n) {
        n.put("vocab_size", vocabSize);
        n.put("hidden_size", hiddenSize);
        n.put("intermediate_size", intermediateSize);
        n.put("num_hidden_layers", numLayers);
        n.put("num_attention_heads", numHeads);
        n.put("num_key_value_heads", numKvHeads);
        n.put("head_dim", headDim);
        n.put("hidden_act", "silu");
        n.put("rms_norm_eps", rmsNormEps);
        n.put("tie_word_embeddings", tieWordEmbeddings);
        torchDtype.ifPresent(d -> n.put("torch_dtype", d.torchName()));
    }

    private ObjectNode ropeJson(boolean withTheta) {
        ObjectNode r = Json.PRETTY.createObjectNode();
        if (withTheta) {
            r.put("rope_theta", rope.theta());
        }
        r.put("rope_type", rope.type());
        if (rope.scaled()) {
            r.put("factor", rope.factor());
            r.put("low_freq_factor", rope.lowFreqFactor());
            r.put("high_freq_factor", rope.highFreqFactor());
            r.put("original_max_position_embeddings", rope.originalMaxPositionEmbeddings());
        }
        return r;
    }

    /** Typed access to the fields of one JSON object, with messages naming the field. */
    private record Fields(JsonNode node, String prefix) {
        int integer(String name, Integer fallback) {
            JsonNode v = node.get(name);
            if (v == null || v.isNull()) {
                if (fallback == null) {
                    throw new ConfigException(prefix + name + " is missing");
                }
                return fallback;
            }
            if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                throw new ConfigException(prefix + name + " must be an integer, got " + v);
            }
            return v.intValue();
        }

        int integerOrNull(String name, int fallback) {
            return integer(name, fallback);
        }

        double number(String name, Number fallback) {
            JsonNode v = node.get(name);
            if (v == null || v.isNull()) {
                if (fallback == null) {
                    throw new ConfigException(prefix + name + " is missing");
                }
                return fallback.doubleValue();
            }
            if (!v.isNumber() || !Double.isFinite(v.doubleValue())) {
                throw new ConfigException(prefix + name + " must be a finite number, got " + v);
            }
            return v.doubleValue();
        }

        boolean bool(String name, boolean fallback) {
            JsonNode v = node.get(name);
            if (v == null || v.isNull()) {
                return fallback;
            }
            if (!v.isBoolean()) {
                throw new ConfigException(prefix + name + " must be true or false, got " + v);
            }
            return v.booleanValue();
        }

        String text(String name, String fallback) {
            JsonNode v = node.get(name);
            if (v == null || v.isNull()) {
                return fallback;
            }
            if (!v.isTextual()) {
                throw new ConfigException(prefix + name + " must be a string, got " + v);
            }
            return v.textValue();
        }

        Optional<DType> dtype() {
            String d = text("torch_dtype", text("dtype", null));
            if (d == null) {
                return Optional.empty();
            }
            try {
                return Optional.of(DType.parse(d));
            } catch (IllegalArgumentException e) {
                throw new ConfigException(prefix + "torch_dtype '" + d + "' is not a dtype");
            }
        }
    }
}
