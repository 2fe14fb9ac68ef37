package dev.higgstrt.cli;

import dev.higgstrt.model.SourceLayout;
import dev.higgstrt.safetensors.SafetensorsReader;
import dev.higgstrt.synth.Presets;
import dev.higgstrt.synth.SyntheticCheckpoint;
import dev.higgstrt.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a new user meets at the shell: exit statuses, one-line messages that name the path given
 * and what was expected there, and nothing written where a command refuses. Each case runs the
 * CLI in a child JVM, as the launcher does.
 */
class CliMessagesTest {
    @TempDir
    Path tmp;

    private static void refused(ChildCli run, String message) {
        assertThat(run.status()).as(run.err()).isEqualTo(2);
        assertThat(run.err().lines().toList()).as(run.err()).containsExactly("error: " + message);
        assertThat(run.err()).doesNotContain("\tat ");
    }

    @Test
    void usageErrorsExitWith2InOneLine() throws Exception {
        ChildCli bare = ChildCli.run();
        assertThat(bare.status()).isEqualTo(2);
        assertThat(bare.out()).isEmpty();
        assertThat(bare.err()).contains("Usage: higgs-trt").endsWith("error: no command given (see 'higgs-trt --help')\n");

        refused(ChildCli.run("convert", "--input", "x", "--frobnicate"),
                "Unknown option: '--frobnicate' (see 'higgs-trt convert --help')");

        ChildCli help = ChildCli.run("--help");
        assertThat(help.status()).isZero();
        List<String> commandLines = help.out().lines().dropWhile(l -> !l.startsWith("Commands:")).skip(1)
                .filter(l -> l.matches("  \\S.*")).toList();
        assertThat(commandLines).hasSizeGreaterThanOrEqualTo(7);
        for (String line : commandLines) {
            assertThat(line.strip()).as("a whole sentence: " + line).endsWith(".");
        }
        ChildCli build = ChildCli.run("build", "--help");
        assertThat(build.out()).doesNotContain("(tp 1, pp 1)").contains("tp x pp");
    }

    @Test
    void synthRefusesANonEmptyFolderUnlessForced() throws Exception {
        Path out = Files.createDirectories(tmp.resolve("ck"));
        Files.writeString(out.resolve("model.safetensors.index.json"), "{\"weight_map\": {}}");
        Files.writeString(out.resolve("notes.txt"), "mine");
        refused(ChildCli.run("synth", "--preset", "tiny", "--output", out.toString()),
                out + ": not empty (2 entries); choose an empty or new folder, or add --force to replace the checkpoint there");
        assertThat(out.resolve("model.safetensors")).doesNotExist();

        ChildCli forced = ChildCli.run("synth", "--preset", "tiny", "--output", out.toString(), "--force");
        assertThat(forced.status()).as(forced.err()).isZero();
        assertThat(out.resolve("model.safetensors")).exists();
        assertThat(out.resolve("model.safetensors.index.json")).as("the stale index is gone").doesNotExist();
        assertThat(out.resolve("notes.txt")).as("not a checkpoint file: kept").exists();
        assertThat(forced.err()).as("a small write prints no progress").isEmpty();
    }

    @Test
    void pathsOfTheWrongKindAreNamedWithWhatWasExpected() throws Exception {
        Path ck = tmp.resolve("ck");
        SyntheticCheckpoint.write(ck, SyntheticCheckpoint.Spec.of(Presets.tiny()).withDtype(DType.F32), n -> { });
        Path tokens = tmp.resolve("t.json");
        Files.writeString(tokens, "{\"input_ids\": [1, 2, 3]}");
        Path empty = Files.createDirectories(tmp.resolve("empty"));

        refused(ChildCli.run("inspect", empty.toString()), empty + ": no .safetensors file in this folder");
        refused(ChildCli.run("inspect", ck.resolve("config.json").toString()), ck.resolve("config.json")
                + ": not a safetensors file: header length 7165896756295633531 exceeds the limit of 100000000 bytes");
        Path weights = ck.resolve("model.safetensors");
        refused(ChildCli.run("convert", "--input", weights.toString(), "--output", tmp.resolve("o").toString()),
                weights + ": a file, not a folder (expected a checkpoint folder)");
        refused(ChildCli.run("convert", "--input", tmp.resolve("nope").toString(), "--output", tmp.resolve("o").toString()),
                tmp.resolve("nope") + ": no such folder (expected a checkpoint folder)");
        refused(ChildCli.run("convert", "--input", ck.toString(), "--output", "/proc/foo"),
                "/proc/foo: cannot write there (its folder does not exist)");
        assertThat(tmp.resolve("o")).doesNotExist();
        assertThat(tmp.resolve(".o.lock")).doesNotExist();

        refused(ChildCli.run("reference", "--checkpoint", ck.toString(), "--tokens", empty.toString(), "--output",
                tmp.resolve("r.safetensors").toString()), empty + ": a folder, not a file (expected a token file (JSON))");
        refused(ChildCli.run("reference", "--checkpoint", ck.toString(), "--tokens", tokens.toString(), "--output",
                empty.toString()), empty + ": a folder (expected the path of a .safetensors file to write)");
        Path deep = tmp.resolve("no/such/dir/r.safetensors");
        refused(ChildCli.run("reference", "--checkpoint", ck.toString(), "--tokens", tokens.toString(), "--output",
                deep.toString()), deep + ": its folder " + deep.getParent() + " does not exist (create it first)");
        assertThat(tmp.resolve("no")).as("nothing created above the output").doesNotExist();
        Files.writeString(tokens, "{\"input_ids\": []}");
        refused(ChildCli.run("reference", "--checkpoint", ck.toString(), "--tokens", tokens.toString(), "--output",
                tmp.resolve("r.safetensors").toString()), tokens + ": no positions (input_ids and audio_input_ids are empty)");
        assertThat(tmp.resolve("r.safetensors")).doesNotExist();
    }

    @Test
    void theReferenceComputesFromTheMappedWeightsInASmallHeapAndAnOutOfMemoryIsOneLine() throws Exception {
        // the small preset's weights take 208 MB as floats: a 64 MB heap can hold them only as mapped BF16
        Path ck = tmp.resolve("small");
        SyntheticCheckpoint.write(ck, SyntheticCheckpoint.Spec.of(Presets.small()).withFormat(SourceLayout.TRANSFORMERS), n -> { });
        Path tokens = tmp.resolve("t.json");
        Files.writeString(tokens, "{\"input_ids\": [1, 2, 3, 4, 5, 6, 7, 8]}");
        Path out = tmp.resolve("r.safetensors");
        ChildCli ok = ChildCli.run(List.of("-Xmx64m"), "reference", "--checkpoint", ck.toString(), "--tokens", tokens.toString(),
                "--output", out.toString());
        assertThat(ok.status()).as(ok.err()).isZero();
        try (SafetensorsReader r = SafetensorsReader.open(out)) {
            assertThat(r.tensor("logits").shape().toArray()).containsExactly(8, 8 * 1026);
        }
        // 3000 positions need two [3000, 1536] float activations at once (37 MB) beside the rest: more than 24 MB
        String ids = IntStream.range(0, 3000).mapToObj(i -> Integer.toString(1 + i % 8000)).collect(Collectors.joining(","));
        Files.writeString(tokens, "{\"input_ids\": [" + ids + "]}");
        Path big = tmp.resolve("big.safetensors");
        ChildCli oom = ChildCli.run(List.of("-Xmx24m"), "reference", "--checkpoint", ck.toString(), "--tokens", tokens.toString(),
                "--output", big.toString());
        assertThat(oom.status()).as(oom.err()).isEqualTo(2);
        assertThat(oom.err().lines().toList()).as(oom.err()).hasSize(1);
        assertThat(oom.err()).startsWith("error: out of memory (Java heap space): give the JVM more with HIGGS_TRT_JAVA_OPTS");
        assertThat(big).doesNotExist();
    }

    @Test
    void progressIsPrintedAsLinesWhenNotOnATerminal() {
        java.io.StringWriter text = new java.io.StringWriter();
        try (ProgressBar bar = new ProgressBar(new java.io.PrintWriter(text), 2_000_000_000L, false)) {
            bar.accept(1000);
            assertThat(text.toString()).as("nothing before the first interval").isEmpty();
        }
        try (ProgressBar bar = new ProgressBar(new java.io.PrintWriter(text), 2_000_000_000L, false, 0)) {
            bar.accept(1_000_000_000L);
            bar.accept(500_000_000L);
        }
        assertThat(text.toString().lines().toList()).hasSize(2);
        assertThat(text.toString()).startsWith("1.00 GB of 2.00 GB (50%) after ").contains("1.50 GB of 2.00 GB (75%) after ");
        assertThat(Sizes.bytes(812)).isEqualTo("812 B");
        assertThat(Sizes.bytes(4_100)).isEqualTo("4.10 kB");
        assertThat(Sizes.bytes(25_300_000)).isEqualTo("25.3 MB");
        assertThat(Sizes.bytes(11_540_000_000L)).isEqualTo("11.5 GB");
        assertThat(Sizes.count(1, "rank")).isEqualTo("1 rank");
        assertThat(Sizes.count(4, "rank")).isEqualTo("4 ranks");
    }

    @Test
    void inspectFlagsFilesTheIndexLeavesOutAndTensorsInTwoFiles() throws Exception {
        Path ck = tmp.resolve("ck");
        SyntheticCheckpoint.write(ck, SyntheticCheckpoint.Spec.of(Presets.tiny()).withShardBytes(300_000), n -> { });
        assertThat(ck.resolve("model.safetensors.index.json")).exists();
        Path stale = ck.resolve("model.safetensors");
        Files.copy(ck.resolve("model-00001-of-00003.safetensors"), stale);
        ChildCli run = ChildCli.run("inspect", ck.toString());
        assertThat(run.status()).as(run.err()).isZero();
        assertThat(run.out()).contains("note: model.safetensors is not listed in model.safetensors.index.json: readers of the checkpoint ignore it");
        assertThat(run.out()).containsPattern("note: \\S+ is in 2 files: model-00001-of-00003.safetensors, model.safetensors");
        assertThat(run.out().lines().filter(l -> l.startsWith("model.embed_tokens.weight ")).toList())
                .as("each holder on its own line, with its file").hasSize(2);
    }

    @Test
    void quantizedConversionsSayTheirFormatInTextAndJson() throws Exception {
        Path ck = tmp.resolve("q");
        SyntheticCheckpoint.write(ck, SyntheticCheckpoint.Spec.of(Presets.tiny()), n -> { });
        ChildCli text = ChildCli.run("convert", "--input", ck.toString(), "--output", tmp.resolve("o1").toString(), "--quant", "int8_wo");
        assertThat(text.status()).as(text.err()).isZero();
        assertThat(text.out()).contains("into 1 rank (int8_wo weights, bfloat16 otherwise; tp 1, pp 1): ").doesNotContain("GB/s");
        ChildCli json = ChildCli.run("convert", "--input", ck.toString(), "--output", tmp.resolve("o2").toString(), "--quant", "int8_wo",
                "--json");
        var n = dev.higgstrt.io.Json.STRICT.readTree(json.out());
        assertThat(n.get("quant").asText()).isEqualTo("int8_wo");
        assertThat(n.get("ranks").asInt()).isEqualTo(1);
        assertThat(n.get("file_bytes").asLong()).isGreaterThan(n.get("bytes").asLong());
    }
}
