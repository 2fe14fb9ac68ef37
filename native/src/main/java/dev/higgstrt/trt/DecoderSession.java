package dev.higgstrt.trt;

import dev.higgstrt.reference.Logits;
import dev.higgstrt.reference.TokenInput;

/**
 * One sequence being decoded on the GPU: a prefill, then one position per step, each returning
 * its positions' audio logits. {@link EngineSession} runs one engine; {@link ParallelSession} runs
 * the engines of every rank of a tp x pp layout. Not thread-safe; {@link #close()} frees
 * everything once.
 */
public interface DecoderSession extends AutoCloseable {
    /**
     * Appends {@code chunk} (the prefill, then one position a call) and returns its positions' audio logits (FP32).
     *
     * @param chunk the chunk
     * @return the result: appends {@code chunk} (the prefill, then one position a call) and returns its positions' audio logits (FP32)
     */
    Logits forward(TokenInput chunk);

    /**
     * Positions held in the KV cache.
     *
     * @return positions held in the KV cache
     */
    int length();

    /** Frees the session's GPU memory. Idempotent. */
    @Override
    void close();
}
