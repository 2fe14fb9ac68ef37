package dev.higgstrt.trt.engine;

import dev.higgstrt.io.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The saved-engine layout, on the CPU: a round trip, another kind's magic, a header longer than the file. */
class EngineFileTest {
    static final byte[] MAGIC = "HXTEST01".getBytes(StandardCharsets.US_ASCII);

    @Test
    void anEngineFileRoundTripsAndOthersAreRefused(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("x.engine");
        byte[] plan = {1, 2, 3, 4, 5};
        EngineFile.write(file, MAGIC, Json.STRICT.createObjectNode().put("dtype", "float16"), MemorySegment.ofArray(plan));
        try (Arena arena = Arena.ofConfined()) {
            EngineFile.Contents c = EngineFile.read(file, MAGIC, "other kind", "corrupt", arena);
            assertThat(c.header().get("dtype").asText()).isEqualTo("float16");
            assertThat(c.plan().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)).containsExactly(plan);
            assertThatThrownBy(() -> EngineFile.read(file, "HXOTHER1".getBytes(StandardCharsets.US_ASCII), "other kind", "corrupt", arena))
                    .hasMessage("other kind");
            byte[] bytes = Files.readAllBytes(file);
            bytes[MAGIC.length] = 0x7f;   // a header length far past the end
            Files.write(file, bytes);
            assertThatThrownBy(() -> EngineFile.read(file, MAGIC, "other kind", "corrupt", arena)).hasMessage("corrupt");
        }
        try (var s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString())).containsExactly("x.engine");
        }
    }

    @Test
    void anEngineOfAnotherCheckpointIsRefusedAndKindsAreToldApart(@TempDir Path dir) throws Exception {
        Path checkpoint = Files.createDirectories(dir.resolve("ck"));
        Files.writeString(checkpoint.resolve("config.json"), "{\"a\": 1}");
        Path file = dir.resolve("x.engine");
        EngineFile.write(file, MAGIC, Json.STRICT.createObjectNode().put("checkpoint_sha256", HiggsEngine.hash(checkpoint)),
                MemorySegment.ofArray(new byte[]{9}));
        try (Arena arena = Arena.ofConfined()) {
            assertThat(EngineFile.readBuiltFrom(file, MAGIC, "test engine", checkpoint, arena).plan().byteSize()).isEqualTo(1);
            assertThatThrownBy(() -> EngineFile.readBuiltFrom(file, "HXOTHER1".getBytes(StandardCharsets.US_ASCII), "test engine",
                    checkpoint, arena)).hasMessage("x.engine: not a higgs-trt test engine file");
            Files.writeString(checkpoint.resolve("config.json"), "{\"a\": 2}");
            assertThatThrownBy(() -> EngineFile.readBuiltFrom(file, MAGIC, "test engine", checkpoint, arena))
                    .hasMessage("x.engine: built from another checkpoint than " + checkpoint + " (config or rank files differ); rebuild it");
        }
        assertThat(EngineFile.isKind(file, MAGIC)).isTrue();
        assertThat(EngineFile.isKind(file, "HXOTHER1".getBytes(StandardCharsets.US_ASCII))).isFalse();
        Files.write(dir.resolve("short"), new byte[]{1});
        assertThat(EngineFile.isKind(dir.resolve("short"), MAGIC)).isFalse();
    }
}
