package dev.higgstrt.text;

import com.fasterxml.jackson.databind.JsonNode;
import dev.higgstrt.io.Json;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The tokenizer against the real Llama 3 tokenizer.json, with expected ids from an independent
 * implementation (the JavaScript port of transformers.js, scripts/tokenizer/expected-ids.mjs):
 * Unicode whitespace, CJK, long digit runs, special tokens inside text, empty and long inputs.
 */
public class TextTokenizerTest {
    static Path llama3;

    @TempDir
    Path tmp;

    /**
     * Where scripts/tokenizer/fetch-llama3.sh puts the Llama 3 tokenizer.json.
     *
     * @return $HIGGS_TRT_LLAMA3_TOKENIZER/tokenizer.json, or the default cache's
     */
    public static Path llama3Json() {
        String env = System.getenv("HIGGS_TRT_LLAMA3_TOKENIZER");
        Path dir = env != null ? Path.of(env) : Path.of(System.getProperty("user.home"), ".cache", "higgs-trt", "llama3-tokenizer");
        return dir.resolve("tokenizer.json");
    }

    @BeforeAll
    static void find() {
        llama3 = llama3Json();
        if (!Files.isRegularFile(llama3)) {
            System.err.println("TextTokenizerTest skipped: no " + llama3 + " (bash scripts/tokenizer/fetch-llama3.sh fetches it)");
        }
    }

    @Test
    void encodesAsTheIndependentImplementationDoes() throws IOException {
        assumeTrue(Files.isRegularFile(llama3), "no Llama 3 tokenizer.json: run scripts/tokenizer/fetch-llama3.sh");
        JsonNode expected = Json.STRICT.readTree(TextTokenizerTest.class.getResourceAsStream("/tokenizer/llama3-expected.json"));
        int cases = 0;
        try (TextTokenizer t = HuggingFaceTextTokenizer.open(llama3)) {
            for (JsonNode c : expected.get("cases")) {
                String text = c.get("text").asText();
                int[] ids = new int[c.get("ids").size()];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = c.get("ids").get(i).asInt();
                }
                assertThat(t.encode(text)).as("ids of %s", abbreviated(text)).containsExactly(ids);
                assertThat(t.decode(ids)).as("text of %s", abbreviated(text)).isEqualTo(c.get("decoded").asText());
                cases++;
            }
            assertThat(t.specialTokenId("<|eot_id|>")).hasValue(128009);
            assertThat(t.specialTokenId("<|begin_of_text|>")).hasValue(128000);
            assertThat(t.specialTokenId("<|made_up_token|>")).isEmpty();
        }
        assertThat(cases).isGreaterThanOrEqualTo(25);
    }

    private static String abbreviated(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "... (" + s.length() + " chars)" : s;
    }

    @Test
    void badFilesAreNamed() throws IOException {
        Path none = tmp.resolve("none.json");
        assertThatThrownBy(() -> HuggingFaceTextTokenizer.open(none)).hasMessageContaining(none.toString());
        assertThatThrownBy(() -> HuggingFaceTextTokenizer.open(tmp)).hasMessageContaining("no tokenizer.json in this folder");
        Path bad = Files.writeString(tmp.resolve("tokenizer.json"), "{\"model\": ");
        assertThatThrownBy(() -> HuggingFaceTextTokenizer.open(bad)).isInstanceOf(TokenizerException.class)
                .hasMessageStartingWith(bad + ": not valid JSON");
        Files.writeString(bad, "{\"version\": \"1.0\"}");
        assertThatThrownBy(() -> HuggingFaceTextTokenizer.open(bad)).hasMessage(bad + ": not a tokenizer.json (no \"model\" object)");
        Files.writeString(bad, "{\"model\": {\"type\": \"Nonsense\"}}");
        assertThatThrownBy(() -> HuggingFaceTextTokenizer.open(bad)).isInstanceOf(TokenizerException.class)
                .hasMessageStartingWith(bad + ": the tokenizers library refused it");
    }
}
