/**
 * TensorRT object lifetimes ({@link dev.higgstrt.trt.tensorrt.TrtObjects}), the logger that
 * collects TensorRT's errors, and {@link dev.higgstrt.trt.tensorrt.TrtException}. The bottom of
 * the native module.
 */
package dev.higgstrt.trt.tensorrt;
