package dev.higgstrt.trt.engine;

import com.fasterxml.jackson.databind.JsonNode;
import dev.higgstrt.io.AtomicOutput;
import dev.higgstrt.io.Json;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The file layout of a saved engine, shared by the decoder's and the codec's: an 8-byte magic
 * naming the kind, the header's length (big-endian int), a JSON header, then the serialized plan.
 */
public final class EngineFile {
    private EngineFile() {
    }

    /**
     * A read engine file: its header, and its plan mapped in the caller's arena.
     *
     * @param header the JSON header
     * @param plan   the serialized plan
     */
    public record Contents(JsonNode header, MemorySegment plan) {
    }

    /**
     * Writes an engine file atomically, the plan in slices of 1 GB (a byte buffer holds at most 2 GB).
     *
     * @param file   the file
     * @param magic  the kind's 8-byte magic
     * @param header the JSON header
     * @param plan   the serialized plan
     * @throws IOException when the file cannot be written
     */
    public static void write(Path file, byte[] magic, JsonNode header, MemorySegment plan) throws IOException {
        byte[] json = Json.STRICT.writeValueAsBytes(header);
        try (AtomicOutput out = AtomicOutput.create(file)) {
            ByteBuffer b = ByteBuffer.allocate(magic.length + 4 + json.length);
            b.put(magic).putInt(json.length).put(json).flip();
            while (b.hasRemaining()) {
                out.channel().write(b);
            }
            for (long done = 0; done < plan.byteSize(); ) {
                long n = Math.min(1L << 30, plan.byteSize() - done);
                ByteBuffer p = plan.asSlice(done, n).asByteBuffer();
                while (p.hasRemaining()) {
                    out.channel().write(p);
                }
                done += n;
            }
            out.commit();
        }
    }

    /**
     * Maps an engine file into {@code arena} and reads its header.
     *
     * @param file        the file
     * @param magic       the kind's 8-byte magic
     * @param notThisKind the message for a file of another kind (or none)
     * @param corrupt     the message for a header that does not fit the file
     * @param arena       owns the mapping (the plan lives as long as it)
     * @return the header and the plan
     * @throws IOException              when the file cannot be read
     * @throws IllegalArgumentException with {@code notThisKind} or {@code corrupt}
     */
    public static Contents read(Path file, byte[] magic, String notThisKind, String corrupt, Arena arena) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            long size = all.byteSize();
            if (size < magic.length + 4
                    || MemorySegment.mismatch(all, 0, magic.length, MemorySegment.ofArray(magic), 0, magic.length) != -1) {
                throw new IllegalArgumentException(notThisKind);
            }
            int n = all.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN), magic.length);
            if (n < 0 || n > size - magic.length - 4) {
                throw new IllegalArgumentException(corrupt);
            }
            JsonNode header = Json.STRICT.readTree(all.asSlice(magic.length + 4, n).toArray(ValueLayout.JAVA_BYTE));
            return new Contents(header, all.asSlice(magic.length + 4 + n));
        }
    }

    /**
     * {@link #read} of an engine built from a converted checkpoint, checked to have been built
     * from {@code checkpoint} (the header's {@code checkpoint_sha256} against its hash now).
     *
     * @param file       the file
     * @param magic      the kind's 8-byte magic
     * @param kind       the kind's name in messages ("engine", "paged engine")
     * @param checkpoint the checkpoint folder it must have been built from
     * @param arena      owns the mapping
     * @return the header and the plan
     * @throws IOException              when a file cannot be read
     * @throws IllegalArgumentException when the file is not of this kind, is corrupt or was built from another checkpoint
     */
    static Contents readBuiltFrom(Path file, byte[] magic, String kind, Path checkpoint, Arena arena) throws IOException {
        Contents contents = read(file, magic, file.getFileName() + ": not a higgs-trt " + kind + " file",
                file.getFileName() + ": corrupt engine header", arena);
        if (!HiggsEngine.hash(checkpoint).equals(contents.header().path("checkpoint_sha256").asText())) {
            throw new IllegalArgumentException(file.getFileName() + ": built from another checkpoint than " + checkpoint
                    + " (config or rank files differ); rebuild it");
        }
        return contents;
    }

    /**
     * Whether {@code file} starts with {@code magic} (a file of that kind; nothing else is checked).
     *
     * @param file  a file
     * @param magic the kind's 8-byte magic
     * @return true where the file starts with the magic
     * @throws IOException when the file cannot be read
     */
    public static boolean isKind(Path file, byte[] magic) throws IOException {
        try (var in = java.nio.file.Files.newInputStream(file)) {
            return java.util.Arrays.equals(in.readNBytes(magic.length), magic);
        }
    }
}
