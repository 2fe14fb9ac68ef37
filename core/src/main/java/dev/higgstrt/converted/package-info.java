/**
 * Reading a converted TensorRT-LLM checkpoint: {@link dev.higgstrt.converted.ConvertedCheckpoint}
 * (config, mapping, rank files, quantized codes and scales, dequantized on request, and the
 * activation rounding of its quantization). The engine builder, the CPU reference and the
 * quantization checks read conversions through it.
 */
package dev.higgstrt.converted;
