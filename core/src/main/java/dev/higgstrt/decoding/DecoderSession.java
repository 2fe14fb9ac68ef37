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
     * Appends {@code chunk} and returns the audio logits of its last position only: what a
     * generation step needs. Engines hand back that row alone instead of every position's.
     *
     * @param chunk the positions to append
     * @return [num_codebooks * codebook_size] audio logits of the chunk's last position
     */
    default float[] forwardLast(TokenInput chunk) {
        Logits l = forward(chunk);
        return java.util.Arrays.copyOfRange(l.audio(), (l.tokens() - 1) * l.audioWidth(), l.tokens() * l.audioWidth());
    }

    /**
     * The most positions the session can hold (prompt and generated positions together).
     *
     * @return the session's room
     */
    int capacity();

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
