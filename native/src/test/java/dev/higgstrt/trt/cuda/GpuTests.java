package dev.higgstrt.trt.cuda;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** What the GPU tests share: the skip without a usable GPU, and the golden model they build from. */
public final class GpuTests {
    /** The core module's golden model with a text head and llama3 RoPE (the tests run in the native module's folder). */
    public static final Path GOLDEN = Path.of("..", "core", "src", "test", "resources", "golden", "gqa_llama3_texthead");

    private GpuTests() {
    }

    /** Skips the calling test, saying why, where no GPU, CUDA or TensorRT is usable. */
    public static void requireGpu() {
        GpuEnvironment env = GpuEnvironment.probe();
        if (!env.usable() && !TOLD.getAndSet(true)) {
            // a class skipped in @BeforeAll shows as "Tests run: 0" in Maven's summary: say why once
            System.err.println("GPU tests skipped: " + env.missing());
        }
        assumeTrue(env.usable(), () -> "GPU tests skipped: " + env.missing());
    }

    private static final java.util.concurrent.atomic.AtomicBoolean TOLD = new java.util.concurrent.atomic.AtomicBoolean();
}
