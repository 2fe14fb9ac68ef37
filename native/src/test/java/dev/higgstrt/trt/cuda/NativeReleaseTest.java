package dev.higgstrt.trt.cuda;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/** The release of native resources runs exactly once: at close, or from the Cleaner, counted, for an owner never closed. */
class NativeReleaseTest {
    @Test
    void closeReleasesOnceAndCountsNothing() {
        AtomicInteger runs = new AtomicInteger();
        long before = NativeRelease.unclosedCount();
        Object owner = new Object();
        NativeRelease r = NativeRelease.register(owner, "a test owner", runs::incrementAndGet);
        assertThat(r.released()).isFalse();
        r.close();
        r.close();
        r.run();
        assertThat(runs).hasValue(1);
        assertThat(r.released()).isTrue();
        assertThat(NativeRelease.unclosedCount()).isEqualTo(before);
        assertThat(owner).isNotNull();
    }

    @Test
    void anOwnerNeverClosedIsReleasedByTheCleanerAndCounted() throws InterruptedException {
        AtomicInteger runs = new AtomicInteger();
        long before = NativeRelease.unclosedCount();
        registerAndDrop(runs);
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (runs.get() == 0 && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(20);
        }
        assertThat(runs).hasValue(1);
        assertThat(NativeRelease.unclosedCount()).isGreaterThanOrEqualTo(before + 1);
    }

    private static void registerAndDrop(AtomicInteger runs) {
        NativeRelease.register(new Object(), "a dropped test owner", runs::incrementAndGet);
    }
}
