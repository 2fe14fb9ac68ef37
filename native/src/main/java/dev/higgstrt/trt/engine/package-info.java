/**
 * The Higgs Audio decoder as a TensorRT engine: the network defined from a converted checkpoint,
 * plan building, {@link dev.higgstrt.trt.engine.HiggsEngine} (one engine, or one rank of a tp x pp
 * layout) and its {@link dev.higgstrt.trt.engine.EngineSession}, a {@link
 * dev.higgstrt.decoding.DecoderSession} with its KV cache on the GPU.
 */
package dev.higgstrt.trt.engine;
