package dev.higgstrt.trt.cuda;

import org.bytedeco.javacpp.SizeTPointer;

import static org.bytedeco.cuda.global.cudart.cudaMemGetInfo;

/** Free and total memory of the current CUDA device. */
public final class DeviceMemory {
    private DeviceMemory() {
    }

    /**
     * Free device memory in bytes.
     *
     * @return free device memory in bytes
     */
    public static long free() {
        try (SizeTPointer free = new SizeTPointer(1); SizeTPointer total = new SizeTPointer(1)) {
            Cuda.check(cudaMemGetInfo(free, total), "cudaMemGetInfo");
            return free.get();
        }
    }
}
