package dev.higgstrt.safetensors;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.higgstrt.io.Json;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.Tensor;
import dev.higgstrt.tensor.TensorSource;
import dev.higgstrt.weights.Provenance;
import dev.higgstrt.weights.WeightMap;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.TreeMap;

/**
 * A validated, memory-mapped safetensors file. Opening reads and checks the whole header
 * before any tensor is handed out: header length within the file and at most
 * {@value #MAX_HEADER_BYTES} bytes, strict JSON without duplicate names, known dtypes,
 * shapes whose byte count matches their {@code data_offsets}, offsets in range, not
 * overlapping and covering the data region exactly. Every violation is a
 * {@link SafetensorsFormatException} naming the file and the tensor.
 *
 * <p>{@link #tensor(String)} returns zero-copy views of the mapping; {@link #source(String)}
 * returns a streaming source that reads with positional reads and keeps no pages resident,
 * which is what bulk conversion uses. Both become unusable once the reader is closed.
 *
 * <p>A reader is safe for concurrent use by several threads.
 */
public final class SafetensorsReader implements AutoCloseable {
    /** Largest header accepted (100 MB), as in the reference implementation. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    private final Path file;
    private final FileChannel channel;
    private final Arena arena;
    private final long dataStart;
    private final Map<String, TensorInfo> infos;
    private final Map<String, String> metadata;
    private volatile MemorySegment mapping;

    private SafetensorsReader(Path file, FileChannel channel, long dataStart,
                              Map<String, TensorInfo> infos, Map<String, String> metadata) {
        this.file = file;
        this.channel = channel;
        this.arena = Arena.ofShared();
        this.dataStart = dataStart;
        this.infos = infos;
        this.metadata = metadata;
    }

    /**
     * Opens and validates {@code file}.
     *
     * @throws SafetensorsFormatException if the file is not a valid safetensors file
     * @throws IOException                if it cannot be read
     * @param file the file
     * @return and validates {@code file}
     */
    public static SafetensorsReader open(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        try {
            long size = ch.size();
            if (size < 8) {
                throw new SafetensorsFormatException(file, "file of " + size + " bytes is too short for the 8-byte header length");
            }
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, len, 0);
            long headerLength = len.getLong(0);
            if (headerLength < 0 || headerLength > MAX_HEADER_BYTES) {
                throw new SafetensorsFormatException(file, "not a safetensors file: header length "
                        + Long.toUnsignedString(headerLength) + " exceeds the limit of " + MAX_HEADER_BYTES + " bytes");
            }
            if (headerLength > size - 8) {
                throw new SafetensorsFormatException(file, "header length " + headerLength + " exceeds the file ("
                        + size + " bytes): truncated or not a safetensors file");
            }
            if (headerLength < 2) {
                throw new SafetensorsFormatException(file, "header of " + headerLength + " bytes is too short to be a JSON object");
            }
            ByteBuffer header = ByteBuffer.allocate((int) headerLength);
            readFully(ch, header, 8);
            long dataStart = 8 + headerLength;
            Header parsed = parseHeader(file, header.array(), size - dataStart);
            SafetensorsReader reader = new SafetensorsReader(file, ch, dataStart, parsed.infos, parsed.metadata);
            ch = null;
            return reader;
        } finally {
            if (ch != null) {
                ch.close();
            }
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        long pos = position;
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos);
            if (n < 0) {
                throw new IOException("unexpected end of file at " + pos);
            }
            pos += n;
        }
    }

    private record Header(Map<String, TensorInfo> infos, Map<String, String> metadata) {
    }

    private static Header parseHeader(Path file, byte[] header, long dataLength) {
        JsonNode root;
        try {
            root = Json.STRICT.readTree(header);
        } catch (JsonProcessingException e) {
            String what = e.getOriginalMessage();
            if (what != null && what.startsWith("Duplicate field")) {
                throw new SafetensorsFormatException(file, null, "header has a duplicate tensor name: " + what, e);
            }
            throw new SafetensorsFormatException(file, null, "header is not valid JSON: " + what, e);
        } catch (IOException e) {
            throw new SafetensorsFormatException(file, null, "header is not valid JSON: " + e.getMessage(), e);
        }
        if (!(root instanceof ObjectNode obj)) {
            throw new SafetensorsFormatException(file, "header is not a JSON object");
        }
        Map<String, String> metadata = Map.of();
        Map<String, TensorInfo> infos = new TreeMap<>();
        for (Map.Entry<String, JsonNode> e : obj.properties()) {
            String name = e.getKey();
            if (name.equals("__metadata__")) {
                metadata = parseMetadata(file, e.getValue());
                continue;
            }
            infos.put(name, parseEntry(file, name, e.getValue(), dataLength));
        }
        checkCoverage(file, infos.values(), dataLength);
        return new Header(Collections.unmodifiableMap(infos), metadata);
    }

    private static Map<String, String> parseMetadata(Path file, JsonNode node) {
        if (node.isNull()) {
            return Map.of();
        }
        if (!node.isObject()) {
            throw new SafetensorsFormatException(file, "__metadata__ is not a JSON object");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (!e.getValue().isTextual()) {
                throw new SafetensorsFormatException(file, "__metadata__ value of '" + e.getKey() + "' is not a string");
            }
            out.put(e.getKey(), e.getValue().textValue());
        }
        return Collections.unmodifiableMap(out);
    }

    private static TensorInfo parseEntry(Path file, String name, JsonNode node, long dataLength) {
        if (!node.isObject()) {
            throw new SafetensorsFormatException(file, name, "entry is not a JSON object");
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw new SafetensorsFormatException(file, name, "missing or non-string 'dtype'");
        }
        DType dtype = DType.fromSafetensorsName(dtypeNode.textValue()).orElseThrow(() ->
                new SafetensorsFormatException(file, name, "unknown dtype '" + dtypeNode.textValue() + "'"));
        long[] dims = longArray(file, name, node.get("shape"), "shape", -1);
        long[] offsets = longArray(file, name, node.get("data_offsets"), "data_offsets", 2);
        for (String field : node.properties().stream().map(Map.Entry::getKey).toList()) {
            if (!field.equals("dtype") && !field.equals("shape") && !field.equals("data_offsets")) {
                throw new SafetensorsFormatException(file, name, "unexpected field '" + field + "'");
            }
        }
        Shape shape;
        long bytes;
        try {
            shape = Shape.of(dims);
            bytes = Math.multiplyExact(shape.elementCount(), (long) dtype.byteSize());
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw new SafetensorsFormatException(file, name, "shape " + java.util.Arrays.toString(dims)
                    + " of " + dtype + " overflows a 64-bit byte count");
        }
        long begin = offsets[0];
        long end = offsets[1];
        if (end < begin) {
            throw new SafetensorsFormatException(file, name, "data_offsets [" + begin + "," + end + "] end before they begin");
        }
        if (end > dataLength) {
            throw new SafetensorsFormatException(file, name, "data_offsets [" + begin + "," + end
                    + "] extend past the data region of " + dataLength + " bytes (truncated file?)");
        }
        if (end - begin != bytes) {
            throw new SafetensorsFormatException(file, name, "data_offsets [" + begin + "," + end + "] hold "
                    + (end - begin) + " bytes, " + dtype + " " + shape + " needs " + bytes);
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static long[] longArray(Path file, String name, JsonNode node, String field, int expectedLength) {
        if (node == null || !node.isArray()) {
            throw new SafetensorsFormatException(file, name, "missing or non-array '" + field + "'");
        }
        if (expectedLength >= 0 && node.size() != expectedLength) {
            throw new SafetensorsFormatException(file, name, "'" + field + "' has " + node.size()
                    + " values, expected " + expectedLength);
        }
        long[] out = new long[node.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
                throw new SafetensorsFormatException(file, name, "'" + field + "' value " + v
                        + " is not a non-negative 64-bit integer");
            }
            out[i] = v.longValue();
        }
        return out;
    }

    private static void checkCoverage(Path file, java.util.Collection<TensorInfo> infos, long dataLength) {
        List<TensorInfo> sorted = new ArrayList<>(infos);
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long expected = 0;
        TensorInfo previous = null;
        for (TensorInfo t : sorted) {
            if (t.begin() < expected) {
                throw new SafetensorsFormatException(file, t.name(), "data_offsets [" + t.begin() + "," + t.end()
                        + "] overlap those of '" + previous.name() + "' [" + previous.begin() + "," + previous.end() + "]");
            }
            if (t.begin() > expected) {
                throw new SafetensorsFormatException(file, t.name(), "data_offsets [" + t.begin() + "," + t.end()
                        + "] leave a gap of " + (t.begin() - expected) + " bytes before them");
            }
            expected = t.end();
            previous = t;
        }
        if (expected != dataLength) {
            throw new SafetensorsFormatException(file, "the data region has " + (dataLength - expected)
                    + " bytes after the last tensor that no tensor covers");
        }
    }

    /**
     * The file.
     *
     * @return the file
     */
    public Path file() {
        return file;
    }

    /**
     * The {@code __metadata__} entries.
     *
     * @return the {@code __metadata__} entries
     */
    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * Header entries by name, sorted by name.
     *
     * @return header entries by name, sorted by name
     */
    public Map<String, TensorInfo> infos() {
        return infos;
    }

    /**
     * The entry for {@code name}.
     *
     * @param name the name
     * @return the entry for {@code name}
     */
    public TensorInfo info(String name) {
        TensorInfo info = infos.get(name);
        if (info == null) {
            throw new NoSuchElementException(file.getFileName() + ": no tensor named '" + name + "'");
        }
        return info;
    }

    /**
     * Whether the file holds a tensor called {@code name}.
     *
     * @param name the name
     * @return whether the file holds a tensor called {@code name}
     */
    public boolean contains(String name) {
        return infos.containsKey(name);
    }

    /**
     * A zero-copy view of tensor {@code name} in the memory-mapped file (read-only).
     *
     * @param name the name
     * @return a zero-copy view of tensor {@code name} in the memory-mapped file (read-only)
     */
    public Tensor tensor(String name) {
        TensorInfo info = info(name);
        return Tensor.wrap(info.dtype(), info.shape(), mapping().asSlice(dataStart + info.begin(), info.byteSize()));
    }

    private MemorySegment mapping() {
        MemorySegment m = mapping;
        if (m == null) {
            synchronized (this) {
                m = mapping;
                if (m == null) {
                    try {
                        m = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
                    } catch (ClosedChannelException e) {
                        throw new IllegalStateException(file.getFileName() + ": reader is closed", e);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                    mapping = m;
                }
            }
        }
        return m;
    }

    /**
     * A streaming source for tensor {@code name}: its rows are read from the file with
     * positional reads when asked for, so nothing stays resident.
     *
     * @param name the name
     * @return a streaming source for tensor {@code name}: its rows are read from the file with positional reads when asked for, so nothing stays resident
     */
    public TensorSource source(String name) {
        TensorInfo info = info(name);
        return new FileSource(info);
    }

    /**
     * All tensors as streaming sources, with this file as their provenance.
     *
     * @return all tensors as streaming sources, with this file as their provenance
     */
    public WeightMap weights() {
        WeightMap.Builder b = WeightMap.builder();
        for (TensorInfo info : infos.values()) {
            b.put(info.name(), new FileSource(info), Provenance.file(file, info.name()));
        }
        return b.build();
    }

    /** Closes the file and unmaps it; tensors and sources from this reader become unusable. */
    @Override
    public void close() throws IOException {
        synchronized (this) {
            if (!channel.isOpen()) {
                return;
            }
            channel.close();
            arena.close();
        }
    }

    private final class FileSource implements TensorSource {
        private final TensorInfo info;

        FileSource(TensorInfo info) {
            this.info = info;
        }

        @Override
        public DType dtype() {
            return info.dtype();
        }

        @Override
        public Shape shape() {
            return info.shape();
        }

        @Override
        public void readRows(long firstRow, long rowCount, MemorySegment dst) {
            long bytes = rowCount * rowBytes();
            long pos = dataStart + info.begin() + firstRow * rowBytes();
            if (firstRow < 0 || rowCount < 0 || firstRow + rowCount > rowCount()) {
                throw new IndexOutOfBoundsException("rows [" + firstRow + "," + (firstRow + rowCount)
                        + ") of '" + info.name() + "' " + info.shape());
            }
            try {
                long done = 0;
                while (done < bytes) {
                    int n = (int) Math.min(bytes - done, 1 << 30);
                    ByteBuffer buf = dst.asSlice(done, n).asByteBuffer();
                    readFully(channel, buf, pos + done);
                    done += n;
                }
            } catch (ClosedChannelException e) {
                throw new IllegalStateException(file.getFileName() + ": reader is closed", e);
            } catch (IOException e) {
                throw new UncheckedIOException(file.getFileName() + ": reading '" + info.name() + "'", e);
            }
        }

        @Override
        public String toString() {
            return file.getFileName() + ":" + info.name();
        }
    }
}
