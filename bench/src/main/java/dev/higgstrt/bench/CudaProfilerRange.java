package dev.higgstrt.bench;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The CUDA driver's profiler range ({@code cuProfilerStart}/{@code cuProfilerStop}), so that a profiler
 * started with {@code --profile-from-start off} (Nsight Compute's {@code ncu}) sees only the steps a
 * benchmark brackets, not the engine build. The presets do not bind these calls; the driver's own
 * library is on every machine with a GPU.
 */
final class CudaProfilerRange implements AutoCloseable {
    private static final MethodHandle START;
    private static final MethodHandle STOP;

    static {
        SymbolLookup driver = SymbolLookup.libraryLookup("libcuda.so.1", java.lang.foreign.Arena.global());
        Linker linker = Linker.nativeLinker();
        FunctionDescriptor status = FunctionDescriptor.of(ValueLayout.JAVA_INT);
        START = linker.downcallHandle(driver.find("cuProfilerStart").orElseThrow(), status);
        STOP = linker.downcallHandle(driver.find("cuProfilerStop").orElseThrow(), status);
    }

    private CudaProfilerRange() {
        call(START, "cuProfilerStart");
    }

    /** Starts the range on the calling thread's current CUDA context. */
    static CudaProfilerRange open() {
        return new CudaProfilerRange();
    }

    @Override
    public void close() {
        call(STOP, "cuProfilerStop");
    }

    private static void call(MethodHandle handle, String name) {
        int status;
        try {
            status = (int) handle.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(name + " failed", t);
        }
        if (status != 0) {
            throw new IllegalStateException(name + " returned CUDA error " + status);
        }
    }
}
