/**
 * Tensor- and pipeline-parallel decoding: {@link dev.higgstrt.trt.parallel.ParallelEngine} holds
 * one engine per rank, and its session runs every rank of each step (all-reduce after dense and
 * the FFN, hidden states handed between stages).
 */
package dev.higgstrt.trt.parallel;
