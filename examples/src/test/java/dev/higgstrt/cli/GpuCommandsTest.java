package dev.higgstrt.cli;

import dev.higgstrt.trt.cuda.GpuEnvironment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/** Without a GPU, the GPU commands refuse with one line saying what is missing. */
class GpuCommandsTest {
    @TempDir
    Path tmp;

    @Test
    void buildAndSmokeSayWhatIsMissing() {
        GpuEnvironment env = GpuEnvironment.probe();
        assumeFalse(env.usable(), "this machine has a GPU and TensorRT; the GPU tests cover these commands");
        CliRun build = CliRun.of("build", "--checkpoint", tmp.toString(), "--engine", tmp.resolve("e").toString());
        assertThat(build.status()).isEqualTo(2);
        assertThat(build.err().lines()).containsExactly("error: build needs an NVIDIA GPU and TensorRT 10: " + env.missing()
                + " (see docs/gpu.md)");
        CliRun smoke = CliRun.of("smoke", "--checkpoint", tmp.toString(), "--engine", tmp.resolve("e").toString());
        assertThat(smoke.status()).isEqualTo(2);
        assertThat(smoke.err()).startsWith("error: smoke needs an NVIDIA GPU");
        assertThat(tmp.resolve("e")).doesNotExist();
    }

    @Test
    void theCodecEngineCommandsSayWhatIsMissing() throws Exception {
        GpuEnvironment env = GpuEnvironment.probe();
        assumeFalse(env.usable(), "this machine has a GPU and TensorRT; the GPU tests cover these commands");
        java.nio.file.Files.createDirectories(tmp.resolve("codec"));
        CliRun build = CliRun.of("build-codec", "--codec", tmp.resolve("codec").toString(), "--engine", tmp.resolve("c.engine").toString());
        assertThat(build.status()).isEqualTo(2);
        assertThat(build.err().lines()).containsExactly("error: build-codec needs an NVIDIA GPU and TensorRT 10: " + env.missing()
                + " (see docs/gpu.md)");
        java.nio.file.Files.writeString(tmp.resolve("c.engine"), "not an engine");
        java.nio.file.Files.writeString(tmp.resolve("codes.json"), "{\"codes\": [[1]]}");
        CliRun decode = CliRun.of("decode-codes", "--codec-engine", tmp.resolve("c.engine").toString(), "--codes",
                tmp.resolve("codes.json").toString(), "--output", tmp.resolve("o.wav").toString());
        assertThat(decode.status()).isEqualTo(2);
        assertThat(decode.err()).startsWith("error: decode-codes --codec-engine needs an NVIDIA GPU");
        assertThat(tmp.resolve("o.wav")).doesNotExist();
    }
}
