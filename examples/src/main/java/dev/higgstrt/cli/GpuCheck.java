package dev.higgstrt.cli;

import dev.higgstrt.trt.cuda.GpuEnvironment;

/** Refuses GPU commands, with the reason, on machines without a GPU or TensorRT. */
final class GpuCheck {
    private GpuCheck() {
    }

    static void require(String command) {
        GpuEnvironment env = GpuEnvironment.probe();
        if (!env.usable()) {
            throw new IllegalStateException(command + " needs an NVIDIA GPU and TensorRT 10: " + env.missing()
                    + " (see docs/gpu.md)");
        }
    }
}
