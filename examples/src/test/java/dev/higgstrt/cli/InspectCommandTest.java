package dev.higgstrt.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.higgstrt.io.Json;
import dev.higgstrt.safetensors.RawSafetensors;
import dev.higgstrt.safetensors.SafetensorsWriter;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.TestTensors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class InspectCommandTest {
    @TempDir
    Path dir;
    private final Arena arena = Arena.ofConfined();

    @AfterEach
    void close() {
        arena.close();
    }

    private void twoFiles() throws IOException {
        SafetensorsWriter.write(dir.resolve("b.safetensors"), Map.of(
                "model.norm.weight", TestTensors.random(DType.BF16, Shape.of(4), 1, arena),
                "lm_head.weight", TestTensors.random(DType.F32, Shape.of(3, 4), 2, arena)), Map.of(), n -> { });
        SafetensorsWriter.write(dir.resolve("a.safetensors"), Map.of(
                "embed", TestTensors.random(DType.F16, Shape.of(5, 4), 3, arena)), Map.of(), n -> { });
    }

    @Test
    void textListsEveryTensorSortedByName() throws IOException {
        twoFiles();
        CliRun run = CliRun.of("inspect", dir.toString());
        assertThat(run.status()).isZero();
        assertThat(run.err()).isEmpty();
        assertThat(run.out().lines()).containsExactly(
                "embed F16 [5,4] a.safetensors", "lm_head.weight F32 [3,4] b.safetensors",
                "model.norm.weight BF16 [4] b.safetensors");
    }

    @Test
    void jsonGroupsTensorsByFile() throws IOException {
        twoFiles();
        CliRun run = CliRun.of("inspect", dir.toString(), "--json");
        assertThat(run.status()).isZero();
        JsonNode root = Json.STRICT.readTree(run.out());
        assertThat(root.get("files").size()).isEqualTo(2);
        JsonNode b = root.get("files").get("b.safetensors");
        assertThat(b.get("lm_head.weight").get("dtype").asText()).isEqualTo("F32");
        assertThat(b.get("lm_head.weight").get("shape").toString()).isEqualTo("[3,4]");
        assertThat(root.get("files").get("a.safetensors").get("embed").get("shape").toString()).isEqualTo("[5,4]");
    }

    @Test
    void singleFile() throws IOException {
        twoFiles();
        CliRun run = CliRun.of("inspect", dir.resolve("a.safetensors").toString());
        assertThat(run.out()).isEqualTo("embed F16 [5,4] a.safetensors" + System.lineSeparator());
    }

    @Test
    void malformedInputExitsWith2AndOneLineWithoutStackTrace() throws IOException {
        RawSafetensors.write(dir.resolve("bad.safetensors"),
                "{\"w\":{\"dtype\":\"BF16\",\"shape\":[3,3],\"data_offsets\":[0,10]}}", 10);
        CliRun run = CliRun.of("inspect", dir.resolve("bad.safetensors").toString());
        assertThat(run.status()).isEqualTo(2);
        assertThat(run.out()).isEmpty();
        assertThat(run.err().lines()).containsExactly(
                "error: " + dir.resolve("bad.safetensors") + ": tensor 'w': data_offsets [0,10] hold 10 bytes, BF16 [3,3] needs 18");

        CliRun debug = CliRun.of("inspect", "--debug", dir.resolve("bad.safetensors").toString());
        assertThat(debug.status()).isEqualTo(2);
        assertThat(debug.err()).contains("SafetensorsFormatException").contains("\tat ");
    }

    @Test
    void aMalformedFileInAFolderIsNamed() throws IOException {
        twoFiles();
        Files.write(dir.resolve("c.safetensors"), new byte[]{1, 2, 3});
        CliRun run = CliRun.of("inspect", dir.toString());
        assertThat(run.status()).isEqualTo(2);
        assertThat(run.err().lines()).containsExactly(
                "error: " + dir.resolve("c.safetensors") + ": file of 3 bytes is too short for the 8-byte header length");
    }

    @Test
    void missingPathAndBadUsage() {
        CliRun run = CliRun.of("inspect", dir.resolve("nope").toString());
        assertThat(run.status()).isEqualTo(2);
        assertThat(run.err().strip()).isEqualTo("error: " + dir.resolve("nope")
                + ": no such file or folder (expected a .safetensors file or a checkpoint folder)");
        CliRun usage = CliRun.of("inspect");
        assertThat(usage.status()).isEqualTo(2);
        assertThat(usage.err()).contains("Missing required parameter: 'PATH'");
    }

    @Test
    void helpAndVersion() {
        CliRun help = CliRun.of("--help");
        assertThat(help.status()).isZero();
        assertThat(help.out()).contains("inspect");
        CliRun version = CliRun.of("--version");
        assertThat(version.out()).startsWith("higgs-trt ").doesNotContain("unknown").doesNotContain("${");
    }
}
