package dev.higgstrt.weights;

/**
 * Which part of a weight a tensor-parallel rank holds: part {@code rank} of {@code size} equal
 * parts along {@code dim}. {@code Shard.rows(1, 2)} is rank 1 of 2 along dim 0 (a column-parallel
 * linear layer's output rows); {@code Shard.columns(1, 2)} along dim 1 (a row-parallel layer).
 *
 * @param dim  the axis split (negative counts from the last)
 * @param rank the part held, in {@code [0, size)}
 * @param size the number of ranks
 */
public record Shard(int dim, int rank, int size) {
    /** Canonical constructor: a positive size and a rank below it. */
    public Shard {
        if (size <= 0) {
            throw new IllegalArgumentException("shard size " + size + " must be positive");
        }
        if (rank < 0 || rank >= size) {
            throw new IllegalArgumentException("rank " + rank + " out of range [0," + size + ")");
        }
    }

    /**
     * A rank's rows.
     *
     * @param rank the rank
     * @param size the number of ranks
     * @return part {@code rank} of {@code size} along dim 0
     */
    public static Shard rows(int rank, int size) {
        return new Shard(0, rank, size);
    }

    /**
     * A rank's columns.
     *
     * @param rank the rank
     * @param size the number of ranks
     * @return part {@code rank} of {@code size} along dim 1
     */
    public static Shard columns(int rank, int size) {
        return new Shard(1, rank, size);
    }

    @Override
    public String toString() {
        return "rank " + rank + " of " + size + " along dim " + dim;
    }
}
