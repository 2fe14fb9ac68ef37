/**
 * Text to audio codes: the chat-format {@link dev.higgstrt.generation.Prompt} (with voice
 * cloning from reference codes), the {@link dev.higgstrt.generation.DelayPattern}, the delay masks
 * and sampling of each frame ({@link dev.higgstrt.generation.FrameSampler}, {@link
 * dev.higgstrt.generation.Sampling}) and the {@link dev.higgstrt.generation.Generator} that runs
 * them over any {@link dev.higgstrt.decoding.DecoderSession}, as transformers' Higgs Audio v2
 * generation does. Uses {@code decoding}, {@code model} and {@code text}.
 */
package dev.higgstrt.generation;
