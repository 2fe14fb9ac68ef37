package dev.higgstrt.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class AtomicOutputTest {
    @TempDir
    Path dir;

    private long filesIn(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.count();
        }
    }

    @Test
    void commitRenamesAndCloseWithoutCommitDiscards() throws IOException {
        Path target = dir.resolve("sub/out.bin");
        try (AtomicOutput out = AtomicOutput.create(target)) {
            out.channel().write(ByteBuffer.wrap(new byte[]{1, 2, 3}));
            assertThat(target).doesNotExist();
            out.commit();
        }
        assertThat(Files.readAllBytes(target)).containsExactly(1, 2, 3);
        try (AtomicOutput out = AtomicOutput.create(target)) {
            out.channel().write(ByteBuffer.wrap(new byte[]{9}));
        }
        assertThat(Files.readAllBytes(target)).containsExactly(1, 2, 3);
        assertThat(filesIn(target.getParent())).isEqualTo(1);
    }

    @Test
    void commitAfterCloseIsRefused() throws IOException {
        AtomicOutput out = AtomicOutput.create(dir.resolve("x"));
        out.close();
        out.close();
        assertThatThrownBy(out::commit).isInstanceOf(IllegalStateException.class);
        assertThat(filesIn(dir)).isZero();
    }
}
