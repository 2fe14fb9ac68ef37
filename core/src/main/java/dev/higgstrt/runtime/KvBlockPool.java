package dev.higgstrt.runtime;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Fixed-size blocks of KV-cache positions, handed out and taken back by number: the accounting
 * of a paged KV cache. Not thread-safe: the runtime's loop owns it.
 */
public final class KvBlockPool {
    private final int blockSize;
    private final int total;
    private final Deque<Integer> free = new ArrayDeque<>();

    /**
     * A pool of {@code total} blocks of {@code blockSize} positions.
     *
     * @param blockSize positions a block holds
     * @param total     blocks in all
     */
    public KvBlockPool(int blockSize, int total) {
        if (blockSize <= 0 || total <= 0) {
            throw new IllegalArgumentException("block size and count must be positive, got " + blockSize + " and " + total);
        }
        this.blockSize = blockSize;
        this.total = total;
        for (int i = 0; i < total; i++) {
            free.add(i);
        }
    }

    /**
     * Blocks that {@code positions} positions need.
     *
     * @param positions a sequence length
     * @return {@code ceil(positions / blockSize)}
     */
    public int blocksFor(int positions) {
        return Math.ceilDiv(positions, blockSize);
    }

    /**
     * Takes {@code n} free blocks.
     *
     * @param n blocks wanted
     * @return their numbers
     * @throws IllegalStateException when fewer are free
     */
    public int[] allocate(int n) {
        if (n > free.size()) {
            throw new IllegalStateException(n + " KV blocks wanted, " + free.size() + " free");
        }
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = free.poll();
        }
        return out;
    }

    /**
     * Gives blocks back.
     *
     * @param blocks numbers from {@link #allocate}
     */
    public void release(int[] blocks) {
        for (int b : blocks) {
            free.push(b);
        }
        if (free.size() > total) {
            throw new IllegalStateException("more KV blocks released than allocated");
        }
    }

    /**
     * Free blocks.
     *
     * @return the count
     */
    public int free() {
        return free.size();
    }

    /**
     * Blocks in use.
     *
     * @return the count
     */
    public int used() {
        return total - free.size();
    }

    /**
     * Blocks in all.
     *
     * @return the count
     */
    public int total() {
        return total;
    }

    /**
     * Positions a block holds.
     *
     * @return the block size
     */
    public int blockSize() {
        return blockSize;
    }
}
