package dev.higgstrt.safetensors;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.higgstrt.io.AtomicOutput;
import dev.higgstrt.io.Json;
import dev.higgstrt.io.WriteBehind;
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
 * Writes safetensors files, streaming: tensors are written one after another through a few
 * fixed-size blocks, so only those blocks (and one row, where a row is longer than the space
 * left in a block) are ever held in memory. Tensors are laid out in name order and the header
 * is padded with spaces to a multiple of 8 bytes, so identical input gives a byte-identical
 * file. The file is written under a temporary name in the target folder and
 * renamed only when complete (see {@link AtomicOutput}).
 *
 * <p>The static methods are thread-safe; writing several files in parallel is fine.
 */
public final class SafetensorsWriter {
    /** Bytes per write: a multiple of any direct I/O alignment ({@link AtomicOutput}). */
    static final long BLOCK_BYTES = 16L << 20;
    /** Tests lower the block size to cross block ends often; a multiple of 4096. */
    static long testBlockBytes;
    /** Blocks read ahead of the writer. */
    static final int BLOCKS_IN_FLIGHT = 3;

    private SafetensorsWriter() {
    }

    /**
     * Writes every weight of {@code weights} to {@code file}. Returns the file size.
     *
     * @param file     the file
     * @param weights  the weights
     * @param metadata the header metadata
     * @return the size of the file written
     * @throws IOException when a file cannot be read or written
     */
    public static long write(Path file, WeightMap weights, Map<String, String> metadata) throws IOException {
        return write(file, toSources(weights), metadata, bytes -> { });
    }

    /**
     * As {@link #write(Path, WeightMap, Map)}, reporting bytes written to {@code progress}.
     *
     * @param file     the file
     * @param weights  the weights
     * @param metadata the header metadata
     * @param progress receives bytes as they are written
     * @return the size of the file written
     * @throws IOException when a file cannot be read or written
     */
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
     * @param file     the file
     * @param tensors  the tensors by name
     * @param metadata the header metadata
     * @param progress receives bytes as they are written
     * @throws IOException when a file cannot be read or written
     */
    public static long write(Path file, Map<String, ? extends TensorSource> tensors, Map<String, String> metadata,
                             LongConsumer progress) throws IOException {
        SortedMap<String, TensorSource> sorted = new TreeMap<>(tensors);
        byte[] header = header(sorted, metadata);
        try (AtomicOutput out = AtomicOutput.createDirect(file);
             BlockStream blocks = new BlockStream(file, out, 8 + header.length, progress)) {
            byte[] length = new byte[8];
            ByteBuffer.wrap(length).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
            blocks.put(MemorySegment.ofArray(length));
            blocks.put(MemorySegment.ofArray(header));
            for (Map.Entry<String, TensorSource> e : sorted.entrySet()) {
                writeTensor(file, e.getKey(), e.getValue(), blocks);
            }
            long size = blocks.finish();
            out.commit();
            return size;
        }
    }

    /**
     * Reads the rows of {@code t} straight into the free part of the current block, as many as
     * fit; a row that would cross the end of the block goes through a row buffer.
     */
    private static void writeTensor(Path file, String name, TensorSource t, BlockStream blocks) throws IOException {
        long rows = t.byteSize() == 0 ? 0 : t.rowCount();
        long rowBytes = t.rowBytes();
        for (long r = 0; r < rows; ) {
            MemorySegment room = blocks.room();
            long fit = Math.min(rows - r, room.byteSize() / rowBytes);
            if (fit > 0) {
                readRows(file, name, t, r, fit, room.asSlice(0, fit * rowBytes));
                blocks.advance(fit * rowBytes);
                r += fit;
            } else {
                MemorySegment row = blocks.rowBuffer(rowBytes);
                readRows(file, name, t, r, 1, row);
                blocks.put(row);
                r++;
            }
        }
    }

    private static void readRows(Path file, String name, TensorSource t, long first, long count, MemorySegment dst)
            throws IOException {
        try {
            t.readRows(first, count, dst);
        } catch (UncheckedIOException ex) {
            throw new IOException("reading '" + name + "' for " + file.getFileName() + ": "
                    + ex.getCause().getMessage(), ex.getCause());
        }
    }

    /**
     * The file's bytes gathered into fixed-size blocks, which a thread of its own writes while
     * the caller fills the next one: reading and converting overlap with writing. Every block but
     * the last is full, so with direct I/O each write is aligned; the last is padded to the
     * alignment and the padding cut off at the end. Through the page cache, the written data is
     * pushed on to the device as it goes ({@link WriteBehind}). Tensors are read on the caller's
     * thread only, so sources confined to it work.
     */
    private static final class BlockStream implements AutoCloseable {
        private static final Object END = new Object();

        /**
         * A block to write: {@code writeBytes} from its start, of which {@code fileBytes} belong
         * to the file (the rest is padding); it starts at {@code position} in the file.
         */
        private record Block(MemorySegment whole, long position, long writeBytes, long fileBytes) {
        }

        private final Arena arena = Arena.ofShared();
        private final BlockingQueue<Object> free = new ArrayBlockingQueue<>(BLOCKS_IN_FLIGHT + 1);
        private final BlockingQueue<Object> full = new ArrayBlockingQueue<>(BLOCKS_IN_FLIGHT + 1);
        private final FileChannel channel;
        private final int alignment;
        private final long blockBytes = blockBytes();
        private final WriteBehind writeBehind;
        private final Thread thread;
        private volatile Throwable failure;
        private MemorySegment current;
        private long fill;
        private long total;
        private MemorySegment rowBuffer;

        /** {@code progress} hears of tensor bytes written, those from {@code dataStart} on. */
        BlockStream(Path file, AtomicOutput out, long dataStart, LongConsumer progress) {
            channel = out.channel();
            alignment = out.alignment();
            if (blockBytes % alignment != 0) {
                throw new IllegalStateException("block size " + blockBytes + " is not a multiple of " + alignment);
            }
            String name = file.getFileName().toString();
            writeBehind = alignment == 1 ? new WriteBehind(channel, name, WriteBehind.DEFAULT_STEP) : null;
            for (int i = 0; i < BLOCKS_IN_FLIGHT; i++) {
                free.add(arena.allocate(blockBytes, Math.max(64, alignment)));
            }
            thread = Thread.ofPlatform().daemon().name("safetensors-write-" + name).unstarted(() -> {
                try {
                    for (Object o = full.take(); o != END; o = full.take()) {
                        Block b = (Block) o;
                        writeFully(channel, b.whole().asSlice(0, b.writeBytes()).asByteBuffer());
                        if (writeBehind != null) {
                            writeBehind.wrote(b.writeBytes());
                        }
                        long end = b.position() + b.fileBytes();
                        progress.accept(Math.max(0, end - Math.max(b.position(), dataStart)));
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

        /** The free part of the current block (never empty); rethrows a failure of the writing thread. */
        MemorySegment room() throws IOException {
            if (current == null) {
                Object o = take(free);
                if (o == END) {
                    rethrow();
                }
                current = (MemorySegment) o;
                fill = 0;
            }
            return current.asSlice(fill);
        }

        /** Marks {@code bytes} of {@link #room()} as filled; hands a full block to the writer. */
        void advance(long bytes) throws IOException {
            fill += bytes;
            total += bytes;
            if (fill == blockBytes) {
                send(new Block(current, total - blockBytes, blockBytes, blockBytes));
                current = null;
            }
        }

        /** Appends {@code src}, across blocks where needed. */
        void put(MemorySegment src) throws IOException {
            for (long done = 0; done < src.byteSize(); ) {
                MemorySegment room = room();
                long n = Math.min(room.byteSize(), src.byteSize() - done);
                MemorySegment.copy(src, done, room, 0, n);
                advance(n);
                done += n;
            }
        }

        /** A buffer for one row of {@code bytes}, reused while large enough. */
        MemorySegment rowBuffer(long bytes) {
            if (rowBuffer == null || rowBuffer.byteSize() < bytes) {
                rowBuffer = arena.allocate(bytes, 64);
            }
            return rowBuffer.asSlice(0, bytes);
        }

        /**
         * Writes the last block and waits until every block is written; rethrows a failure of
         * the writing thread.
         *
         * @return the bytes written
         */
        long finish() throws IOException {
            if (current != null && fill > 0) {
                long padded = (fill + alignment - 1) / alignment * alignment;
                current.asSlice(fill, padded - fill).fill((byte) 0);
                send(new Block(current, total - fill, padded, fill));
                current = null;
            }
            send(END);
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while writing");
            }
            if (failure != null) {
                rethrow();
            }
            if (writeBehind != null) {
                writeBehind.close();
            }
            if (channel.size() > total) {
                channel.truncate(total);
            }
            return total;
        }

        private void send(Object o) throws IOException {
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
        public void close() throws IOException {
            thread.interrupt();
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            try {
                if (writeBehind != null) {
                    writeBehind.close();
                }
            } finally {
                arena.close();
            }
        }
    }

    private static long blockBytes() {
        return testBlockBytes > 0 ? testBlockBytes : BLOCK_BYTES;
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }

    /**
     * The header for {@code tensors} (sorted by name, laid out in that order), padded with
     * spaces to a multiple of 8 bytes.
     *
     * @param tensors  the tensors by name
     * @param metadata the header metadata
     * @return the header for {@code tensors} (sorted by name, laid out in that order), padded with spaces to a multiple of 8 bytes
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

    /**
     * The size of the file {@link #write} would produce, without writing it.
     *
     * @param tensors  the tensors by name
     * @param metadata the header metadata
     * @return the size of the file {@link #write} would produce, without writing it
     */
    public static long fileSize(SortedMap<String, ? extends TensorSource> tensors, Map<String, String> metadata) {
        long data = 0;
        for (TensorSource t : tensors.values()) {
            data += t.byteSize();
        }
        return 8 + header(tensors, metadata).length + data;
    }

}
