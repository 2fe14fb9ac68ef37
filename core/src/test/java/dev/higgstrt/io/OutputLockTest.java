package dev.higgstrt.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class OutputLockTest {
    @TempDir
    Path tmp;

    @Test
    void heldLockRefusesASecondWriterAndIsRemovedWhenClosed() throws IOException {
        Path out = tmp.resolve("out");
        Path lockFile = OutputLock.lockFileOf(out);
        assertThat(lockFile).isEqualTo(tmp.resolve(".out.lock"));
        try (OutputLock held = OutputLock.acquire(out)) {
            assertThat(lockFile).exists();
            assertThatThrownBy(() -> OutputLock.acquire(out)).hasMessageContaining("another conversion is writing " + out);
        }
        assertThat(lockFile).doesNotExist();
        Files.writeString(lockFile, "stale 1234\n");   // left by a killed writer: nobody holds it
        try (OutputLock again = OutputLock.acquire(out)) {
            assertThat(Files.readString(lockFile)).doesNotContain("stale");
        }
        assertThat(lockFile).doesNotExist();
    }

    @Test
    void aFolderThatCannotHoldTheLockIsNamedNotTheLockFile() {
        Path out = tmp.resolve("missing").resolve("out");
        assertThatThrownBy(() -> OutputLock.acquire(out)).hasMessageStartingWith(out + ": cannot write there (")
                .hasMessageNotContaining(".out.lock");
    }

    @Test
    void writersRacingForOneOutputNeverHoldItTogether() throws Exception {
        Path out = tmp.resolve("raced");
        int threads = 4;
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger overlaps = new AtomicInteger();
        AtomicInteger held = new AtomicInteger();
        CyclicBarrier start = new CyclicBarrier(threads);
        List<Thread> all = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            all.add(Thread.ofPlatform().start(() -> {
                try {
                    start.await();
                    for (int k = 0; k < 200; k++) {
                        try (OutputLock lock = OutputLock.acquire(out)) {
                            if (inside.incrementAndGet() > 1) {
                                overlaps.incrementAndGet();
                            }
                            held.incrementAndGet();
                            inside.decrementAndGet();
                        } catch (IOException busy) {
                            // another writer holds it: refused, as it must be
                        }
                    }
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            }));
        }
        for (Thread t : all) {
            t.join();
        }
        assertThat(overlaps.get()).isZero();
        assertThat(held.get()).isPositive();
        assertThat(OutputLock.lockFileOf(out)).doesNotExist();
    }
}
