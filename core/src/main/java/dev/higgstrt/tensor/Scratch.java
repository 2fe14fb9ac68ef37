package dev.higgstrt.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;

/**
 * Per-thread pool of scratch buffers for derived reads: a derived view reads a block of its
 * parent into scratch memory many times over, and allocating (and zero-filling) a fresh
 * buffer each time would cost as much as the copy itself. Buffers come from automatic arenas
 * (any thread may read them, so conversions can run in parallel) and are freed by the GC.
 */
final class Scratch implements AutoCloseable {
    private static final int KEPT_PER_THREAD = 4;
    private static final ThreadLocal<ArrayDeque<MemorySegment>> FREE = ThreadLocal.withInitial(ArrayDeque::new);

    private final MemorySegment buffer;
    private final MemorySegment segment;

    private Scratch(MemorySegment buffer, long bytes) {
        this.buffer = buffer;
        this.segment = buffer.asSlice(0, bytes);
    }

    /** A buffer of at least {@code bytes} bytes (contents undefined), for this thread. */
    static Scratch acquire(long bytes) {
        ArrayDeque<MemorySegment> free = FREE.get();
        for (var it = free.iterator(); it.hasNext(); ) {
            MemorySegment m = it.next();
            if (m.byteSize() >= bytes) {
                it.remove();
                return new Scratch(m, bytes);
            }
        }
        return new Scratch(Arena.ofAuto().allocate(Math.max(bytes, 64), 64), bytes);
    }

    /** The buffer, exactly as large as requested. */
    MemorySegment segment() {
        return segment;
    }

    /** Returns the buffer to this thread's pool. */
    @Override
    public void close() {
        ArrayDeque<MemorySegment> free = FREE.get();
        if (free.size() >= KEPT_PER_THREAD) {
            free.pollFirst();
        }
        free.addLast(buffer);
    }
}
