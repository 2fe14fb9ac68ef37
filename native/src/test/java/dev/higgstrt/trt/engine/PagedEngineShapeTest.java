package dev.higgstrt.trt.engine;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The paged engine's host side that needs no GPU: its shape and how its files are told apart. */
class PagedEngineShapeTest {
    @Test
    void aShapeCountsTheBlocksOfTheLongestSequence() {
        assertThat(new PagedEngine.Shape(1520, 2048, 256, 32).blocksPerSequence()).isEqualTo(48);
        assertThat(new PagedEngine.Shape(32, 64, 8, 4).blocksPerSequence()).isEqualTo(8);
        assertThat(new PagedEngine.Shape(33, 64, 8, 4).blocksPerSequence()).isEqualTo(9);
    }

    @Test
    void refusesShapesThatCannotRun() {
        assertThatThrownBy(() -> new PagedEngine.Shape(1, 64, 8, 4)).hasMessageContaining("sequence 1");
        assertThatThrownBy(() -> new PagedEngine.Shape(64, 4, 8, 4)).hasMessageContaining("at most one a token");
        assertThatThrownBy(() -> new PagedEngine.Shape(64, 64, 0, 4)).hasMessageContaining("sequences 0");
        assertThatThrownBy(() -> new PagedEngine.Shape(64, 64, 8, 0)).hasMessageContaining("block 0");
    }

    @Test
    void tellsPagedEngineFilesFromOthers(@TempDir Path dir) throws IOException {
        Path paged = dir.resolve("paged.engine");
        Files.write(paged, "HXPAGED1 and the rest".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        Path single = dir.resolve("single.engine");
        Files.write(single, "HXTRT001 and the rest".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        Path tiny = dir.resolve("tiny");
        Files.write(tiny, new byte[]{1, 2});
        assertThat(PagedEngine.isPagedEngineFile(paged)).isTrue();
        assertThat(PagedEngine.isPagedEngineFile(single)).isFalse();
        assertThat(PagedEngine.isPagedEngineFile(tiny)).isFalse();
    }
}
