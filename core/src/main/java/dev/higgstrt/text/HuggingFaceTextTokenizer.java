package dev.higgstrt.text;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.higgstrt.io.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.OptionalInt;

/**
 * A {@code tokenizer.json} (Hugging Face tokenizers' format: byte-level BPE with Llama 3's split
 * pattern for this model) encoded by the Hugging Face tokenizers library itself, through DJL's
 * JNI binding. The library's CPU build in DJL's jar is used and DJL is put in offline mode, so
 * that nothing is downloaded at run time, also on a machine with a GPU.
 */
public final class HuggingFaceTextTokenizer implements TextTokenizer {
    /** The file name beside a checkpoint. */
    public static final String FILE_NAME = "tokenizer.json";

    static {
        // DJL picks a CUDA build of the native library where it sees a GPU, and downloads it;
        // the CPU build ships in its jar and tokenizing does not need a GPU.
        if (System.getProperty("RUST_FLAVOR") == null && System.getenv("RUST_FLAVOR") == null) {
            System.setProperty("RUST_FLAVOR", "cpu");
        }
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
    }

    private final Path file;
    private final HuggingFaceTokenizer tokenizer;
    private final Map<String, Integer> added;

    private HuggingFaceTextTokenizer(Path file, HuggingFaceTokenizer tokenizer, Map<String, Integer> added) {
        this.file = file;
        this.tokenizer = tokenizer;
        this.added = Map.copyOf(added);
    }

    /**
     * Opens a {@code tokenizer.json}, or the one in a checkpoint folder.
     *
     * @param fileOrFolder the file, or a folder holding {@value #FILE_NAME}
     * @return the tokenizer, to be closed
     * @throws IOException        when the file cannot be read
     * @throws TokenizerException when it is not a valid tokenizer.json, naming it
     */
    public static HuggingFaceTextTokenizer open(Path fileOrFolder) throws IOException {
        Path file = Files.isDirectory(fileOrFolder) ? fileOrFolder.resolve(FILE_NAME) : fileOrFolder;
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null, "no tokenizer.json" + (Files.isDirectory(fileOrFolder)
                    ? " in this folder (a checkpoint's text tokenizer)" : ""));
        }
        JsonNode root;
        try {
            root = Json.readUtf8(Json.STRICT, Files.readAllBytes(file));
        } catch (JsonProcessingException e) {
            throw new TokenizerException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (!root.isObject() || !root.path("model").isObject()) {
            throw new TokenizerException(file + ": not a tokenizer.json (no \"model\" object)");
        }
        Map<String, Integer> added = new HashMap<>();
        for (JsonNode t : root.path("added_tokens")) {
            if (!t.path("content").isTextual() || !t.path("id").canConvertToInt()) {
                throw new TokenizerException(file + ": an added token without content or id: " + t);
            }
            added.put(t.get("content").asText(), t.get("id").asInt());
        }
        HuggingFaceTokenizer tokenizer;
        try {
            tokenizer = HuggingFaceTokenizer.builder().optTokenizerPath(file).optAddSpecialTokens(false)
                    .optTruncation(false).optPadding(false).optMaxLength(Integer.MAX_VALUE).build();
        } catch (RuntimeException e) {
            throw new TokenizerException(file + ": the tokenizers library refused it: " + e.getMessage(), e);
        }
        return new HuggingFaceTextTokenizer(file, tokenizer, added);
    }

    @Override
    public int[] encode(String text) {
        if (text.isEmpty()) {
            return new int[0];
        }
        Encoding e = tokenizer.encode(text, false, false);
        long[] ids = e.getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    @Override
    public String decode(int[] ids) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            l[i] = ids[i];
        }
        return tokenizer.decode(l, false);
    }

    @Override
    public OptionalInt specialTokenId(String token) {
        Integer id = added.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /**
     * The file read.
     *
     * @return the tokenizer.json path
     */
    public Path file() {
        return file;
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
