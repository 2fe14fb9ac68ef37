/**
 * Our TensorRT plugins, built by nvcc from src/main/cuda on our own declarations of the TensorRT
 * 10.6 plugin interfaces, in one library: the dual FFN (each position its own feed-forward path),
 * the paged attention (RoPE and the K/V written into a KV cache the runtime owns), the linear layer
 * (the attention's projections with the input norm and the residual inside, skinny kernels at one
 * token) and the all-reduce (NCCL or an in-process group, {@link dev.higgstrt.trt.plugin.ReduceGroup}).
 */
package dev.higgstrt.trt.plugin;
