package dev.higgstrt.trt.cuda;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What this machine offers for running engines: an NVIDIA GPU driver and a TensorRT 10
 * library. GPU tests use it to skip with a message saying what is missing.
 *
 * @param gpuDevice    the first NVIDIA device node or driver entry found, if any
 * @param tensorRt     the TensorRT runtime library found on the library path, if any
 */
public record GpuEnvironment(Optional<Path> gpuDevice, Optional<Path> tensorRt) {
    /** File name of the TensorRT 10 runtime library. */
    public static final String TENSORRT_LIBRARY = "libnvinfer.so.10";

    /**
     * Probes the machine: device nodes, the driver's proc entries and the library path.
     *
     * @return what was found
     */
    public static GpuEnvironment probe() {
        Optional<Path> gpu = firstExisting(List.of(Path.of("/dev/nvidia0"), Path.of("/proc/driver/nvidia/gpus")));
        return new GpuEnvironment(gpu, findLibrary(TENSORRT_LIBRARY));
    }

    private static Optional<Path> firstExisting(List<Path> candidates) {
        return candidates.stream().filter(Files::exists).findFirst();
    }

    /** Searches {@code LD_LIBRARY_PATH}, then the usual system library folders. */
    static Optional<Path> findLibrary(String name) {
        List<Path> dirs = new ArrayList<>();
        String env = System.getenv("LD_LIBRARY_PATH");
        if (env != null) {
            for (String d : env.split(":")) {
                if (!d.isBlank()) {
                    dirs.add(Path.of(d));
                }
            }
        }
        for (String d : new String[]{"/usr/lib/x86_64-linux-gnu", "/usr/local/lib", "/usr/lib64", "/usr/lib",
                "/usr/local/tensorrt/lib", "/opt/tensorrt/lib"}) {
            dirs.add(Path.of(d));
        }
        return firstExisting(dirs.stream().map(d -> d.resolve(name)).toList());
    }

    /**
     * Whether engines can be built and run here.
     *
     * @return whether engines can be built and run here
     */
    public boolean usable() {
        return gpuDevice.isPresent() && tensorRt.isPresent();
    }

    /**
     * Why engines cannot run here, or an empty string when they can.
     *
     * @return why engines cannot run here, or an empty string when they can
     */
    public String missing() {
        List<String> why = new ArrayList<>();
        if (gpuDevice.isEmpty()) {
            why.add("no NVIDIA GPU (no /dev/nvidia0, no /proc/driver/nvidia/gpus)");
        }
        if (tensorRt.isEmpty()) {
            why.add("no TensorRT 10 runtime (" + TENSORRT_LIBRARY + " not on LD_LIBRARY_PATH or in the system library folders)");
        }
        return String.join("; ", why);
    }
}
