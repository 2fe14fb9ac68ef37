/**
 * The Higgs Audio v2 weight layout: every source tensor ({@link
 * dev.higgstrt.layout.SourceTensor}), every TensorRT-LLM target weight and how it is fused and
 * split per rank ({@link dev.higgstrt.layout.HiggsAudioLayout}), the tp x pp {@link
 * dev.higgstrt.layout.Mapping}, and the generated docs/layout.md. Declarative: it maps names and
 * shapes, and reads nothing.
 */
package dev.higgstrt.layout;
