package dev.higgstrt.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WriteBehindTest {
    @TempDir
    Path dir;

    @Test
    void forcesOnceAStepHasBeenWrittenAndNotBefore() throws Exception {
        try (FileChannel ch = FileChannel.open(dir.resolve("f"), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            WriteBehind wb = new WriteBehind(ch, "f", 1000);
            ch.write(ByteBuffer.allocate(999));
            wb.wrote(999);
            assertThat(wb.forced()).isZero();
            ch.write(ByteBuffer.allocate(600));
            wb.wrote(600);
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (wb.forced() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            assertThat(wb.forced()).isEqualTo(1599);
            wb.close();
            wb.close();
        }
    }

    @Test
    void aFailedForceIsReportedWithTheFileName() throws Exception {
        FileChannel ch = FileChannel.open(dir.resolve("g"), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        WriteBehind wb = new WriteBehind(ch, "g.safetensors", 10);
        ch.close();
        wb.wrote(10);
        IOException seen = null;
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (seen == null && System.nanoTime() < deadline) {
            try {
                wb.wrote(0);
                Thread.sleep(1);
            } catch (IOException e) {
                seen = e;
            }
        }
        assertThat(seen).hasMessageStartingWith("forcing g.safetensors to disk");
        assertThatThrownBy(wb::close).isInstanceOf(IOException.class).hasMessageStartingWith("forcing g.safetensors to disk");
        assertThatThrownBy(() -> wb.wrote(1)).isInstanceOf(IOException.class).hasMessageStartingWith("forcing g.safetensors to disk");
    }

    @Test
    void aStepMustBePositive() {
        assertThatThrownBy(() -> new WriteBehind(null, "h", 0)).hasMessage("step must be positive: 0");
    }
}
