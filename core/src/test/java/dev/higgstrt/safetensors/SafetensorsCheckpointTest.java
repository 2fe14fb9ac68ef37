package dev.higgstrt.safetensors;

import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.Tensor;
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
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SafetensorsCheckpointTest {
    @TempDir
    Path dir;
    private final Arena arena = Arena.ofConfined();

    @AfterEach
    void close() {
        arena.close();
    }

    private Tensor t(long seed) {
        return TestTensors.random(DType.F32, Shape.of(2, 3), seed, arena);
    }

    private void index(Path folder, String weightMapJson) throws IOException {
        Files.writeString(folder.resolve(ShardIndex.FILE_NAME),
                "{\"metadata\":{\"total_size\":48},\"weight_map\":" + weightMapJson + "}");
    }

    @Test
    void opensAShardedCheckpointThroughItsIndex() throws IOException {
        SafetensorsWriter.write(dir.resolve("model-00001-of-00002.safetensors"), Map.of("a", t(1), "b", t(2)), Map.of(), n -> { });
        SafetensorsWriter.write(dir.resolve("model-00002-of-00002.safetensors"), Map.of("c", t(3)), Map.of(), n -> { });
        index(dir, "{\"a\":\"model-00001-of-00002.safetensors\",\"b\":\"model-00001-of-00002.safetensors\","
                + "\"c\":\"model-00002-of-00002.safetensors\"}");
        try (SafetensorsCheckpoint ck = SafetensorsCheckpoint.open(dir)) {
            assertThat(ck.readers()).hasSize(2);
            assertThat(ck.index()).isPresent();
            assertThat(ck.index().get().metadata()).containsEntry("total_size", "48");
            assertThat(ck.weights().names()).containsExactly("a", "b", "c");
            assertThat(ck.weights().tensor("c").materialize(arena).contentEquals(t(3))).isTrue();
            assertThat(ck.weights().get("c").provenance().describe()).isEqualTo("model-00002-of-00002.safetensors:c");
        }
    }

    @Test
    void opensAFolderWithoutIndexAndASingleFile() throws IOException {
        SafetensorsWriter.write(dir.resolve("one.safetensors"), Map.of("a", t(1)), Map.of(), n -> { });
        SafetensorsWriter.write(dir.resolve("two.safetensors"), Map.of("b", t(2)), Map.of(), n -> { });
        try (SafetensorsCheckpoint ck = SafetensorsCheckpoint.open(dir)) {
            assertThat(ck.weights().names()).containsExactly("a", "b");
        }
        try (SafetensorsCheckpoint ck = SafetensorsCheckpoint.open(dir.resolve("two.safetensors"))) {
            assertThat(ck.weights().names()).containsExactly("b");
        }
    }

    @Test
    void aFolderWithModelSafetensorsIgnoresOtherFiles() throws IOException {
        SafetensorsWriter.write(dir.resolve("model.safetensors"), Map.of("a", t(1)), Map.of(), n -> { });
        SafetensorsWriter.write(dir.resolve("expected.safetensors"), Map.of("a", t(2), "logits", t(3)), Map.of(), n -> { });
        try (SafetensorsCheckpoint ck = SafetensorsCheckpoint.open(dir)) {
            assertThat(ck.readers().keySet()).containsExactly("model.safetensors");
            assertThat(ck.weights().tensor("a").materialize(arena).contentEquals(t(1))).isTrue();
        }
    }

    @Test
    void refusesTheSameTensorInTwoFilesWithoutIndex() throws IOException {
        SafetensorsWriter.write(dir.resolve("one.safetensors"), Map.of("a", t(1)), Map.of(), n -> { });
        SafetensorsWriter.write(dir.resolve("two.safetensors"), Map.of("a", t(2)), Map.of(), n -> { });
        assertThatThrownBy(() -> SafetensorsCheckpoint.open(dir))
                .isInstanceOf(SafetensorsFormatException.class)
                .hasMessage("two.safetensors: tensor 'a': also in one.safetensors (a folder without an index may not hold a tensor twice)");
    }

    @Test
    void refusesAMissingShard() throws IOException {
        SafetensorsWriter.write(dir.resolve("a.safetensors"), Map.of("a", t(1)), Map.of(), n -> { });
        index(dir, "{\"a\":\"a.safetensors\",\"b\":\"b.safetensors\"}");
        assertThatThrownBy(() -> SafetensorsCheckpoint.open(dir))
                .isInstanceOf(SafetensorsFormatException.class)
                .hasMessage("model.safetensors.index.json: shard 'b.safetensors' listed in the index is missing");
    }

    @Test
    void refusesATensorListedButNotInItsShard() throws IOException {
        SafetensorsWriter.write(dir.resolve("a.safetensors"), Map.of("a", t(1)), Map.of(), n -> { });
        index(dir, "{\"a\":\"a.safetensors\",\"zz\":\"a.safetensors\"}");
        assertThatThrownBy(() -> SafetensorsCheckpoint.open(dir))
                .hasMessage("a.safetensors: tensor 'zz': listed in model.safetensors.index.json but not present in this shard");
    }

    @Test
    void refusesShardPathsThatEscapeTheFolder() throws IOException {
        Path inner = Files.createDirectories(dir.resolve("ckpt"));
        SafetensorsWriter.write(dir.resolve("outside.safetensors"), Map.of("a", t(1)), Map.of(), n -> { });
        for (String bad : new String[]{"../outside.safetensors", "/etc/passwd", "sub/../../outside.safetensors"}) {
            index(inner, "{\"a\":\"" + bad + "\"}");
            assertThatThrownBy(() -> SafetensorsCheckpoint.open(inner))
                    .as(bad)
                    .isInstanceOf(SafetensorsFormatException.class)
                    .hasMessageStartingWith("model.safetensors.index.json: tensor 'a': shard path '" + bad + "' escapes the folder");
        }
        Files.createSymbolicLink(inner.resolve("link.safetensors"), dir.resolve("outside.safetensors"));
        index(inner, "{\"a\":\"link.safetensors\"}");
        assertThatThrownBy(() -> SafetensorsCheckpoint.open(inner))
                .hasMessageContaining("leads outside the folder through a symbolic link");
    }

    @Test
    void refusesMalformedIndexes() throws IOException {
        Files.writeString(dir.resolve(ShardIndex.FILE_NAME), "{\"weight_map\": [1]}");
        assertThatThrownBy(() -> SafetensorsCheckpoint.open(dir)).hasMessage("model.safetensors.index.json: index has no 'weight_map' object");
        Files.writeString(dir.resolve(ShardIndex.FILE_NAME), "{\"weight_map\": {\"a\": 3}}");
        assertThatThrownBy(() -> SafetensorsCheckpoint.open(dir)).hasMessage("model.safetensors.index.json: tensor 'a': shard name is not a string");
        Files.writeString(dir.resolve(ShardIndex.FILE_NAME), "{\"weight_map\": {\"a\": \"x\", \"a\": \"y\"}}");
        assertThatThrownBy(() -> SafetensorsCheckpoint.open(dir)).hasMessageContaining("not valid JSON: Duplicate field 'a'");
    }

    @Test
    void aMalformedShardClosesTheOthersAndNamesItself() throws IOException {
        SafetensorsWriter.write(dir.resolve("a.safetensors"), Map.of("a", t(1)), Map.of(), n -> { });
        Files.write(dir.resolve("b.safetensors"), new byte[3]);
        assertThatThrownBy(() -> SafetensorsCheckpoint.open(dir)).hasMessageStartingWith("b.safetensors: ");
    }

    /** Found by ParserFuzzTest: bytes that Jackson takes for UTF-32 failed with a raw CharConversionException. */
    @Test
    void anIndexInAnotherEncodingIsRefusedAsInvalidJson(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
        Path index = dir.resolve(ShardIndex.FILE_NAME);
        byte[] utf32 = new byte[48];
        utf32[10] = (byte) 0xb9;
        Files.write(index, utf32);
        assertThatThrownBy(() -> ShardIndex.read(index)).isInstanceOf(SafetensorsFormatException.class)
                .hasMessageContaining("not valid JSON").hasMessageContaining(ShardIndex.FILE_NAME);
        Files.write(index, "{\"weight_map\": {}}".getBytes(java.nio.charset.StandardCharsets.UTF_16));
        assertThatThrownBy(() -> ShardIndex.read(index)).isInstanceOf(SafetensorsFormatException.class)
                .hasMessageContaining("not UTF-8");
    }
}
