/**
 * Typed tensors over off-heap memory: {@link dev.higgstrt.tensor.DType}, {@link
 * dev.higgstrt.tensor.Shape}, the lazy {@link dev.higgstrt.tensor.TensorSource} (slices,
 * concatenations, casts read a block of rows at a time) and the materialized {@link
 * dev.higgstrt.tensor.Tensor}, with the float conversions between F32, BF16, F16 and FP8. The
 * bottom of the library: it uses no other package of it.
 */
package dev.higgstrt.tensor;
