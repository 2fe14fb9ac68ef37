package dev.higgstrt.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.higgstrt.io.Json;
import dev.higgstrt.safetensors.SafetensorsReader;
import dev.higgstrt.safetensors.SafetensorsWriter;
import dev.higgstrt.safetensors.ShardIndex;
import dev.higgstrt.synth.Presets;
import dev.higgstrt.synth.SyntheticCheckpoint;
import dev.higgstrt.weights.WeightMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class ConvertCommandTest {
    @TempDir
    Path tmp;

    @Test
    void synthThenConvertThenInspect() {
        Path src = tmp.resolve("src");
        CliRun synth = CliRun.of("synth", "--preset", "tiny", "--format", "boson", "--output", src.toString(), "--text-head");
        assertThat(synth.status()).as(synth.err()).isZero();
        assertThat(synth.out()).startsWith("wrote boson checkpoint to ");
        Path out = tmp.resolve("out");
        CliRun convert = CliRun.of("convert", "--input", src.toString(), "--output", out.toString(), "--tp", "2", "--pp", "2");
        assertThat(convert.status()).as(convert.err()).isZero();
        assertThat(convert.out()).contains("converted 98 tensors into 4 ranks (bfloat16; tp 2, pp 2): ").contains(" kB written in ");
        CliRun inspect = CliRun.of("inspect", out.resolve("rank3.safetensors").toString());
        assertThat(inspect.out()).contains("lm_head.weight BF16 [68,64]").contains("text_lm_head.weight BF16 [192,64]")
                .contains("transformer.layers.1.mlp.gate_up_proj.weight BF16 [160,64]");
    }

    @Test
    void quantizedConversionThenReference() throws IOException {
        Path src = tmp.resolve("src");
        assertThat(CliRun.of("synth", "--preset", "tiny", "--output", src.toString()).status()).isZero();
        Path out = tmp.resolve("int8");
        CliRun convert = CliRun.of("convert", "--input", src.toString(), "--output", out.toString(), "--quant", "int8_wo",
                "--quant-exclude", "lm_head");
        assertThat(convert.status()).as(convert.err()).isZero();
        CliRun inspect = CliRun.of("inspect", out.resolve("rank0.safetensors").toString());
        assertThat(inspect.out()).contains("transformer.layers.1.mlp.gate_up_proj.weight I8 [320,64]")
                .contains("transformer.layers.1.mlp.gate_up_proj.per_channel_scale F32 [320]")
                .contains("lm_head.weight BF16");
        JsonNode q = Json.STRICT.readTree(Files.readString(out.resolve("config.json"))).path("quantization");
        assertThat(q.path("quant_algo").asText()).isEqualTo("W8A16");
        CliRun bad = CliRun.of("convert", "--input", src.toString(), "--output", tmp.resolve("x").toString(), "--quant", "int3");
        assertThat(bad.status()).isEqualTo(2);
        assertThat(bad.err()).contains("unknown quantization 'int3'");
    }

    @Test
    void smoothQuantAndFp8ScalesFromCalibrationFilesAndFromSavedStatistics() throws IOException {
        Path src = tmp.resolve("src");
        assertThat(CliRun.of("synth", "--preset", "tiny", "--output", src.toString()).status()).isZero();
        Path calib = tmp.resolve("calib.json");
        Files.writeString(calib, "{\"input_ids\": [5, 381, 7, 381, 9, 10], \"audio_input_ids\": [[1, 2, 3, 4], [5, 6, 7, 8]]}");
        Path stats = tmp.resolve("stats.safetensors");
        Path sq = tmp.resolve("sq");
        CliRun convert = CliRun.of("convert", "--input", src.toString(), "--output", sq.toString(), "--quant", "sq",
                "--sq-alpha", "0.6", "--calib", calib.toString(), "--save-stats", stats.toString());
        assertThat(convert.status()).as(convert.err()).isZero();
        assertThat(CliRun.of("inspect", sq.resolve("rank0.safetensors").toString()).out())
                .contains("transformer.layers.1.attention.qkv.weight I8 [128,64]")
                .contains("transformer.layers.1.attention.qkv.per_channel_scale F32 [1,128]")
                .contains("transformer.layers.1.audio_mlp.down_proj.smoother F32 [1,160]");
        JsonNode q = Json.STRICT.readTree(Files.readString(sq.resolve("config.json"))).path("quantization");
        assertThat(q.path("quant_algo").asText()).isEqualTo("W8A8_SQ_PER_CHANNEL_PER_TOKEN_PLUGIN");
        assertThat(q.path("smoothquant_val").asDouble()).isEqualTo(0.6);

        Path folded = tmp.resolve("folded");
        CliRun fold = CliRun.of("convert", "--input", src.toString(), "--output", folded.toString(), "--dtype", "float32",
                "--sq-fold-only", "--calib-stats", stats.toString());
        assertThat(fold.status()).as(fold.err()).isZero();
        var in = dev.higgstrt.decoding.TokenInput.read(calib);
        var original = dev.higgstrt.reference.ReferenceModel.load(src).forward(in);
        assertThat(dev.higgstrt.reference.ReferenceModel.load(folded).forward(in).maxAbsDiff(original)).isLessThan(1e-4f);

        Path fp8 = tmp.resolve("fp8");
        CliRun calibrated = CliRun.of("convert", "--input", src.toString(), "--output", fp8.toString(), "--quant", "fp8",
                "--calib-stats", stats.toString(), "--calib-percentile", "99");
        assertThat(calibrated.status()).as(calibrated.err()).isZero();
        assertThat(CliRun.of("inspect", fp8.resolve("rank0.safetensors").toString()).out())
                .contains("transformer.layers.1.attention.qkv.weight F8_E4M3 [128,64]")
                .contains("transformer.layers.1.attention.qkv.activation_scaling_factor F32 [1]")
                .contains("transformer.layers.1.audio_mlp.up_proj.activation_scaling_factor F32 [1]")
                .doesNotContain("lm_head.activation_scaling_factor");
        CliRun planned = CliRun.of("convert", "--input", src.toString(), "--dry-run", "--quant", "fp8", "--calib", calib.toString());
        assertThat(planned.out()).contains("transformer.layers.0.mlp.down_proj.activation_scaling_factor F32 [1]");
        assertThat(CliRun.of("convert", "--input", src.toString(), "--dry-run", "--quant", "fp8").out())
                .doesNotContain("activation_scaling_factor");
        CliRun wrongFormat = CliRun.of("convert", "--input", src.toString(), "--output", tmp.resolve("x").toString(),
                "--quant", "int8_wo", "--calib-stats", stats.toString());
        assertThat(wrongFormat.status()).isEqualTo(2);
        assertThat(wrongFormat.err()).contains("--calib and --calib-stats go with");

        CliRun missing = CliRun.of("convert", "--input", src.toString(), "--output", tmp.resolve("x").toString(), "--quant", "sq");
        assertThat(missing.status()).isEqualTo(2);
        assertThat(missing.err()).contains("--quant sq needs --calib FILE... or --calib-stats FILE");
        assertThat(tmp.resolve("x")).doesNotExist();
    }

    @Test
    void dryRunReadsOnlyConfigAndIndex() throws IOException {
        Path src = tmp.resolve("src");
        SyntheticCheckpoint.write(src, SyntheticCheckpoint.Spec.of(Presets.tiny()).withSeed(3).withShardBytes(200_000), n -> { });
        ShardIndex index = ShardIndex.read(src.resolve(ShardIndex.FILE_NAME));
        assertThat(index.shards().size()).isGreaterThan(1);
        for (String shard : index.shards()) {
            Files.write(src.resolve(shard), new byte[]{1, 2, 3}); // any read of a shard would now fail
        }
        CliRun text = CliRun.of("convert", "--input", src.toString(), "--dry-run", "--tp", "2");
        assertThat(text.status()).as(text.err()).isZero();
        assertThat(text.out()).contains("rank 1 (tp rank 1, pp rank 0): 48 tensors")
                .contains("  transformer.layers.0.attention.qkv.weight BF16 [64,64]")
                .contains("note: the source has no text head: no text_lm_head written");
        CliRun json = CliRun.of("convert", "--input", src.toString(), "--dry-run", "--json", "--pp", "2", "--dtype", "float32");
        assertThat(json.status()).as(json.err()).isZero();
        JsonNode root = Json.STRICT.readTree(json.out());
        assertThat(root.get("ranks").size()).isEqualTo(2);
        JsonNode r1 = root.get("ranks").get(1);
        assertThat(r1.get("rank").asInt()).isEqualTo(1);
        assertThat(r1.get("tensors").get("lm_head.weight").get("dtype").asText()).isEqualTo("F32");
        assertThat(r1.get("tensors").get("lm_head.weight").get("shape").toString()).isEqualTo("[136,64]");
        assertThat(r1.get("tensors").has("transformer.vocab_embedding.weight")).isFalse();
    }

    @Test
    void errorsExitWith2AndOneLineNamingTheTensor() throws IOException {
        Path src = tmp.resolve("src");
        SyntheticCheckpoint.write(src, SyntheticCheckpoint.Spec.of(Presets.tiny()).withSeed(3), n -> { });
        CliRun tp = CliRun.of("convert", "--input", src.toString(), "--output", tmp.resolve("o").toString(), "--tp", "3");
        assertThat(tp.status()).isEqualTo(2);
        assertThat(tp.err().lines()).containsExactly("error: tp 3 does not divide num_attention_heads 4");

        Path broken = tmp.resolve("broken");
        Files.createDirectories(broken);
        Files.copy(src.resolve("config.json"), broken.resolve("config.json"));
        try (SafetensorsReader r = SafetensorsReader.open(src.resolve("model.safetensors"))) {
            WeightMap w = r.weights().without(java.util.List.of("model.layers.2.audio_mlp.down_proj.weight"));
            SafetensorsWriter.write(broken.resolve("model.safetensors"), w, Map.of());
        }
        CliRun missing = CliRun.of("convert", "--input", broken.toString(), "--output", tmp.resolve("o").toString());
        assertThat(missing.status()).isEqualTo(2);
        assertThat(missing.err().lines()).containsExactly(
                "error: missing tensor 'model.layers.2.audio_mlp.down_proj.weight' (layer 2), expected [64,160] for the transformers layout");
        assertThat(tmp.resolve("o")).doesNotExist();

        Files.writeString(broken.resolve("config.json"), "{\"model_type\": \"whisper\"}");
        CliRun unknown = CliRun.of("convert", "--input", broken.toString(), "--output", tmp.resolve("o").toString());
        assertThat(unknown.status()).isEqualTo(2);
        assertThat(unknown.err()).startsWith("error: config.json: unknown layout: model_type 'whisper'");
    }

    @Test
    void demoPasses() {
        CliRun demo = CliRun.of("demo");
        assertThat(demo.status()).as(demo.out() + demo.err()).isZero();
        assertThat(demo.out()).contains("both layouts give byte-identical ranks: yes")
                .contains("merged the 4 ranks back: 61/61 source tensors identical")
                .contains("max |difference| transformers vs boson layout: 0.0, vs converted tp 2 x pp 2 (bf16): 0.0")
                .contains("demo passed");
    }
}
