/**
 * The CPU reference forward in float32, the numerics oracle: {@link
 * dev.higgstrt.reference.ReferenceModel} loads a checkpoint of any layout and computes from its
 * mapped weights; its {@link dev.higgstrt.reference.ReferenceModel.Session} is a {@link
 * dev.higgstrt.decoding.DecoderSession}.
 */
package dev.higgstrt.reference;
