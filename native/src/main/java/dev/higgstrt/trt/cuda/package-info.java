/**
 * CUDA memory and streams ({@link dev.higgstrt.trt.cuda.Cuda}), device memory readings, the probe
 * of a usable GPU and TensorRT ({@link dev.higgstrt.trt.cuda.GpuEnvironment}), and {@link
 * dev.higgstrt.trt.cuda.NativeRelease}, the one owner of each native handle (closed once, or by a
 * Cleaner with a warning).
 */
package dev.higgstrt.trt.cuda;
