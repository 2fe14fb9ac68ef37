/**
 * Our TensorRT plugins, built by nvcc from src/main/cuda on our own declarations of the TensorRT
 * 10.6 plugin interfaces: the dual FFN (each position its own feed-forward path) and the all-
 * reduce (NCCL or an in-process group, {@link dev.higgstrt.trt.plugin.ReduceGroup}), with the
 * library that holds both.
 */
package dev.higgstrt.trt.plugin;
