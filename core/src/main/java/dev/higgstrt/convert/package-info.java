/**
 * Conversion of a transformers or Boson checkpoint into the TensorRT-LLM checkpoint layout,
 * optionally quantized: planned from names and shapes, streamed rank by rank, written atomically
 * under a lock.
 */
package dev.higgstrt.convert;
