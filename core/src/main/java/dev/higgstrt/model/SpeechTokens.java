package dev.higgstrt.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.higgstrt.io.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The ids that speech generation needs, read from a checkpoint's {@code config.json}: the text
 * stream's audio placeholder ({@code <|AUDIO_OUT|>}), delay token and {@code <|audio_out_bos|>},
 * the end-of-text id that stops generation, and each codebook's stream BOS and EOS codes. Absent
 * fields take transformers' {@code HiggsAudioV2Config} defaults, as transformers does.
 *
 * @param audioToken    the placeholder of an audio frame in the text stream ({@code audio_token_id})
 * @param delayToken    the placeholder once the codebooks close ({@code audio_delay_token_id})
 * @param audioOutBos   {@code <|audio_out_bos|>} ({@code audio_bos_token_id}), which ends the prompt
 * @param eos           the end of the text stream ({@code eos_token_id}), placed after an all-EOS frame
 * @param streamBos     the code of a codebook's stream start ({@code audio_stream_bos_id})
 * @param streamEos     the code of a codebook's stream end ({@code audio_stream_eos_id})
 * @param numCodebooks  codebooks a frame
 * @param codebookSize  entries of a codebook's logits, BOS and EOS included
 */
public record SpeechTokens(int audioToken, int delayToken, int audioOutBos, int eos, int streamBos, int streamEos,
                           int numCodebooks, int codebookSize) {
    /** Canonical constructor: the stream codes must lie in the codebook. */
    public SpeechTokens {
        if (numCodebooks <= 0 || codebookSize <= 0) {
            throw new ConfigException("num_codebooks and codebook_size must be positive");
        }
        if (streamBos < 0 || streamBos >= codebookSize || streamEos < 0 || streamEos >= codebookSize || streamBos == streamEos) {
            throw new ConfigException("audio_stream_bos_id " + streamBos + " and audio_stream_eos_id " + streamEos
                    + " must be distinct codes of the codebook [0," + codebookSize + ")");
        }
    }

    /**
     * The codes a codec decodes: those below both stream markers.
     *
     * @return the number of audio codes a codebook holds ({@code min(streamBos, streamEos)})
     */
    public int audioCodes() {
        return Math.min(streamBos, streamEos);
    }

    /**
     * Reads the ids of a checkpoint folder of any layout.
     *
     * @param folder a checkpoint folder (transformers, Boson or converted)
     * @return the ids
     * @throws IOException     when config.json cannot be read
     * @throws ConfigException for invalid values
     */
    public static SpeechTokens read(Path folder) throws IOException {
        HiggsAudioConfig c = HiggsAudioConfig.readFolder(folder);
        Path file = folder.resolve(HiggsAudioConfig.FILE_NAME);
        JsonNode root;
        try {
            root = Json.readUtf8(Json.CONFIG, Files.readAllBytes(file));
        } catch (JsonProcessingException e) {
            throw new ConfigException(file + ": not valid JSON: " + e.getOriginalMessage());
        }
        JsonNode text = c.layout() == SourceLayout.BOSON && root.path("text_config").isObject() ? root.get("text_config") : root;
        int audio = c.audioTokenIds().getLast();
        int delay = c.audioTokenIds().getFirst();
        try {
            return new SpeechTokens(intField(root, "audio_token_id", audio), intField(root, "audio_delay_token_id", delay),
                    intField(root, "audio_bos_token_id", intField(root, "audio_out_bos_token_id", 128013)),
                    intField(text, "eos_token_id", 128009), c.audioStreamBosId(), c.audioStreamEosId(), c.numCodebooks(),
                    c.codebookSize());
        } catch (ConfigException e) {
            throw new ConfigException(file + ": " + e.getMessage());
        }
    }

    /** An integer field, or the first of a list (eos_token_id may be one); {@code fallback} when absent. */
    private static int intField(JsonNode n, String name, int fallback) {
        JsonNode v = n.get(name);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (v.isArray() && !v.isEmpty()) {
            v = v.get(0);
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new ConfigException(name + " must be an integer, got " + v);
        }
        return v.intValue();
    }

    /**
     * These ids as config.json fields, for a converted checkpoint's config.
     *
     * @param node receives {@code audio_token_id}, {@code audio_delay_token_id}, {@code audio_bos_token_id}
     *             and {@code eos_token_id}
     */
    public void writeTo(com.fasterxml.jackson.databind.node.ObjectNode node) {
        node.put("audio_token_id", audioToken);
        node.put("audio_delay_token_id", delayToken);
        node.put("audio_bos_token_id", audioOutBos);
        node.put("eos_token_id", eos);
    }
}
