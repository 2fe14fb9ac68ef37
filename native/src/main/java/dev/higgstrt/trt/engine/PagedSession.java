package dev.higgstrt.trt.engine;

import dev.higgstrt.decoding.DecoderSession;
import dev.higgstrt.decoding.Logits;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.runtime.BatchDecoder;

import java.util.List;
import java.util.Optional;

/**
 * One sequence on a {@link PagedEngine}, as a {@link DecoderSession}: a decoder whose cache holds
 * the blocks of one sequence of the engine's longest length, so that what is written against
 * {@code DecoderSession} (the generator, {@code tts}) runs on the packed engine unchanged. A chunk
 * of any length may follow the cached positions. The engine returns the last position's logits
 * only: {@link #forward} computes the others one position at a time. Not thread-safe.
 */
public final class PagedSession implements DecoderSession {
    private final PagedEngine engine;
    private final PagedDecoder decoder;
    private final int[] blocks;
    private int length;

    PagedSession(PagedEngine engine) {
        this.engine = engine;
        this.blocks = new int[engine.shape().blocksPerSequence()];
        java.util.Arrays.setAll(blocks, i -> i);
        this.decoder = engine.newDecoder(blocks.length);
    }

    @Override
    public float[] forwardLast(TokenInput chunk) {
        if (chunk.length() > engine.shape().maxTokens()) {
            float[] last = null;
            for (int from = 0; from < chunk.length(); from += engine.shape().maxTokens()) {
                last = forwardLast(chunk.slice(engine.config(), from, Math.min(chunk.length(), from + engine.shape().maxTokens())));
            }
            return last;
        }
        try {
            float[] row = decoder.step(List.of(new BatchDecoder.Work(0, chunk, length, blocks))).getFirst();
            length += chunk.length();
            return row;
        } catch (BatchDecoder.StepFailure e) {
            throw e.failures().get(0);
        }
    }

    @Override
    public Logits forward(TokenInput chunk) {
        int width = engine.config().audioVocabSize();
        float[] all = new float[chunk.length() * width];
        for (int i = 0; i < chunk.length(); i++) {
            System.arraycopy(forwardLast(chunk.slice(engine.config(), i, i + 1)), 0, all, i * width, width);
        }
        return new Logits(chunk.length(), all, width, Optional.empty(), engine.config().vocabSize(),
                EngineSession.audioMask(engine.config(), chunk));
    }

    @Override
    public int capacity() {
        return engine.shape().maxSequence();
    }

    @Override
    public int length() {
        return length;
    }

    @Override
    public void close() {
        decoder.close();
    }
}
