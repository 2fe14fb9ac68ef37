/**
 * Codes to sound: the Higgs Audio v2 audio tokenizer's decoder (a {@link
 * dev.higgstrt.audio.CodecConfig}, its {@link dev.higgstrt.audio.CodecWeights} and the CPU
 * reference {@link dev.higgstrt.audio.CodecDecoder}, the numerics oracle of the codec as the
 * reference forward is of the decoder), the {@link dev.higgstrt.audio.StreamingCodec} that turns
 * frames into audio chunk by chunk while they are generated, and 24 kHz PCM16 {@link
 * dev.higgstrt.audio.WavFile}s. Uses {@code safetensors}, {@code model} and {@code generation}.
 */
package dev.higgstrt.audio;
