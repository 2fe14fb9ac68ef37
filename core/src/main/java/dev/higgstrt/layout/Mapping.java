package dev.higgstrt.layout;

import java.util.List;
import java.util.stream.IntStream;

/**
 * One rank of a tensor- and pipeline-parallel layout, with TensorRT-LLM's semantics:
 * {@code rank = ppRank * tpSize + tpRank}; pipeline rank {@code p} holds the layers of
 * {@code torch.tensor_split(arange(L), pp)[p]}, so the first {@code L % pp} ranks get one more.
 *
 * @param tpSize tensor-parallel size
 * @param ppSize pipeline-parallel size
 * @param rank   this rank, in {@code [0, tpSize * ppSize)}
 */
public record Mapping(int tpSize, int ppSize, int rank) {
    /** Canonical constructor: validates. */
    public Mapping {
        if (tpSize <= 0 || ppSize <= 0) {
            throw new IllegalArgumentException("tp and pp sizes must be positive, got tp " + tpSize + ", pp " + ppSize);
        }
        if (rank < 0 || rank >= tpSize * ppSize) {
            throw new IllegalArgumentException("rank " + rank + " outside [0," + tpSize * ppSize + ")");
        }
    }

    /**
     * Every rank of a tp x pp layout, in rank order.
     *
     * @param tpSize the tp size
     * @param ppSize the pp size
     * @return every rank of a tp x pp layout, in rank order
     */
    public static List<Mapping> all(int tpSize, int ppSize) {
        return IntStream.range(0, tpSize * ppSize).mapToObj(r -> new Mapping(tpSize, ppSize, r)).toList();
    }

    /**
     * Number of ranks.
     *
     * @return number of ranks
     */
    public int worldSize() {
        return tpSize * ppSize;
    }

    /**
     * Tensor-parallel rank.
     *
     * @return tensor-parallel rank
     */
    public int tpRank() {
        return rank % tpSize;
    }

    /**
     * Pipeline-parallel rank.
     *
     * @return pipeline-parallel rank
     */
    public int ppRank() {
        return rank / tpSize;
    }

    /**
     * Whether this rank holds the first pipeline stage (embeddings).
     *
     * @return whether this rank holds the first pipeline stage (embeddings)
     */
    public boolean isFirstPpRank() {
        return ppRank() == 0;
    }

    /**
     * Whether this rank holds the last pipeline stage (final norm, heads).
     *
     * @return whether this rank holds the last pipeline stage (final norm, heads)
     */
    public boolean isLastPpRank() {
        return ppRank() == ppSize - 1;
    }

    /**
     * The global indices of the layers this rank's pipeline stage holds, in order.
     *
     * @param numLayers the number of layers
     * @return the global indices of the layers this rank's pipeline stage holds, in order
     */
    public int[] layers(int numLayers) {
        int base = numLayers / ppSize;
        int extra = numLayers % ppSize;
        int p = ppRank();
        int start = p * base + Math.min(p, extra);
        int count = base + (p < extra ? 1 : 0);
        return IntStream.range(start, start + count).toArray();
    }

    /**
     * {@code rank{N}.safetensors}.
     *
     * @return {@code rank{N}.safetensors}
     */
    public String fileName() {
        return "rank" + rank + ".safetensors";
    }
}
