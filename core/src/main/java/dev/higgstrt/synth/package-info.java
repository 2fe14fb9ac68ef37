/**
 * Synthetic checkpoints with deterministic random weights, of the preset geometries (tiny, small,
 * full) or any config, for tests, demos and benchmarks; written in bounded memory.
 */
package dev.higgstrt.synth;
