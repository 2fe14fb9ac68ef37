package dev.higgstrt.generation;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.higgstrt.io.Json;
import dev.higgstrt.model.SpeechTokens;
import dev.higgstrt.text.HuggingFaceTextTokenizer;
import dev.higgstrt.text.TextTokenizer;
import dev.higgstrt.text.TextTokenizerTest;
import dev.higgstrt.text.TokenizerException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The prompt equals what transformers' HiggsAudioV2Processor makes of the chat template
 * (prompts.json from scripts/fixtures/make_generation_fixtures.py): the same ids, and for a voice
 * reference the same delayed frames, with a Higgs-like tokenizer (the Llama 3 tokenizer.json with
 * reserved tokens renamed as Higgs Audio's are).
 */
class PromptTest {
    /** Reserved ids of the Llama 3 tokenizer renamed, as the fixture script renames them. */
    static final Map<Integer, String> HIGGS_NAMES = Map.of(128011, "<|audio_bos|>", 128012, "<|audio_eos|>",
            128013, "<|audio_out_bos|>", 128014, "<|reserved_special_token_6|>", 128015, "<|AUDIO|>", 128016, "<|AUDIO_OUT|>",
            128017, "<|scene_desc_start|>", 128018, "<|scene_desc_end|>");
    static final SpeechTokens IDS = new SpeechTokens(128016, 128014, 128013, 128009, 1024, 1025, 8, 1026);
    static Path llama3;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void find() {
        llama3 = TextTokenizerTest.llama3Json();
    }

    static Path higgsLike() throws IOException {
        assumeTrue(Files.isRegularFile(llama3), "no Llama 3 tokenizer.json: run scripts/tokenizer/fetch-llama3.sh");
        Path out = tmp.resolve("higgs-like.json");
        if (!Files.exists(out)) {
            ObjectNode t = (ObjectNode) Json.STRICT.readTree(Files.readString(llama3));
            for (JsonNode a : t.get("added_tokens")) {
                String name = HIGGS_NAMES.get(a.get("id").asInt());
                if (name != null) {
                    ((ObjectNode) a).put("content", name);
                }
            }
            Files.writeString(out, Json.STRICT.writeValueAsString(t));
        }
        return out;
    }

    @Test
    void theChatFormatEqualsTransformersProcessor() throws IOException {
        JsonNode fixtures = Json.STRICT.readTree(Files.readString(GenerationFixtures.root().resolve("prompts.json")));
        try (TextTokenizer t = HuggingFaceTextTokenizer.open(higgsLike())) {
            int n = 0;
            for (JsonNode c : fixtures.get("cases")) {
                JsonNode spec = c.get("spec");
                Prompt p = Prompt.of(spec.get("text").asText()).withSystem(spec.get("system").asText());
                if (!spec.get("scene").isNull()) {
                    p = p.withScene(spec.get("scene").asText());
                }
                if (!spec.get("voice").isNull()) {
                    int[][] codes = GenerationFixtures.rows(c.get("reference_codes")).toArray(int[][]::new);
                    p = p.withVoice(new Prompt.VoiceReference(spec.get("voice").asText(), codes));
                }
                Prompt.Tokens tokens = p.tokenize(t, IDS);
                assertThat(tokens.ids()).as(c.get("rendered").asText()).containsExactly(GenerationFixtures.ints(c.get("input_ids")));
                assertThat(tokens.frames()).containsExactlyElementsOf(GenerationFixtures.rows(c.get("audio_input_ids")));
                assertThat(tokens.ids()[tokens.ids().length - 1]).isEqualTo(IDS.audioOutBos());
                n++;
            }
            assertThat(n).isEqualTo(4);
        }
    }

    @Test
    void badInputIsRefusedNamingWhatIsWrong() throws IOException {
        try (TextTokenizer t = HuggingFaceTextTokenizer.open(higgsLike())) {
            assertThatThrownBy(() -> Prompt.of("say <|made_up|> now").tokenize(t, IDS)).isInstanceOf(TokenizerException.class)
                    .hasMessage("the text holds <|made_up|>, which is no special token of the tokenizer");
            assertThatThrownBy(() -> Prompt.of("x").withScene("<|nope|>").tokenize(t, IDS))
                    .hasMessage("the scene holds <|nope|>, which is no special token of the tokenizer");
            int[][] three = new int[3][4];
            assertThatThrownBy(() -> Prompt.of("x").withVoice(new Prompt.VoiceReference("ref", three)).tokenize(t, IDS))
                    .hasMessage("reference codes have 3 codebooks, the model 8");
            int[][] big = new int[8][2];
            big[5][1] = 1024;
            assertThatThrownBy(() -> Prompt.of("x").withVoice(new Prompt.VoiceReference("ref", big)).tokenize(t, IDS))
                    .hasMessage("reference codes: codebook 5 position 1 = 1024 is outside [0,1024)");
            SpeechTokens other = new SpeechTokens(128016, 128014, 128012, 128009, 1024, 1025, 8, 1026);
            assertThatThrownBy(() -> Prompt.of("x").tokenize(t, other))
                    .hasMessage("the tokenizer's <|audio_out_bos|> is 128013, the config's audio_bos_token_id 128012");
        }
        assertThatThrownBy(() -> new Prompt.VoiceReference("r", new int[][]{{1, 2}, {3}}))
                .hasMessage("reference codes: codebooks of different lengths (1 and 2)");
        assertThat(Prompt.strip("\u00a0\u3000 text \u2003\n")).isEqualTo("text");
        assertThat(Prompt.of("a").scene()).isEqualTo(Optional.empty());
        assertThat(List.of(Prompt.DEFAULT_SYSTEM)).containsExactly("Generate audio following instruction.");
    }
}
