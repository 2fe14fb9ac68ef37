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
}
