package dev.higgstrt.synth;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.higgstrt.io.Json;
import dev.higgstrt.model.HiggsAudioConfig;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small but real {@code tokenizer.json} for a synthetic checkpoint: byte-level BPE over the 256
 * byte tokens (no merges, so every byte is a token) with the special tokens the Higgs Audio prompt
 * uses, placed at the top of the model's vocabulary; the two audio placeholders sit at the
 * config's audio token ids. With it a synthetic model runs text to codes with no download.
 *
 * @param json     the tokenizer.json text
 * @param specials each special token's id
 */
public record SyntheticTokenizer(String json, Map<String, Integer> specials) {
    /** The special tokens of the chat format, besides the two audio placeholders. */
    static final List<String> NAMES = List.of("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
            "<|end_header_id|>", "<|eot_id|>", "<|audio_bos|>", "<|audio_eos|>", "<|audio_out_bos|>", "<|AUDIO|>",
            "<|scene_desc_start|>", "<|scene_desc_end|>");
    /** The name of the delay token as the processor looks it up. */
    static final String DELAY = "<|reserved_special_token_6|>";
    /** The audio placeholder. */
    static final String AUDIO_OUT = "<|AUDIO_OUT|>";

    /**
     * Whether a geometry's vocabulary holds the 256 byte tokens and the special tokens.
     *
     * @param c the model geometry
     * @return true when {@link #of} can make its tokenizer
     */
    public static boolean fits(HiggsAudioConfig c) {
        return c.vocabSize() >= 256 + NAMES.size() + 2;
    }

    /**
     * The tokenizer of a geometry.
     *
     * @param c the model geometry (its vocabulary must hold 256 bytes and the special tokens)
     * @return the tokenizer
     */
    public static SyntheticTokenizer of(HiggsAudioConfig c) {
        int delay = c.audioTokenIds().getFirst();
        int audio = c.audioTokenIds().getLast();
        Map<String, Integer> specials = new LinkedHashMap<>();
        int next = c.vocabSize() - 1;
        for (String name : NAMES) {
            while (next == delay || next == audio) {
                next--;
            }
            specials.put(name, next--);
        }
        specials.put(DELAY, delay);
        specials.put(AUDIO_OUT, audio);
        if (next < 256) {
            throw new IllegalArgumentException("vocab_size " + c.vocabSize() + " cannot hold 256 byte tokens and "
                    + specials.size() + " special tokens");
        }
        ObjectNode root = Json.PRETTY.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        specials.entrySet().stream().sorted(Map.Entry.comparingByValue()).forEach(e -> {
            ObjectNode t = added.addObject();
            t.put("id", e.getValue());
            t.put("content", e.getKey());
            t.put("single_word", false);
            t.put("lstrip", false);
            t.put("rstrip", false);
            t.put("normalized", false);
            t.put("special", true);
        });
        root.putNull("normalizer");
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "ByteLevel");
        pre.put("add_prefix_space", false);
        pre.put("trim_offsets", true);
        pre.put("use_regex", true);
        root.putNull("post_processor");
        ObjectNode dec = root.putObject("decoder");
        dec.put("type", "ByteLevel");
        dec.put("add_prefix_space", true);
        dec.put("trim_offsets", true);
        dec.put("use_regex", true);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("ignore_merges", false);
        ObjectNode vocab = model.putObject("vocab");
        List<String> bytes = byteAlphabet();
        for (int b = 0; b < 256; b++) {
            vocab.put(bytes.get(b), b);
        }
        model.putArray("merges");
        return new SyntheticTokenizer(Json.pretty(root) + "\n", Map.copyOf(specials));
    }

    /** GPT-2's byte-to-character table of byte-level BPE: printable bytes stand for themselves, others from U+0100 on. */
    static List<String> byteAlphabet() {
        List<String> out = new ArrayList<>(256);
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            out.add(String.valueOf((char) (printable ? b : 256 + n++)));
        }
        return out;
    }
}
