/**
 * Many generations on one decoder: the {@link dev.higgstrt.runtime.BatchRuntime} admits requests
 * while the {@link dev.higgstrt.runtime.KvBlockPool} has room for them (queueing or refusing
 * clearly when not), runs chunked prefill and decode steps of all running sequences together
 * through a {@link dev.higgstrt.runtime.BatchDecoder}, samples each sequence's frame, frees a
 * finished or cancelled sequence's blocks at once, and reports {@link
 * dev.higgstrt.runtime.RuntimeMetrics}. {@link dev.higgstrt.runtime.SessionBatchDecoder} runs a
 * batch as one {@code DecoderSession} per sequence (the CPU reference's, or an engine's). Uses
 * {@code generation} and {@code decoding}.
 */
package dev.higgstrt.runtime;
