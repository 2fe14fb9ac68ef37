/**
 * The audio codec's decoder as a TensorRT engine: {@link dev.higgstrt.trt.codec.CodecNetwork}
 * defines it with the network API (gathers of the folded quantizer tables, convolutions,
 * transposed convolutions as convolutions of their phases, Snake as elementwise layers) and {@link
 * dev.higgstrt.trt.codec.CodecEngine} builds, saves, loads and runs it as an {@link
 * dev.higgstrt.audio.AudioDecoder}, checked against the CPU reference. Uses {@code trt.engine}'s
 * plan builder, {@code trt.cuda} and core's {@code audio}.
 */
package dev.higgstrt.trt.codec;
