package dev.higgstrt.trt.cuda;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

class GpuEnvironmentTest {
    @Test
    void probeAgreesWithTheFileSystem() {
        GpuEnvironment env = GpuEnvironment.probe();
        boolean gpu = Files.exists(Path.of("/dev/nvidia0")) || Files.exists(Path.of("/proc/driver/nvidia/gpus"));
        assertThat(env.gpuDevice().isPresent()).isEqualTo(gpu);
        assertThat(env.usable()).isEqualTo(env.missing().isEmpty());
    }

    @Test
    void missingNamesWhatIsAbsent() {
        GpuEnvironment none = new GpuEnvironment(Optional.empty(), Optional.empty());
        assertThat(none.usable()).isFalse();
        assertThat(none.missing()).contains("no NVIDIA GPU").contains("libnvinfer.so.10");
        GpuEnvironment gpuOnly = new GpuEnvironment(Optional.of(Path.of("/dev/nvidia0")), Optional.empty());
        assertThat(gpuOnly.missing()).doesNotContain("GPU (").contains("no TensorRT 10 runtime");
    }
}
