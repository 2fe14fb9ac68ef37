package dev.higgstrt.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.higgstrt.io.Json;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code tokenize} and {@code generate} at the shell, on a synthetic checkpoint with its tokenizer. */
class GenerateCommandTest {
    @TempDir
    static Path tmp;
    static Path ck;

    @BeforeAll
    static void synth() throws Exception {
        ck = tmp.resolve("ck");
        ChildCli r = ChildCli.run("synth", "--preset", "tiny", "--dtype", "float32", "--output", ck.toString());
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(ck.resolve("tokenizer.json")).exists();
    }

    private static void refused(ChildCli run, String message) {
        assertThat(run.status()).as(run.err()).isEqualTo(2);
        assertThat(run.err().lines().toList()).as(run.err()).containsExactly("error: " + message);
    }

    @Test
    void tokenizePrintsIds() throws Exception {
        ChildCli plain = ChildCli.run("tokenize", "--tokenizer", ck.toString(), "--text", "Hi<|eot_id|>");
        assertThat(plain.status()).as(plain.err()).isZero();
        assertThat(plain.err()).as("the tokenizer's binding keeps quiet").isEmpty();
        String[] ids = plain.out().strip().split(" ");
        assertThat(ids).hasSize(3).startsWith("72", "105");
        ChildCli json = ChildCli.run("tokenize", "--tokenizer", ck.resolve("tokenizer.json").toString(), "--text", "", "--json");
        assertThat(Json.STRICT.readTree(json.out()).get("ids").size()).isZero();
    }

    @Test
    void greedyGenerationIsReproducibleAndWritesFramesAndCodes() throws Exception {
        Path a = tmp.resolve("a.json");
        Path b = tmp.resolve("b.json");
        ChildCli first = ChildCli.run("generate", "--checkpoint", ck.toString(), "--text", "Hello there.", "--greedy",
                "--output", a.toString());
        assertThat(first.status()).as(first.err()).isZero();
        assertThat(first.out()).contains("finish stop").contains("frames/s (CPU reference)");
        ChildCli second = ChildCli.run("generate", "--checkpoint", ck.toString(), "--text", "Hello there.", "--greedy",
                "--output", b.toString());
        assertThat(second.status()).isZero();
        assertThat(Files.readString(a)).isEqualTo(Files.readString(b));
        JsonNode r = Json.STRICT.readTree(Files.readString(a));
        JsonNode frames = r.get("frames");
        assertThat(frames.get(0).toString()).as("the forced all-BOS frame").isEqualTo("[32,32,32,32]");
        assertThat(frames.get(frames.size() - 1).toString()).as("the all-EOS frame").isEqualTo("[33,33,33,33]");
        assertThat(r.get("codes").size()).isEqualTo(4);
        assertThat(r.get("codes").get(0).size()).isEqualTo(frames.size() - 2 - 3);
        assertThat(r.get("finish").asText()).isEqualTo("stop");

        // the codes of a generation clone a voice; seeded sampling reproduces itself, and the frame limit holds
        Path c = tmp.resolve("c.json");
        Path d = tmp.resolve("d.json");
        List<String> args = List.of("generate", "--checkpoint", ck.toString(), "--text", "Again.", "--voice-codes", a.toString(),
                "--voice-text", "Hello there.", "--seed", "11", "--max-frames", "6", "--output");
        ChildCli sampled = ChildCli.run(concat(args, c.toString()));
        assertThat(sampled.status()).as(sampled.err()).isZero();
        ChildCli again = ChildCli.run(concat(args, d.toString()));
        assertThat(again.status()).isZero();
        assertThat(Files.readString(c)).isEqualTo(Files.readString(d));
        JsonNode s = Json.STRICT.readTree(Files.readString(c));
        assertThat(s.get("frames").size()).isLessThanOrEqualTo(6);
        assertThat(s.get("prompt_positions").asInt()).isGreaterThan(r.get("prompt_positions").asInt());
    }

    private static String[] concat(List<String> a, String last) {
        String[] out = a.toArray(new String[a.size() + 1]);
        out[a.size()] = last;
        return out;
    }

    @Test
    void badInputIsOneLineAndWritesNothing() throws Exception {
        Path out = tmp.resolve("bad.json");
        String c = ck.toString();
        refused(ChildCli.run("generate", "--checkpoint", c, "--text", "x <|nope|>", "--output", out.toString()),
                "the text holds <|nope|>, which is no special token of the tokenizer");
        refused(ChildCli.run("generate", "--checkpoint", c, "--text", "x", "--max-frames", "0", "--output", out.toString()),
                "--max-frames must be positive, got 0");
        Path codes = Files.writeString(tmp.resolve("codes.json"), "{\"codes\": [[1, 2], [3, 4]]}");
        refused(ChildCli.run("generate", "--checkpoint", c, "--text", "x", "--voice-codes", codes.toString(), "--voice-text", "r",
                "--output", out.toString()), "reference codes have 2 codebooks, the model 4");
        Files.writeString(codes, "{\"codes\": [[1], [2], [3], [99]]}");
        refused(ChildCli.run("generate", "--checkpoint", c, "--text", "x", "--voice-codes", codes.toString(), "--voice-text", "r",
                "--output", out.toString()), "reference codes: codebook 3 position 0 = 99 is outside [0,32)");
        Path empty = Files.createDirectories(tmp.resolve("no-tokenizer"));
        Files.copy(ck.resolve("config.json"), empty.resolve("config.json"));
        Files.copy(ck.resolve("model.safetensors"), empty.resolve("model.safetensors"));
        refused(ChildCli.run("generate", "--checkpoint", empty.toString(), "--text", "x", "--output", out.toString()),
                empty.resolve("tokenizer.json") + ": no tokenizer.json in this folder (a checkpoint's text tokenizer)");
        Path broken = Files.writeString(tmp.resolve("broken.json"), "{\"model\": 3");
        refused(ChildCli.run("generate", "--checkpoint", c, "--tokenizer", broken.toString(), "--text", "x", "--output",
                out.toString()), broken + ": not valid JSON: Unexpected end-of-input: expected close marker for Object (start marker at"
                + " [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 1])");
        // a prompt longer than the model's room (512 positions for the tiny preset)
        refused(ChildCli.run("generate", "--checkpoint", c, "--text", "a".repeat(600), "--output", out.toString()),
                "the prompt of 672 positions leaves no room for audio in a session of 512 positions");
        assertThat(out).doesNotExist();
    }
}
