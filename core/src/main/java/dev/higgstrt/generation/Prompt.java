package dev.higgstrt.generation;

import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.model.SpeechTokens;
import dev.higgstrt.text.TextTokenizer;
import dev.higgstrt.text.TokenizerException;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A text-to-speech prompt in the chat format of transformers' Higgs Audio v2 template: the
 * system message (and an optional scene description), optionally a voice reference as an earlier
 * turn (its transcript as the user's, its codes as the assistant's audio), the text to speak, and
 * the generation prompt that ends in {@code <|audio_out_bos|>}. Immutable.
 *
 * @param system the system message (the template requires one)
 * @param scene  a scene description, if any
 * @param voice  a voice reference, if any
 * @param text   the text to speak
 */
public record Prompt(String system, Optional<String> scene, Optional<VoiceReference> voice, String text) {
    /** Boson AI's default system message for generation. */
    public static final String DEFAULT_SYSTEM = "Generate audio following instruction.";
    private static final Pattern SPECIAL = Pattern.compile("<\\|[^<>|\\s]{1,64}\\|>");

    /** Canonical constructor: no nulls. */
    public Prompt {
        Objects.requireNonNull(system, "system");
        Objects.requireNonNull(scene, "scene");
        Objects.requireNonNull(voice, "voice");
        Objects.requireNonNull(text, "text");
    }

    /**
     * A prompt of {@code text} with the default system message, no scene and no voice.
     *
     * @param text the text to speak
     * @return the prompt
     */
    public static Prompt of(String text) {
        return new Prompt(DEFAULT_SYSTEM, Optional.empty(), Optional.empty(), text);
    }

    /**
     * This prompt with another system message.
     *
     * @param message the system message
     * @return the prompt
     */
    public Prompt withSystem(String message) {
        return new Prompt(message, scene, voice, text);
    }

    /**
     * This prompt with a scene description.
     *
     * @param description the scene
     * @return the prompt
     */
    public Prompt withScene(String description) {
        return new Prompt(system, Optional.of(description), voice, text);
    }

    /**
     * This prompt cloning a voice.
     *
     * @param reference the reference transcript and codes
     * @return the prompt
     */
    public Prompt withVoice(VoiceReference reference) {
        return new Prompt(system, scene, Optional.of(reference), text);
    }

    /**
     * A voice to clone: the transcript of a reference recording and its codec codes.
     *
     * @param transcript what the reference says
     * @param codes      [num_codebooks][T] codes, each in [0, audio codes)
     */
    public record VoiceReference(String transcript, int[][] codes) {
        /** Canonical constructor: no nulls, a rectangle of codes. */
        public VoiceReference {
            Objects.requireNonNull(transcript, "transcript");
            Objects.requireNonNull(codes, "codes");
            if (codes.length == 0 || codes[0].length == 0) {
                throw new IllegalArgumentException("reference codes are empty");
            }
            for (int[] row : codes) {
                if (row.length != codes[0].length) {
                    throw new IllegalArgumentException("reference codes: codebooks of different lengths (" + row.length
                            + " and " + codes[0].length + ")");
                }
            }
        }
    }

    /**
     * The prompt's positions for the model.
     *
     * @param ids    the text ids (audio placeholders where frames go)
     * @param frames the audio frames of the placeholders, in order
     */
    public record Tokens(int[] ids, List<int[]> frames) {
        /** Canonical constructor: copies the frames. */
        public Tokens {
            frames = List.copyOf(frames);
        }

        /**
         * The positions as a decoder input.
         *
         * @return the ids with their frames
         */
        public TokenInput input() {
            return new TokenInput(ids, frames.toArray(int[][]::new));
        }
    }

    /**
     * Renders and tokenizes the prompt.
     *
     * @param tokenizer the checkpoint's text tokenizer
     * @param ids       the checkpoint's speech ids
     * @return the positions
     * @throws TokenizerException       for a special token the tokenizer does not have, or a tokenizer
     *                                  whose {@code <|audio_out_bos|>} is not the config's
     * @throws IllegalArgumentException for reference codes of the wrong codebook count or out of range
     */
    public Tokens tokenize(TextTokenizer tokenizer, SpeechTokens ids) {
        checkSpecials(tokenizer, "system message", system);
        scene.ifPresent(s -> checkSpecials(tokenizer, "scene", s));
        voice.ifPresent(v -> checkSpecials(tokenizer, "voice transcript", v.transcript()));
        checkSpecials(tokenizer, "text", text);
        int audioOutBos = require(tokenizer, "<|audio_out_bos|>");
        if (audioOutBos != ids.audioOutBos()) {
            throw new TokenizerException("the tokenizer's <|audio_out_bos|> is " + audioOutBos + ", the config's audio_bos_token_id "
                    + ids.audioOutBos());
        }
        List<Integer> out = new ArrayList<>();
        List<int[]> frames = new ArrayList<>();
        StringBuilder head = new StringBuilder();
        head.append("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n").append(strip(system));
        scene.ifPresent(s -> head.append("\n\n<|scene_desc_start|>\n").append(strip(s)).append("\n<|scene_desc_end|>"));
        head.append("<|eot_id|>");
        if (voice.isPresent()) {
            VoiceReference v = voice.get();
            head.append("<|start_header_id|>user<|end_header_id|>\n\n").append(strip(v.transcript())).append("<|eot_id|>")
                    .append("<|start_header_id|>assistant<|end_header_id|>\n\n<|audio_out_bos|>");
            add(out, tokenizer.encode(head.toString()));
            head.setLength(0);
            int[][] delayed = DelayPattern.apply(checkedCodes(v.codes(), ids), ids.streamBos(), ids.streamEos());
            for (int i = 0; i < delayed.length; i++) {
                out.add(i < delayed.length - (ids.numCodebooks() - 1) ? ids.audioToken() : ids.delayToken());
                frames.add(delayed[i]);
            }
            head.append("<|audio_eos|><|eot_id|>");
        }
        head.append("<|start_header_id|>user<|end_header_id|>\n\n").append(strip(text)).append("<|eot_id|>")
                .append("<|start_header_id|>assistant<|end_header_id|>\n\n<|audio_out_bos|>");
        add(out, tokenizer.encode(head.toString()));
        return new Tokens(out.stream().mapToInt(Integer::intValue).toArray(), frames);
    }

    private static int[][] checkedCodes(int[][] codes, SpeechTokens ids) {
        if (codes.length != ids.numCodebooks()) {
            throw new IllegalArgumentException("reference codes have " + codes.length + " codebooks, the model "
                    + ids.numCodebooks());
        }
        for (int k = 0; k < codes.length; k++) {
            for (int t = 0; t < codes[k].length; t++) {
                if (codes[k][t] < 0 || codes[k][t] >= ids.audioCodes()) {
                    throw new IllegalArgumentException("reference codes: codebook " + k + " position " + t + " = " + codes[k][t]
                            + " is outside [0," + ids.audioCodes() + ")");
                }
            }
        }
        return codes;
    }

    private static void add(List<Integer> out, int[] ids) {
        for (int id : ids) {
            out.add(id);
        }
    }

    private static int require(TextTokenizer tokenizer, String token) {
        OptionalInt id = tokenizer.specialTokenId(token);
        if (id.isEmpty()) {
            throw new TokenizerException("the tokenizer has no " + token + " token (not a Higgs Audio tokenizer?)");
        }
        return id.getAsInt();
    }

    private static void checkSpecials(TextTokenizer tokenizer, String where, String s) {
        Matcher m = SPECIAL.matcher(s);
        while (m.find()) {
            if (tokenizer.specialTokenId(m.group()).isEmpty()) {
                throw new TokenizerException("the " + where + " holds " + m.group() + ", which is no special token of the tokenizer");
            }
        }
    }

    /** Python's {@code str.strip()}, as the template's {@code trim} filter: Unicode whitespace at both ends. */
    static String strip(String s) {
        int b = 0;
        int e = s.length();
        while (b < e && isPythonSpace(s.charAt(b))) {
            b++;
        }
        while (e > b && isPythonSpace(s.charAt(e - 1))) {
            e--;
        }
        return s.substring(b, e);
    }

    private static boolean isPythonSpace(char ch) {
        return Character.isWhitespace(ch) || Character.isSpaceChar(ch) || ch == '\u0085' || (ch >= '\u001c' && ch <= '\u001f');
    }
}
