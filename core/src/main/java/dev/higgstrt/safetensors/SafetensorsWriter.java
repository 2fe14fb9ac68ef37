package dev.higgstrt.safetensors;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.higgstrt.io.AtomicOutput;
import dev.higgstrt.io.Json;
import dev.higgstrt.tensor.TensorSource;
import dev.higgstrt.weights.Weight;
import dev.higgstrt.weights.WeightMap;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.function.LongConsumer;

/**
 * Writes safetensors files, streaming: tensors are written one after another, a block of rows
 * at a time, so only one block is ever held in memory. Tensors are laid out in name order and
 * the header is padded with spaces to a multiple of 8 bytes, so identical input gives a
 * byte-identical file. The file is written under a temporary name in the target folder and
 * renamed only when complete (see {@link AtomicOutput}).
 *
 * <p>The static methods are thread-safe; writing several files in parallel is fine.
 */
public final class SafetensorsWriter {
    /** Bytes moved per read/write step. */
    static final long BLOCK_BYTES = 16L << 20;
    /** Blocks read ahead of the writer. */
    static final int BLOCKS_IN_FLIGHT = 3;

    private SafetensorsWriter() {
    }

    /** Writes every weight of {@code weights} to {@code file}. Returns the file size. */
    public static long write(Path file, WeightMap weights, Map<String, String> metadata) throws IOException {
        return write(file, toSources(weights), metadata, bytes -> { });
    }

    /** As {@link #write(Path, WeightMap, Map)}, reporting bytes written to {@code progress}. */
    public static long write(Path file, WeightMap weights, Map<String, String> metadata, LongConsumer progress)
            throws IOException {
        return write(file, toSources(weights), metadata, progress);
    }

    private static SortedMap<String, TensorSource> toSources(WeightMap weights) {
        SortedMap<String, TensorSource> m = new TreeMap<>();
        for (Weight w : weights) {
            m.put(w.name(), w.tensor());
        }
        return m;
    }

    /**
     * Writes {@code tensors} (in name order) with {@code metadata} as {@code __metadata__}.
     *
     * @return the size of the file written
     */
    public static long write(Path file, Map<String, ? extends TensorSource> tensors, Map<String, String> metadata,
                             LongConsumer progress) throws IOException {
        SortedMap<String, TensorSource> sorted = new TreeMap<>(tensors);
        byte[] header = header(sorted, metadata);
        try (AtomicOutput out = AtomicOutput.create(file)) {
            FileChannel ch = out.channel();
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
            writeFully(ch, len);
            writeFully(ch, ByteBuffer.wrap(header));
            long total = 8 + header.length;
            long maxRow = sorted.values().stream().mapToLong(TensorSource::rowBytes).max().orElse(0);
            long blockBytes = Math.max(BLOCK_BYTES, maxRow);
            try (BlockWriter writer = new BlockWriter(file, ch, progress, blockBytes)) {
                for (Map.Entry<String, TensorSource> e : sorted.entrySet()) {
                    TensorSource t = e.getValue();
                    long rows = t.byteSize() == 0 ? 0 : t.rowCount();
                    long perBlock = Math.max(1, blockBytes / t.rowBytes());
                    for (long r = 0; r < rows; r += perBlock) {
                        long n = Math.min(perBlock, rows - r);
                        MemorySegment block = writer.freeBlock();
                        MemorySegment chunk = block.asSlice(0, n * t.rowBytes());
                        try {
                            t.readRows(r, n, chunk);
                        } catch (UncheckedIOException ex) {
                            throw new IOException("reading '" + e.getKey() + "' for " + file.getFileName() + ": "
                                    + ex.getCause().getMessage(), ex.getCause());
                        }
                        writer.write(block, chunk);
                        total += chunk.byteSize();
                    }
                }
                writer.finish();
            }
            out.commit();
            return total;
        }
    }

    /**
     * Writes blocks to the file on a thread of its own, so that reading (and converting) the
     * next block on the caller's thread overlaps with writing the current one. The tensors are
     * read on the caller's thread only, so sources confined to it work.
     */
    private static final class BlockWriter implements AutoCloseable {
        private static final Object END = new Object();

        /** A block buffer and the part of it that holds data. */
        private record Block(MemorySegment whole, MemorySegment data) {
        }

        private final Arena arena = Arena.ofShared();
        private final BlockingQueue<Object> free = new ArrayBlockingQueue<>(BLOCKS_IN_FLIGHT + 1);
        private final BlockingQueue<Object> full = new ArrayBlockingQueue<>(BLOCKS_IN_FLIGHT + 1);
        private final Thread thread;
        private volatile Throwable failure;

        BlockWriter(Path file, FileChannel ch, LongConsumer progress, long blockBytes) {
            for (int i = 0; i < BLOCKS_IN_FLIGHT; i++) {
                free.add(arena.allocate(blockBytes, 64));
            }
            thread = Thread.ofPlatform().daemon().name("safetensors-write-" + file.getFileName()).unstarted(() -> {
                try {
                    for (Object o = full.take(); o != END; o = full.take()) {
                        Block b = (Block) o;
                        writeFully(ch, b.data().asByteBuffer());
                        progress.accept(b.data().byteSize());
                        free.put(b.whole());
                    }
                } catch (InterruptedException ex) {
                    Thread.currentThread().interrupt();
                } catch (IOException | RuntimeException | Error ex) {
                    failure = ex;
                    free.offer(END);
                }
            });
            thread.start();
        }

        /** A block to fill; rethrows a failure of the writing thread. */
        MemorySegment freeBlock() throws IOException {
            Object o = take(free);
            if (o == END) {
                rethrow();
            }
            return (MemorySegment) o;
        }

        void write(MemorySegment whole, MemorySegment data) throws IOException {
            put(new Block(whole, data));
        }

        /** Waits until every block is written; rethrows a failure of the writing thread. */
        void finish() throws IOException {
            put(END);
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while writing");
            }
            if (failure != null) {
                rethrow();
            }
        }

        private void put(Object o) throws IOException {
            try {
                full.put(o);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while writing");
            }
        }

        private static Object take(BlockingQueue<Object> q) throws IOException {
            try {
                return q.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while writing");
            }
        }

        private void rethrow() throws IOException {
            switch (failure) {
                case IOException e -> throw new IOException(e.getMessage(), e);
                case RuntimeException e -> throw e;
                case Error e -> throw e;
                default -> throw new IOException("writing failed", failure);
            }
        }

        @Override
        public void close() {
            thread.interrupt();
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            arena.close();
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }

    /**
     * The header for {@code tensors} (sorted by name, laid out in that order), padded with
     * spaces to a multiple of 8 bytes.
     */
    public static byte[] header(SortedMap<String, ? extends TensorSource> tensors, Map<String, String> metadata) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (JsonGenerator g = Json.STRICT.getFactory().createGenerator(bytes, JsonEncoding.UTF8)) {
            g.writeStartObject();
            if (metadata != null && !metadata.isEmpty()) {
                g.writeObjectFieldStart("__metadata__");
                for (Map.Entry<String, String> e : new TreeMap<>(metadata).entrySet()) {
                    g.writeStringField(e.getKey(), e.getValue());
                }
                g.writeEndObject();
            }
            long offset = 0;
            for (Map.Entry<String, ? extends TensorSource> e : tensors.entrySet()) {
                if (e.getKey().equals("__metadata__")) {
                    throw new IllegalArgumentException("'__metadata__' is reserved and cannot name a tensor");
                }
                TensorSource t = e.getValue();
                g.writeObjectFieldStart(e.getKey());
                g.writeStringField("dtype", t.dtype().safetensorsName());
                g.writeArrayFieldStart("shape");
                for (long d : t.shape().toArray()) {
                    g.writeNumber(d);
                }
                g.writeEndArray();
                g.writeArrayFieldStart("data_offsets");
                g.writeNumber(offset);
                offset += t.byteSize();
                g.writeNumber(offset);
                g.writeEndArray();
                g.writeEndObject();
            }
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        byte[] raw = bytes.toByteArray();
        int padded = (raw.length + 7) & ~7;
        byte[] out = Arrays.copyOf(raw, padded);
        Arrays.fill(out, raw.length, padded, (byte) ' ');
        return out;
    }

    /** The size of the file {@link #write} would produce, without writing it. */
    public static long fileSize(SortedMap<String, ? extends TensorSource> tensors, Map<String, String> metadata) {
        long data = 0;
        for (TensorSource t : tensors.values()) {
            data += t.byteSize();
        }
        return 8 + header(tensors, metadata).length + data;
    }

}
