package dev.higgstrt.convert;

import dev.higgstrt.converted.TestConverted;

import dev.higgstrt.converted.ConvertedCheckpoint;
import dev.higgstrt.layout.LayoutException;
import dev.higgstrt.layout.LayoutDoc;
import dev.higgstrt.layout.Mapping;
import dev.higgstrt.layout.HiggsAudioLayout;
import dev.higgstrt.model.ConfigException;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.SourceLayout;
import dev.higgstrt.safetensors.SafetensorsCheckpoint;
import dev.higgstrt.safetensors.SafetensorsReader;
import dev.higgstrt.safetensors.SafetensorsWriter;
import dev.higgstrt.synth.Presets;
import dev.higgstrt.synth.SyntheticCheckpoint;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.Tensor;
import dev.higgstrt.tensor.TestTensors;
import dev.higgstrt.weights.WeightMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The layout's rules, the seed converter's defects as regressions, and the errors. */
class HiggsAudioLayoutTest {
    @TempDir
    Path tmp;
    private final Arena arena = Arena.ofConfined();

    @AfterEach
    void close() {
        arena.close();
    }

    private static Set<String> sourceNames(HiggsAudioConfig c, boolean textHead) {
        return SyntheticCheckpoint.weights(SyntheticCheckpoint.Spec.of(c).withSeed(1).withTextHead(textHead)).names();
    }

    private static List<String> allNames(HiggsAudioConfig c, int tp, int pp, boolean textHead) {
        HiggsAudioLayout.Resolution r = HiggsAudioLayout.resolve(c, sourceNames(c, textHead));
        List<String> names = new ArrayList<>();
        for (Mapping m : Mapping.all(tp, pp)) {
            names.addAll(HiggsAudioLayout.rankShapes(c, m, r.textHead()).keySet());
        }
        return names;
    }

    @Test
    void fullModelConvertsToExactly313WeightsOr312WithoutTextHead() {
        HiggsAudioConfig full = Presets.full();
        assertThat(allNames(full, 1, 1, true)).hasSize(313).doesNotHaveDuplicates();
        assertThat(allNames(full, 1, 1, false)).hasSize(312).doesNotHaveDuplicates();
    }

    @Test
    void fullModelShapesAtTp1() {
        HiggsAudioConfig full = Presets.full();
        SortedMap<String, Shape> s = HiggsAudioLayout.rankShapes(full, new Mapping(1, 1, 0), true);
        assertThat(s.get("transformer.layers.0.attention.qkv.weight")).isEqualTo(Shape.of(5120, 3072));
        assertThat(s.get("transformer.layers.27.mlp.gate_up_proj.weight")).isEqualTo(Shape.of(16384, 3072));
        assertThat(s.get("transformer.layers.27.mlp.down_proj.weight")).isEqualTo(Shape.of(3072, 8192));
        assertThat(s.get("transformer.layers.3.audio_mlp.down_proj.weight")).isEqualTo(Shape.of(3072, 8192));
        assertThat(s.get("lm_head.weight")).isEqualTo(Shape.of(8208, 3072));
        assertThat(s.get("text_lm_head.weight")).isEqualTo(Shape.of(128256, 3072));
        assertThat(s.get("audio_codebook_embeddings.weight")).isEqualTo(Shape.of(8208, 3072));
    }

    @Test
    void seedDefectsStayFixed() {
        HiggsAudioConfig full = Presets.full();
        for (int tp : new int[]{1, 2, 4, 8}) {
            for (int pp : new int[]{1, 2, 4}) {
                List<String> names = allNames(full, tp, pp, true);
                // audio MLP never fused; text MLP always fused; down_proj names
                assertThat(names).noneMatch(n -> n.contains("audio_mlp.gate_up") || n.contains("audio_mlp.fc"));
                assertThat(names).noneMatch(n -> n.matches(".*\\.mlp\\.(gate_proj|up_proj|fc|gate|proj)\\.weight"));
                assertThat(names.stream().filter(n -> n.endsWith(".mlp.gate_up_proj.weight"))).hasSize(28 * tp);
                assertThat(names.stream().filter(n -> n.endsWith(".mlp.down_proj.weight") && !n.contains("audio"))).hasSize(28 * tp);
                assertThat(names.stream().filter(n -> n.endsWith(".audio_mlp.down_proj.weight"))).hasSize(28 * tp);
                assertThat(names.stream().filter(n -> n.endsWith(".audio_mlp.gate_proj.weight"))).hasSize(28 * tp);
                // lm_head once per rank of the last pipeline stage only, text head beside it
                for (Mapping m : Mapping.all(tp, pp)) {
                    Set<String> rank = HiggsAudioLayout.rankShapes(full, m, true).keySet();
                    assertThat(rank.contains("lm_head.weight")).isEqualTo(m.isLastPpRank());
                    assertThat(rank.contains("text_lm_head.weight")).isEqualTo(m.isLastPpRank());
                    assertThat(rank.contains("transformer.vocab_embedding.weight")).isEqualTo(m.isFirstPpRank());
                }
                assertThat(names.stream().filter("lm_head.weight"::equals)).hasSize(tp);
            }
        }
    }

    @Test
    void textMlpIsFusedGateFirstPerRank() throws IOException {
        HiggsAudioConfig c = TestModels.awkward();
        Path src = TestModels.write(tmp.resolve("src"), c, SourceLayout.TRANSFORMERS, false, DType.F32);
        Converter.convert(src, tmp.resolve("out"), ConversionOptions.of(2, 1), n -> { });
        try (SafetensorsReader s = SafetensorsReader.open(src.resolve("model.safetensors"));
             SafetensorsReader r1 = SafetensorsReader.open(tmp.resolve("out/rank1.safetensors"))) {
            Tensor gateUp = r1.tensor("transformer.layers.2.mlp.gate_up_proj.weight");
            Tensor gate = s.tensor("model.layers.2.mlp.gate_proj.weight");
            Tensor up = s.tensor("model.layers.2.mlp.up_proj.weight");
            assertThat(gateUp.slice(0, 0, 32).contentEquals(gate.slice(0, 32, 64))).isTrue();
            assertThat(gateUp.slice(0, 32, 64).contentEquals(up.slice(0, 32, 64))).isTrue();
            assertThat(r1.contains("text_lm_head.weight")).isFalse();
        }
    }

    @Test
    void layersTransitionsPerPipelineRankFollowTensorSplit() {
        assertThat(new Mapping(1, 3, 0).layers(5)).containsExactly(0, 1);
        assertThat(new Mapping(1, 3, 1).layers(5)).containsExactly(2, 3);
        assertThat(new Mapping(1, 3, 2).layers(5)).containsExactly(4);
        assertThat(new Mapping(2, 4, 7).layers(5)).containsExactly(4);
        assertThat(new Mapping(2, 4, 2).layers(5)).containsExactly(2);
        Mapping m = new Mapping(4, 2, 6);
        assertThat(m.tpRank()).isEqualTo(2);
        assertThat(m.ppRank()).isEqualTo(1);
        assertThat(m.isLastPpRank()).isTrue();
    }

    @Test
    void tiedTextHeadIsTheEmbeddingAndIsReported() throws IOException {
        HiggsAudioConfig tied = new HiggsAudioConfig(SourceLayout.TRANSFORMERS, 100, 32, 64, 5, 8, 2, 4, 1e-5, 256,
                TestModels.awkward().rope(), 3, 7, List.of(97, 98), 5, 6, HiggsAudioConfig.allLayers(5), true, java.util.Optional.empty());
        Path src = TestModels.write(tmp.resolve("src"), tied, SourceLayout.TRANSFORMERS, false, DType.F32);
        Converter.Report report = Converter.convert(src, tmp.resolve("out"), ConversionOptions.of(2, 1), n -> { });
        assertThat(report.plan().resolution().textHeadTied()).isTrue();
        assertThat(report.plan().notes()).anyMatch(n -> n.contains("tied to the token embedding"));
        try (SafetensorsReader s = SafetensorsReader.open(src.resolve("model.safetensors"));
             SafetensorsReader r0 = SafetensorsReader.open(tmp.resolve("out/rank0.safetensors"))) {
            assertThat(r0.tensor("text_lm_head.weight").contentEquals(s.tensor("model.embed_tokens.weight").slice(0, 0, 50))).isTrue();
        }
    }

    @Test
    void bosonLayersOutsideTheDualFfnListHaveNoAudioPathAndAudioTowerIsSkipped() throws IOException {
        HiggsAudioConfig c = TestModels.awkward().withDualFfnLayers(List.of(0, 2, 4));
        Path src = TestModels.write(tmp.resolve("src"), c, SourceLayout.BOSON, true, DType.F32);
        // add an audio tower tensor, as the real Boson checkpoint has
        Path extra = src.resolve("model-extra.safetensors");
        Files.move(src.resolve("model.safetensors"), src.resolve("model-main.safetensors"));
        SafetensorsWriter.write(extra, Map.of("audio_tower.layers.0.fc1.weight", TestTensors.random(DType.F32, Shape.of(4, 4), 1, arena)), Map.of(), n -> { });
        Converter.Report report = Converter.convert(src, tmp.resolve("out"), ConversionOptions.of(1, 1), n -> { });
        assertThat(report.plan().notes()).anyMatch(n -> n.contains("skipped 1 tensors") && n.contains("audio_tower.layers.0.fc1.weight"));
        try (SafetensorsReader r = SafetensorsReader.open(tmp.resolve("out/rank0.safetensors"))) {
            assertThat(r.contains("transformer.layers.1.audio_mlp.gate_proj.weight")).isFalse();
            assertThat(r.contains("transformer.layers.1.audio_input_layernorm.weight")).isFalse();
            assertThat(r.contains("transformer.layers.2.audio_mlp.gate_proj.weight")).isTrue();
            assertThat(r.infos()).hasSize(2 + 3 * 11 + 2 * 6 + 3);
        }
        String cfg = Files.readString(tmp.resolve("out/config.json"));
        assertThat(cfg).contains("\"audio_dual_ffn_layers\" : [ 0, 2, 4 ]").contains("\"source_layout\" : \"boson\"");
        assertThat(HiggsAudioConfig.read(tmp.resolve("out")).dualFfnLayers()).containsExactly(0, 2, 4);
    }

    @Test
    void errorsNameTheTensorAndWhatWasExpected() throws IOException {
        HiggsAudioConfig c = TestModels.awkward();
        Set<String> names = new HashSet<>(sourceNames(c, false));
        names.remove("model.layers.3.mlp.up_proj.weight");
        assertThatThrownBy(() -> HiggsAudioLayout.resolve(c, names)).isInstanceOf(LayoutException.class)
                .hasMessage("missing tensor 'model.layers.3.mlp.up_proj.weight' (layer 3), expected [64,32] for the transformers layout");
        Set<String> extra = new HashSet<>(sourceNames(c, false));
        extra.add("model.layers.0.self_attn.rotary.inv_freq");
        assertThatThrownBy(() -> HiggsAudioLayout.resolve(c, extra))
                .hasMessage("unexpected tensor 'model.layers.0.self_attn.rotary.inv_freq'");
        HiggsAudioConfig subset = c.withDualFfnLayers(List.of(1));
        assertThatThrownBy(() -> HiggsAudioLayout.resolve(subset, sourceNames(c, false)))
                .hasMessageStartingWith("unexpected tensor 'model.layers.0.audio_input_layernorm.weight' (an audio-path weight in a layer outside audio_dual_ffn_layers [1])");

        WeightMap w = SyntheticCheckpoint.weights(SyntheticCheckpoint.Spec.of(c).withSeed(1));
        WeightMap wrong = w.with("model.layers.2.self_attn.k_proj.weight", Tensor.allocate(DType.BF16, Shape.of(8, 31), arena),
                dev.higgstrt.weights.Provenance.memory("test"));
        HiggsAudioLayout.Resolution r = HiggsAudioLayout.resolve(c, wrong.names());
        assertThatThrownBy(() -> HiggsAudioLayout.canonical(r, wrong))
                .hasMessageStartingWith("tensor 'model.layers.2.self_attn.k_proj.weight' has shape [8,31], expected [8,32]");

        assertThatThrownBy(() -> HiggsAudioLayout.checkParallelism(c, 3, 1)).hasMessage("tp 3 does not divide num_attention_heads 8");
        assertThatThrownBy(() -> HiggsAudioLayout.checkParallelism(c, 1, 6)).hasMessage("pp 6 exceeds num_hidden_layers 5");
        assertThatThrownBy(() -> HiggsAudioLayout.checkParallelism(Presets.full(), 16, 1))
                .hasMessage("tp 16 does not divide num_attention_heads 24");
    }

    @Test
    void unknownLayoutsAndUnsupportedVariantsAreRefused() throws IOException {
        Path d = Files.createDirectories(tmp.resolve("cfg"));
        Files.writeString(d.resolve("config.json"), "{\"model_type\": \"llama\"}");
        assertThatThrownBy(() -> HiggsAudioConfig.read(d)).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("config.json: unknown layout: model_type 'llama'");
        var boson = (com.fasterxml.jackson.databind.node.ObjectNode) dev.higgstrt.io.Json.STRICT.readTree(TestModels.awkward().toBosonJson());
        boson.put("use_audio_out_self_attention", true);
        Files.writeString(d.resolve("config.json"), boson.toString());
        assertThatThrownBy(() -> HiggsAudioConfig.read(d))
                .hasMessage("config.json: use_audio_out_self_attention is true: this variant (a separate audio self-attention) is not supported");
        boson.put("use_audio_out_self_attention", false);
        boson.put("audio_adapter_type", "stack");
        Files.writeString(d.resolve("config.json"), boson.toString());
        assertThatThrownBy(() -> HiggsAudioConfig.read(d)).hasMessageContaining("audio_adapter_type 'stack' is not supported");
        var tf = (com.fasterxml.jackson.databind.node.ObjectNode) dev.higgstrt.io.Json.STRICT.readTree(TestModels.awkward().toTransformersJson());
        tf.put("num_key_value_heads", 3);
        Files.writeString(d.resolve("config.json"), tf.toString());
        assertThatThrownBy(() -> HiggsAudioConfig.read(d))
                .hasMessage("config.json: num_key_value_heads (3) must divide num_attention_heads (8)");
        tf.put("num_key_value_heads", "two");
        Files.writeString(d.resolve("config.json"), tf.toString());
        assertThatThrownBy(() -> HiggsAudioConfig.read(d)).hasMessage("config.json: num_key_value_heads must be an integer, got \"two\"");
    }

    @Test
    void configsRoundTripThroughEveryFlavour() throws IOException {
        HiggsAudioConfig c = TestModels.awkward();
        assertThat(HiggsAudioConfig.parse(c.toTransformersJson())).isEqualTo(c.withLayout(SourceLayout.TRANSFORMERS));
        HiggsAudioConfig boson = HiggsAudioConfig.parse(c.toBosonJson());
        // the delay token becomes Boson's audio-in token (encode_audio_in_tokens)
        assertThat(boson).usingRecursiveComparison().ignoringFields("layout").isEqualTo(c);
        assertThat(dev.higgstrt.io.Json.STRICT.readTree(c.toBosonJson()).get("audio_in_token_idx").asInt()).isEqualTo(97);
        assertThat(boson.codebookSize()).isEqualTo(7);
        assertThat(dev.higgstrt.io.Json.STRICT.readTree(c.toBosonJson()).get("audio_codebook_size").asInt()).isEqualTo(5);
        var trt = Converter.trtllmConfig(c, 2, 1, DType.BF16, true);
        HiggsAudioConfig expected = new HiggsAudioConfig(SourceLayout.TRTLLM, c.vocabSize(), c.hiddenSize(),
                c.intermediateSize(), c.numLayers(), c.numHeads(), c.numKvHeads(), c.headDim(), c.rmsNormEps(),
                c.maxPositionEmbeddings(), c.rope(), c.numCodebooks(), c.codebookSize(), c.audioTokenIds(),
                c.audioStreamBosId(), c.audioStreamEosId(), c.dualFfnLayers(), c.tieWordEmbeddings(),
                java.util.Optional.of(DType.BF16));
        assertThat(HiggsAudioConfig.parse(trt)).isEqualTo(expected);
    }

    @Test
    void outputFolderIsReplacedOnlyWhenItHoldsAnEarlierConversion() throws IOException {
        HiggsAudioConfig c = TestModels.awkward();
        Path src = TestModels.write(tmp.resolve("src"), c, SourceLayout.TRANSFORMERS, false, DType.F32);
        Path out = Files.createDirectories(tmp.resolve("out"));
        Files.writeString(out.resolve("notes.txt"), "mine");
        assertThatThrownBy(() -> Converter.convert(src, out, ConversionOptions.of(1, 1), n -> { }))
                .isInstanceOf(java.nio.file.FileAlreadyExistsException.class).hasMessageContaining("refusing to replace");
        Files.delete(out.resolve("notes.txt"));
        Converter.convert(src, out, ConversionOptions.of(2, 1), n -> { });
        Converter.convert(src, out, ConversionOptions.of(1, 1), n -> { });
        try (var files = Files.list(out)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("config.json", "rank0.safetensors");
        }
        try (var files = Files.list(tmp)) {
            assertThat(files.map(p -> p.getFileName().toString())).as("nothing but the output: the lock file is removed").containsExactlyInAnyOrder("src", "out");
        }
    }

    @Test
    void failedConversionLeavesThePreviousOutput() throws IOException {
        HiggsAudioConfig c = TestModels.awkward();
        Path src = TestModels.write(tmp.resolve("src"), c, SourceLayout.TRANSFORMERS, false, DType.F32);
        Path out = tmp.resolve("out");
        Converter.convert(src, out, ConversionOptions.of(1, 1), n -> { });
        byte[] before = Files.readAllBytes(out.resolve("rank0.safetensors"));
        assertThatThrownBy(() -> Converter.convert(src, out, ConversionOptions.of(1, 1), n -> {
            throw new IllegalStateException("disk full");
        })).hasMessageContaining("disk full");
        assertThat(Files.readAllBytes(out.resolve("rank0.safetensors"))).isEqualTo(before);
        try (var files = Files.list(tmp)) {
            assertThat(files.map(p -> p.getFileName().toString())).as("nothing but the output: the lock file is removed").containsExactlyInAnyOrder("src", "out");
        }
    }

    @Test
    void layoutDocMatchesTheSpec() throws IOException {
        Path doc = Path.of("..", "docs", "layout.md");
        assertThat(Files.readString(doc)).as("docs/layout.md is generated by LayoutDoc.main; regenerate it")
                .isEqualTo(LayoutDoc.markdown());
    }

    @Test
    void readConvertedMergesEveryRank() throws IOException {
        HiggsAudioConfig c = TestModels.awkward();
        Path src = TestModels.write(tmp.resolve("src"), c, SourceLayout.TRANSFORMERS, true, DType.F32);
        Converter.convert(src, tmp.resolve("out"), ConversionOptions.of(2, 2), n -> { });
        List<ConvertedCheckpoint> open = new ArrayList<>();
        try (SafetensorsCheckpoint s = SafetensorsCheckpoint.open(src)) {
            WeightMap merged = TestConverted.open(tmp.resolve("out"), open).weights();
            TreeMap<String, Boolean> equal = new TreeMap<>();
            for (var w : s.weights()) {
                equal.put(w.name(), merged.tensor(w.name()).materialize(arena).contentEquals(w.tensor().materialize(arena)));
            }
            assertThat(equal.values()).containsOnly(true);
        } finally {
            for (var ck : open) {
                ck.close();
            }
        }
    }
}
