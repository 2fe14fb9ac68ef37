package dev.higgstrt.trt.engine;

import dev.higgstrt.layout.Mapping;
import dev.higgstrt.model.HiggsAudioConfig;

/**
 * What one rank's engine computes: the layers of its pipeline stage, its share of the attention
 * heads, and whether its partial sums go through an all-reduce.
 *
 * @param mapping     the rank in its tp x pp layout
 * @param layers      the global indices of its layers
 * @param heads       query heads of this rank
 * @param kvHeads     kv heads of this rank (one replicated head where tp exceeds the kv heads)
 * @param reduceWorld the all-reduce's group size after dense and the FFN; 0 for none
 */
public record RankLayout(Mapping mapping, int[] layers, int heads, int kvHeads, int reduceWorld) {
    /** The whole model in one engine. */
    static RankLayout whole(HiggsAudioConfig c) {
        return of(c, new Mapping(1, 1, 0), false);
    }

    /**
     * Rank {@code m}; {@code forceReduce} adds the all-reduce layers at tp 1 too (a one-rank sum,
     * to run the tensor-parallel network on one GPU).
     */
    static RankLayout of(HiggsAudioConfig c, Mapping m, boolean forceReduce) {
        int tp = m.tpSize();
        return new RankLayout(m, m.layers(c.numLayers()), c.numHeads() / tp, Math.max(1, c.numKvHeads() / tp),
                tp > 1 || forceReduce ? tp : 0);
    }

    /** Whether this rank embeds the tokens (first pipeline stage). */
    boolean first() {
        return mapping.isFirstPpRank();
    }

    /** Whether this rank computes the logits (last pipeline stage). */
    boolean last() {
        return mapping.isLastPpRank();
    }

    /** Query heads per kv head. */
    int group() {
        return heads / kvHeads;
    }

    /**
     * Width of this rank's logits: its rows of the audio head, padding included.
     *
     * @param c the model config
     * @return width of this rank's logits: its rows of the audio head, padding included
     */
    public int logitsWidth(HiggsAudioConfig c) {
        int tp = mapping.tpSize();
        return (c.audioVocabSize() + tp - 1) / tp;
    }
}
