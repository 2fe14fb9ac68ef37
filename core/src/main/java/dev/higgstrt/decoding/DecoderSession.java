package dev.higgstrt.decoding;

/**
 * One sequence being decoded: a prefill, then one position per step, each returning its
 * positions' audio logits. The CPU reference ({@code ReferenceModel.Session}), one TensorRT engine
 * ({@code EngineSession}) and the engines of every rank of a tp x pp layout ({@code ParallelSession})
 * are each one, so that what is written above this interface (generation, serving) runs on the CPU
 * and on the GPU alike. Not thread-safe; {@link #close()} frees everything once.
 */
public interface DecoderSession extends AutoCloseable {
    /**
     * Appends {@code chunk} (the prefill, then one position a call) and returns its positions'
     * audio logits (FP32).
     *
     * @param chunk the positions to append
     * @return their audio logits
     * @throws IllegalArgumentException when the chunk does not fit the model or the session's room
     */
    Logits forward(TokenInput chunk);

    /**
     * Positions held in the KV cache.
     *
     * @return the sequence's length so far
     */
    int length();

    /** Frees the session's memory. Idempotent. */
    @Override
    void close();
}
