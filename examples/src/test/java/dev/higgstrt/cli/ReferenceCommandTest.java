package dev.higgstrt.cli;

import dev.higgstrt.decoding.Logits;
import dev.higgstrt.safetensors.SafetensorsReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class ReferenceCommandTest {
    @TempDir
    Path tmp;

    /** The transformers goldens of the core module (the tests run in the examples module's folder). */
    private static Path golden(String name) {
        Path p = Path.of("..", "core", "src", "test", "resources", "golden", name);
        assertThat(p).isDirectory();
        return p;
    }

    @Test
    void writesLogitsThatMatchTheTransformersGolden() throws Exception {
        Path model = golden("gqa_llama3_texthead");
        Path out = tmp.resolve("logits.safetensors");
        CliRun run = CliRun.of("reference", "--checkpoint", model.toString(), "--tokens", model.resolve("mixed.json").toString(),
                "--output", out.toString(), "--text");
        assertThat(run.status()).as(run.err()).isZero();
        assertThat(run.out()).contains("14 positions (8 audio)").contains("logits [14,72], text_logits [14,300]");
        try (SafetensorsReader got = SafetensorsReader.open(out);
             SafetensorsReader want = SafetensorsReader.open(model.resolve("mixed.expected.safetensors"))) {
            assertThat(got.info("logits").shape()).isEqualTo(want.info("logits").shape());
            assertThat(Logits.maxAbsDiff(got.tensor("logits").toFloatArray(), want.tensor("logits").toFloatArray())).isLessThan(1e-4f);
            assertThat(Logits.maxAbsDiff(got.tensor("text_logits").toFloatArray(), want.tensor("text_logits").toFloatArray())).isLessThan(1e-4f);
        }
    }

    @Test
    void badTokenFilesExitWith2NamingTheFile() throws Exception {
        Path model = golden("mha_default_rope");
        Path tokens = tmp.resolve("t.json");
        String[] cases = {
                "{\"input_ids\": [1, 2, 250]}", "t.json: 1 audio positions (ids [250, 251]) but 0 audio frames",
                "{\"input_ids\": [1, 999]}", "t.json: input_ids[1] = 999 is outside the vocabulary [0,256)",
                "{\"audio_input_ids\": [[1, 2]]}", "t.json: audio_input_ids[0] has 2 codes, expected 3",
                "{\"audio_input_ids\": [[1, 2, 10]]}", "t.json: audio_input_ids[0][2] = 10 is outside the codebook [0,10)",
                "{\"input_ids\": [1.5]}", "t.json: input_ids[0] = 1.5 is not a 32-bit integer",
                "{\"ids\": [1]}", "t.json: unexpected key 'ids' (expected input_ids, audio_input_ids)",
                "{}", "t.json: an input needs input_ids, audio_input_ids or both",
                "[1,2", "t.json: not valid JSON"};
        for (int i = 0; i < cases.length; i += 2) {
            Files.writeString(tokens, cases[i]);
            CliRun run = CliRun.of("reference", "--checkpoint", model.toString(), "--tokens", tokens.toString(),
                    "--output", tmp.resolve("o.safetensors").toString());
            assertThat(run.status()).as(cases[i]).isEqualTo(2);
            assertThat(run.err().lines()).as(cases[i]).hasSize(1);
            assertThat(run.err()).as(cases[i]).startsWith("error: " + tmp + "/" + cases[i + 1]);
        }
        assertThat(tmp.resolve("o.safetensors")).doesNotExist();
        Files.writeString(tokens, "{\"input_ids\": [1, 2]}");
        CliRun noHead = CliRun.of("reference", "--checkpoint", model.toString(), "--tokens", tokens.toString(),
                "--output", tmp.resolve("o.safetensors").toString(), "--text");
        assertThat(noHead.err()).contains("--text, but the model has no text head");
    }

    @Test
    void referenceRunsOnAConvertedCheckpointToo() throws IOException {
        Path model = golden("mqa_three_layers");
        Path converted = tmp.resolve("conv");
        assertThat(CliRun.of("convert", "--input", model.toString(), "--output", converted.toString(), "--pp", "3").status()).isZero();
        Path a = tmp.resolve("a.safetensors");
        Path b = tmp.resolve("b.safetensors");
        assertThat(CliRun.of("reference", "--checkpoint", model.toString(), "--tokens", model.resolve("mixed.json").toString(),
                "--output", a.toString()).status()).isZero();
        assertThat(CliRun.of("reference", "--checkpoint", converted.toString(), "--tokens", model.resolve("mixed.json").toString(),
                "--output", b.toString()).status()).isZero();
        assertThat(Files.readAllBytes(b)).isEqualTo(Files.readAllBytes(a));
    }
}
