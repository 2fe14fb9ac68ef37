/**
 * The seam between a decoder and what runs it: {@link dev.higgstrt.decoding.DecoderSession} (a
 * prefill, then one position a call, returning audio logits), its input {@link
 * dev.higgstrt.decoding.TokenInput} and output {@link dev.higgstrt.decoding.Logits}. The CPU
 * reference and the TensorRT engines implement it, so that generation and serving are written once
 * for both. Uses {@code model} and {@code tensor}.
 */
package dev.higgstrt.decoding;
