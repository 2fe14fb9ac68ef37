package dev.higgstrt.audio;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.higgstrt.io.Json;
import dev.higgstrt.model.ConfigException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The geometry of the audio tokenizer's decoder, read from its {@code config.json} as
 * transformers' {@code HiggsAudioV2TokenizerConfig} reads it (the same defaults where a field is
 * absent): the quantizers and their codebooks, the projection to the acoustic latent, and the
 * DAC decoder's channels and upsampling ratios.
 *
 * @param sampleRate           samples a second of the output
 * @param codebookSize         codes a codebook holds
 * @param codebookDim          the width of a codebook entry
 * @param numQuantizers        codebooks a frame has: {@code 1000 * target_bandwidths[-1] //
 *                             (frame_rate * ceil(log2(codebook_size)))}
 * @param hiddenSize           the width the quantizers project to (acoustic plus semantic widths)
 * @param acousticHiddenSize   the DAC latent width ({@code fc2} projects to it)
 * @param decoderHiddenSize    channels of the DAC decoder's first convolution (halved by each block)
 * @param upsamplingRatios     the stride of each decoder block; their product is samples a frame
 */
public record CodecConfig(int sampleRate, int codebookSize, int codebookDim, int numQuantizers, int hiddenSize,
                          int acousticHiddenSize, int decoderHiddenSize, List<Integer> upsamplingRatios) {
    /** The config's file name in a codec folder. */
    public static final String FILE_NAME = "config.json";
    /** transformers' {@code model_type} of the audio tokenizer. */
    public static final String MODEL_TYPE = "higgs_audio_v2_tokenizer";
    private static final List<Double> DEFAULT_BANDWIDTHS = List.of(0.5, 1.0, 1.5, 2.0, 4.0);
    private static final List<Integer> DEFAULT_RATIOS = List.of(8, 5, 4, 2);

    /** Checks the values. */
    public CodecConfig {
        upsamplingRatios = List.copyOf(upsamplingRatios);
        positive("sample_rate", sampleRate);
        positive("codebook_size", codebookSize);
        positive("codebook_dim", codebookDim);
        positive("num_quantizers (from target_bandwidths)", numQuantizers);
        positive("hidden_size", hiddenSize);
        positive("acoustic_model_config.hidden_size", acousticHiddenSize);
        positive("acoustic_model_config.decoder_hidden_size", decoderHiddenSize);
        if (upsamplingRatios.isEmpty()) {
            throw new ConfigException("acoustic_model_config.upsampling_ratios is empty");
        }
        for (int r : upsamplingRatios) {
            positive("acoustic_model_config.upsampling_ratios", r);
        }
        if (decoderHiddenSize >> upsamplingRatios.size() <= 0 || decoderHiddenSize % (1 << upsamplingRatios.size()) != 0) {
            throw new ConfigException("acoustic_model_config.decoder_hidden_size " + decoderHiddenSize
                    + " cannot be halved " + upsamplingRatios.size() + " times (one for each upsampling ratio)");
        }
    }

    private static void positive(String name, long v) {
        if (v <= 0) {
            throw new ConfigException(name + " must be positive, got " + v);
        }
    }

    /**
     * Output samples a frame of codes becomes: the product of the upsampling ratios (960 for
     * the published tokenizer: 25 frames a second at 24 kHz).
     *
     * @return samples a frame
     */
    public int samplesPerFrame() {
        int n = 1;
        for (int r : upsamplingRatios) {
            n *= r;
        }
        return n;
    }

    /**
     * Channels after decoder block {@code block} (-1: before the first block).
     *
     * @param block the block index, or -1
     * @return its output channels
     */
    public int channelsAfter(int block) {
        return decoderHiddenSize >> (block + 1);
    }

    /**
     * Reads a codec folder's (or file's) config.json.
     *
     * @param folderOrFile the codec folder or its config.json
     * @return the config
     * @throws IOException     when it cannot be read
     * @throws ConfigException naming the file and the field that is wrong
     */
    public static CodecConfig read(Path folderOrFile) throws IOException {
        Path file = Files.isDirectory(folderOrFile) ? folderOrFile.resolve(FILE_NAME) : folderOrFile;
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null, "no config.json in the codec folder");
        }
        if (Files.size(file) > 10_000_000) {
            throw new ConfigException(file + ": larger than 10 MB, not a codec config");
        }
        try {
            return parse(Files.readString(file));
        } catch (ConfigException e) {
            throw new ConfigException(file + ": " + e.getMessage());
        }
    }

    /**
     * Parses the text of a codec config.json.
     *
     * @param json the JSON text
     * @return the config
     * @throws ConfigException for invalid JSON, another model type or invalid values
     */
    public static CodecConfig parse(String json) {
        JsonNode root;
        try {
            root = Json.CONFIG.readTree(json);
        } catch (JsonProcessingException e) {
            throw new ConfigException("not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw new ConfigException("not a JSON object");
        }
        String type = root.path("model_type").asText("");
        if (!type.equals(MODEL_TYPE)) {
            throw new ConfigException("model_type is '" + type + "', expected " + MODEL_TYPE
                    + " (the audio tokenizer's config, not the speech model's)");
        }
        JsonNode acoustic = root.path("acoustic_model_config");
        JsonNode semantic = root.path("semantic_model_config");
        int sampleRate = integer(root, "sample_rate", 24000);
        int codebookSize = integer(root, "codebook_size", 1024);
        List<Integer> down = ratios(acoustic, "downsampling_ratios");
        List<Integer> up = ratios(acoustic, "upsampling_ratios");
        int acousticHidden = integer(acoustic, "hidden_size", 256);
        int semanticHidden = integer(semantic, "hidden_size", 768);
        int hidden = acousticHidden + semanticHidden;
        JsonNode dim = root.get("codebook_dim");
        int codebookDim = dim == null ? 64 : dim.isNull() ? hidden : integer(root, "codebook_dim", 64);
        int hop = 1;
        for (int r : down) {
            hop *= r;
        }
        if (hop <= 0) {
            throw new ConfigException("acoustic_model_config.downsampling_ratios must be positive, got " + down);
        }
        int frameRate = (int) Math.ceil((double) sampleRate / hop);
        int bits = 32 - Integer.numberOfLeadingZeros(Math.max(1, codebookSize - 1));
        List<Double> bandwidths = bandwidths(root);
        int quantizers = (int) Math.floor(1000 * bandwidths.getLast() / ((double) frameRate * bits));
        return new CodecConfig(sampleRate, codebookSize, codebookDim, quantizers, hidden, acousticHidden,
                integer(acoustic, "decoder_hidden_size", 1024), up);
    }

    private static int integer(JsonNode node, String name, int fallback) {
        JsonNode v = node.get(name);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new ConfigException(name + " must be an integer, got " + v);
        }
        return v.intValue();
    }

    private static List<Integer> ratios(JsonNode acoustic, String name) {
        JsonNode v = acoustic.get(name);
        if (v == null || v.isNull()) {
            return DEFAULT_RATIOS;
        }
        if (!v.isArray()) {
            throw new ConfigException("acoustic_model_config." + name + " must be a list of integers, got " + v);
        }
        List<Integer> out = new ArrayList<>();
        for (JsonNode r : v) {
            if (!r.isIntegralNumber() || !r.canConvertToInt()) {
                throw new ConfigException("acoustic_model_config." + name + " must be a list of integers, got " + v);
            }
            out.add(r.intValue());
        }
        return out;
    }

    private static List<Double> bandwidths(JsonNode root) {
        JsonNode v = root.get("target_bandwidths");
        if (v == null || v.isNull()) {
            return DEFAULT_BANDWIDTHS;
        }
        if (!v.isArray() || v.isEmpty()) {
            throw new ConfigException("target_bandwidths must be a non-empty list of numbers, got " + v);
        }
        List<Double> out = new ArrayList<>();
        for (JsonNode b : v) {
            if (!b.isNumber()) {
                throw new ConfigException("target_bandwidths must be a non-empty list of numbers, got " + v);
            }
            out.add(b.doubleValue());
        }
        return out;
    }

    /**
     * This config as a transformers config.json (the fields decode reads), for a synthetic codec.
     *
     * @return the JSON text
     */
    public String toJson() {
        var root = Json.CONFIG.createObjectNode();
        root.put("model_type", MODEL_TYPE);
        root.putArray("architectures").add("HiggsAudioV2TokenizerModel");
        root.put("sample_rate", sampleRate);
        root.put("codebook_size", codebookSize);
        root.put("codebook_dim", codebookDim);
        int bits = 32 - Integer.numberOfLeadingZeros(Math.max(1, codebookSize - 1));
        int frameRate = (int) Math.ceil((double) sampleRate / samplesPerFrame());
        // a bandwidth that gives exactly numQuantizers: the middle of its floor's interval
        root.putArray("target_bandwidths").add((numQuantizers + 0.5) * frameRate * bits / 1000.0);
        var acoustic = root.putObject("acoustic_model_config");
        acoustic.put("model_type", "dac");
        acoustic.put("hidden_size", acousticHiddenSize);
        acoustic.put("decoder_hidden_size", decoderHiddenSize);
        var upList = acoustic.putArray("upsampling_ratios");
        var downList = acoustic.putArray("downsampling_ratios");
        for (int r : upsamplingRatios) {
            upList.add(r);
            downList.add(r);
        }
        root.putObject("semantic_model_config").put("model_type", "hubert").put("hidden_size", hiddenSize - acousticHiddenSize);
        return Json.pretty(root);
    }
}
