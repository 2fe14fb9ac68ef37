/**
 * What the model is, independent of any file: the typed {@link
 * dev.higgstrt.model.HiggsAudioConfig} of the three config.json flavours (transformers, Boson,
 * converted), its RoPE scaling, and the linear layers of a decoder layer ({@link
 * dev.higgstrt.model.LinearSite}) with the hook on their activations. Uses {@code tensor} and
 * {@code io}.
 */
package dev.higgstrt.model;
