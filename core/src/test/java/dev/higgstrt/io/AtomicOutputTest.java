package dev.higgstrt.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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

    @Test
    void directOutputTakesAlignedWritesAndTruncatesThePadding() throws IOException {
        Path target = dir.resolve("direct.bin");
        try (AtomicOutput out = AtomicOutput.createDirect(target); Arena arena = Arena.ofConfined()) {
            int alignment = out.alignment();
            assertThat(alignment == 1 || alignment >= 4096 && Integer.bitCount(alignment) == 1)
                    .as("alignment %d", alignment).isTrue();
            long blockBytes = 2L * Math.max(alignment, 4096);
            MemorySegment block = arena.allocate(blockBytes, Math.max(alignment, 64));
            for (long i = 0; i < blockBytes; i++) {
                block.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 7));
            }
            ByteBuffer buf = block.asByteBuffer();
            while (buf.hasRemaining()) {
                out.channel().write(buf);
            }
            out.channel().truncate(5000);
            out.commit();
        }
        byte[] bytes = Files.readAllBytes(target);
        assertThat(bytes).hasSize(5000);
        for (int i = 0; i < bytes.length; i++) {
            assertThat(bytes[i]).isEqualTo((byte) (i * 7));
        }
        assertThat(filesIn(dir)).isEqualTo(1);
    }

    @Test
    void directIoIsOffWhereThePropertySaysSo() throws IOException {
        String before = System.getProperty(AtomicOutput.DIRECT_IO_PROPERTY);
        System.setProperty(AtomicOutput.DIRECT_IO_PROPERTY, "false");
        try (AtomicOutput out = AtomicOutput.createDirect(dir.resolve("buffered.bin"))) {
            assertThat(out.alignment()).isEqualTo(1);
        } finally {
            if (before == null) {
                System.clearProperty(AtomicOutput.DIRECT_IO_PROPERTY);
            } else {
                System.setProperty(AtomicOutput.DIRECT_IO_PROPERTY, before);
            }
        }
        assertThat(filesIn(dir)).isZero();
    }
}
