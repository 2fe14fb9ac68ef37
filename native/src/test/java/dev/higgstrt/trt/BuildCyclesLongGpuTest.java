package dev.higgstrt.trt;

import dev.higgstrt.convert.ConversionOptions;
import dev.higgstrt.convert.Converter;
import dev.higgstrt.reference.TokenInput;
import dev.higgstrt.tensor.DType;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Many build-run-close cycles (minutes on a GPU: tagged {@code gpu-long}, run on demand with
 * {@code scripts/gpu-test.sh run gpu-long}). Free device memory is sampled every 10 cycles; after
 * the first 10 (warm-up: kernel libraries and pools) it must not keep falling.
 */
@Tag("gpu-long")
class BuildCyclesLongGpuTest {
    @TempDir
    Path tmp;

    @Test
    void buildRunCloseCyclesPlateau() throws IOException {
        GpuEnvironment env = GpuEnvironment.probe();
        assumeTrue(env.usable(), () -> "GPU tests skipped: " + env.missing());
        int cycles = Integer.getInteger("higgs.cycles", 30);
        Path golden = Path.of("..", "core", "src", "test", "resources", "golden", "gqa_llama3_texthead");
        Path ckpt = tmp.resolve("ckpt");
        Converter.convert(golden, ckpt, ConversionOptions.of(1, 1).withDtype(DType.F32), n -> { });
        TokenInput tokens = TokenInput.read(golden.resolve("audio_only.json"));
        List<Long> free = new ArrayList<>();
        for (int i = 1; i <= cycles; i++) {
            try (HiggsEngine engine = HiggsEngine.build(ckpt, DType.F32, 16); EngineSession s = engine.newSession()) {
                s.forward(tokens);
            }
            if (i % 10 == 0) {
                free.add(DeviceMemory.free() >> 20);
            }
        }
        System.out.println("GPU build-run-close cycles, free device memory (MB) every 10 cycles: " + free);
        assertThat(free.getFirst() - free.getLast()).as("drift after warm-up").isLessThan(64L);
    }
}
