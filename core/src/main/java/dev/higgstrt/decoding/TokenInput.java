package dev.higgstrt.decoding;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.higgstrt.io.Json;
import dev.higgstrt.model.HiggsAudioConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/**
 * The input of a forward pass: text token ids, audio frames (one code per codebook), or both.
 * With ids, the frames fill, in order, the positions whose id is an audio token id; with frames
 * alone, every position is an audio frame.
 *
 * <p>The token-file JSON is {@code {"input_ids": [...], "audio_input_ids": [[c0..cK-1], ...]}};
 * either key may be absent.
 *
 * @param inputIds    token ids, or null for an all-audio input
 * @param audioFrames frames of {@code num_codebooks} codes (possibly none)
 */
public record TokenInput(int[] inputIds, int[][] audioFrames) {
    /** Largest token file accepted. */
    public static final long MAX_FILE_BYTES = 64L << 20;

    /** Canonical constructor: copies; null frames become none. */
    public TokenInput {
        inputIds = inputIds == null ? null : inputIds.clone();
        audioFrames = audioFrames == null ? new int[0][] : Arrays.stream(audioFrames).map(int[]::clone).toArray(int[][]::new);
        if (inputIds == null && audioFrames.length == 0) {
            throw new IllegalArgumentException("an input needs input_ids, audio_input_ids or both");
        }
    }

    /**
     * Text ids only.
     *
     * @param ids the ids
     * @return text ids only
     */
    public static TokenInput text(int... ids) {
        return new TokenInput(ids, null);
    }

    /**
     * Audio frames only.
     *
     * @param frames the frames
     * @return audio frames only
     */
    public static TokenInput audio(int[]... frames) {
        return new TokenInput(null, frames);
    }

    /**
     * Number of positions.
     *
     * @return number of positions
     */
    public int length() {
        return inputIds != null ? inputIds.length : audioFrames.length;
    }

    /**
     * Positions [from, to) of this input: ids and the frames that fall inside.
     *
     * @param c    the model config
     * @param from the source type
     * @param to   the target type
     * @return positions [from, to) of this input: ids and the frames that fall inside
     */
    public TokenInput slice(HiggsAudioConfig c, int from, int to) {
        if (inputIds == null) {
            return new TokenInput(null, Arrays.copyOfRange(audioFrames, from, to));
        }
        int before = 0;
        int inside = 0;
        for (int i = 0; i < to; i++) {
            if (c.audioTokenIds().contains(inputIds[i])) {
                if (i < from) {
                    before++;
                } else {
                    inside++;
                }
            }
        }
        return new TokenInput(Arrays.copyOfRange(inputIds, from, to), Arrays.copyOfRange(audioFrames, before, before + inside));
    }

    /**
     * Checks this input against a model: ids in the vocabulary, one frame per audio position,
     * {@code num_codebooks} codes per frame, codes in {@code [0, codebook_size)}.
     *
     * @throws IllegalArgumentException naming the offending position
     * @param c the model config
     */
    public void validate(HiggsAudioConfig c) {
        int audioPositions = inputIds == null ? audioFrames.length : 0;
        if (inputIds != null) {
            for (int i = 0; i < inputIds.length; i++) {
                if (inputIds[i] < 0 || inputIds[i] >= c.vocabSize()) {
                    throw new IllegalArgumentException("input_ids[" + i + "] = " + inputIds[i] + " is outside the vocabulary [0,"
                            + c.vocabSize() + ")");
                }
                if (c.audioTokenIds().contains(inputIds[i])) {
                    audioPositions++;
                }
            }
        }
        if (audioPositions != audioFrames.length) {
            throw new IllegalArgumentException(audioPositions + " audio positions (ids " + c.audioTokenIds()
                    + ") but " + audioFrames.length + " audio frames");
        }
        for (int f = 0; f < audioFrames.length; f++) {
            if (audioFrames[f].length != c.numCodebooks()) {
                throw new IllegalArgumentException("audio_input_ids[" + f + "] has " + audioFrames[f].length + " codes, expected "
                        + c.numCodebooks());
            }
            for (int k = 0; k < audioFrames[f].length; k++) {
                int code = audioFrames[f][k];
                if (code < 0 || code >= c.codebookSize()) {
                    throw new IllegalArgumentException("audio_input_ids[" + f + "][" + k + "] = " + code
                            + " is outside the codebook [0," + c.codebookSize() + ")");
                }
            }
        }
    }

    /**
     * Reads a token file.
     *
     * @throws IllegalArgumentException naming the file and what is wrong
     * @param file the file
     * @return a token file
     * @throws IOException when a file cannot be read or written
     */
    public static TokenInput read(Path file) throws IOException {
        long size = Files.size(file);
        if (size > MAX_FILE_BYTES) {
            throw new IllegalArgumentException(file + ": " + size + " bytes exceeds the limit of " + MAX_FILE_BYTES);
        }
        try {
            return parse(Json.readUtf8(Json.STRICT, Files.readAllBytes(file)));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Parses the token-file JSON text.
     *
     * @param json the JSON text
     * @return the input
     * @throws IllegalArgumentException for invalid JSON or values, saying what is wrong
     */
    public static TokenInput parse(String json) {
        try {
            return parse(Json.STRICT.readTree(json));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    /** Parses the token-file JSON tree. */
    static TokenInput parse(JsonNode root) {
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("a token file is a JSON object with input_ids and/or audio_input_ids");
        }
        for (String f : root.properties().stream().map(Map.Entry::getKey).toList()) {
            if (!f.equals("input_ids") && !f.equals("audio_input_ids")) {
                throw new IllegalArgumentException("unexpected key '" + f + "' (expected input_ids, audio_input_ids)");
            }
        }
        int[] ids = root.has("input_ids") ? ints(root.get("input_ids"), "input_ids") : null;
        int[][] frames = null;
        JsonNode a = root.get("audio_input_ids");
        if (a != null) {
            if (!a.isArray()) {
                throw new IllegalArgumentException("audio_input_ids is not a list of frames");
            }
            frames = new int[a.size()][];
            for (int i = 0; i < frames.length; i++) {
                frames[i] = ints(a.get(i), "audio_input_ids[" + i + "]");
            }
        }
        return new TokenInput(ids, frames);
    }

    private static int[] ints(JsonNode n, String what) {
        if (n == null || !n.isArray()) {
            throw new IllegalArgumentException(what + " is not a list of integers");
        }
        int[] out = new int[n.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = n.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                throw new IllegalArgumentException(what + "[" + i + "] = " + v + " is not a 32-bit integer");
            }
            out[i] = v.intValue();
        }
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TokenInput t && Arrays.equals(inputIds, t.inputIds) && Arrays.deepEquals(audioFrames, t.audioFrames);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(inputIds) + Arrays.deepHashCode(audioFrames);
    }

    @Override
    public String toString() {
        return "TokenInput(" + length() + " positions, " + audioFrames.length + " audio frames)";
    }
}
