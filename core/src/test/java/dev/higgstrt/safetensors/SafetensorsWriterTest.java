package dev.higgstrt.safetensors;

import dev.higgstrt.io.AtomicOutput;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.Tensor;
import dev.higgstrt.tensor.TensorSource;
import dev.higgstrt.tensor.TestTensors;
import dev.higgstrt.weights.Provenance;
import dev.higgstrt.weights.WeightMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SafetensorsWriterTest {
    @TempDir
    Path dir;
    private final Arena arena = Arena.ofConfined();

    @AfterEach
    void close() {
        arena.close();
    }

    private WeightMap sample() {
        return WeightMap.builder()
                .put("z.weight", TestTensors.random(DType.BF16, Shape.of(17, 9), 1, arena), Provenance.memory("z"))
                .put("a.bias", TestTensors.random(DType.F32, Shape.of(9), 2, arena), Provenance.memory("a"))
                .put("m.half", TestTensors.random(DType.F16, Shape.of(3, 1, 5), 3, arena), Provenance.memory("m"))
                .put("scalar", TestTensors.random(DType.F32, Shape.of(), 4, arena), Provenance.memory("s"))
                .put("empty", Tensor.allocate(DType.I32, Shape.of(0, 4), arena), Provenance.memory("e"))
                .build();
    }

    @Test
    void roundTripsEveryTensorExactly() throws IOException {
        WeightMap w = sample();
        Path f = dir.resolve("out.safetensors");
        long size = SafetensorsWriter.write(f, w, Map.of("format", "pt"));
        assertThat(Files.size(f)).isEqualTo(size);
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertThat(r.metadata()).containsExactly(Map.entry("format", "pt"));
            assertThat(r.infos().keySet()).containsExactlyElementsOf(w.names());
            for (var weight : w) {
                Tensor expected = weight.tensor().materialize(arena);
                assertThat(r.tensor(weight.name()).contentEquals(expected)).as(weight.name()).isTrue();
            }
        }
    }

    @Test
    void headerIsPaddedTo8AndLayoutFollowsNameOrder() throws IOException {
        Path f = dir.resolve("out.safetensors");
        SafetensorsWriter.write(f, sample(), Map.of());
        byte[] bytes = Files.readAllBytes(f);
        long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        assertThat(n % 8).isZero();
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            long previous = -1;
            for (TensorInfo info : r.infos().values()) {
                assertThat(info.begin()).isGreaterThanOrEqualTo(previous);
                previous = info.end();
            }
        }
    }

    @Test
    void identicalInputGivesByteIdenticalFiles() throws IOException {
        Path a = dir.resolve("a.safetensors");
        Path b = dir.resolve("b.safetensors");
        SafetensorsWriter.write(a, sample(), Map.of("x", "1", "a", "2"));
        SafetensorsWriter.write(b, sample(), new TreeMap<>(Map.of("a", "2", "x", "1")));
        assertThat(Files.readAllBytes(a)).isEqualTo(Files.readAllBytes(b));
    }

    /**
     * Tensors whose rows cross block ends, rows longer than a block and a tail shorter than the
     * direct I/O alignment, written through small blocks, with direct I/O on and off.
     */
    @ParameterizedTest
    @CsvSource({"4096,true", "4096,false", "12288,true", "12288,false"})
    void anyBlockSizeWithOrWithoutDirectIoWritesTheSameBytes(long blockBytes, boolean direct) throws IOException {
        WeightMap w = WeightMap.builder()
                .put("a.rows_cross_blocks", TestTensors.random(DType.BF16, Shape.of(300, 37), 1, arena), Provenance.memory("a"))
                .put("b.row_longer_than_a_block", TestTensors.random(DType.F32, Shape.of(3, 3001), 2, arena), Provenance.memory("b"))
                .put("c.cast", TestTensors.random(DType.BF16, Shape.of(129, 65), 3, arena).cast(DType.F32).cast(DType.BF16),
                        Provenance.memory("c"))
                .put("d.tail", TestTensors.random(DType.F16, Shape.of(5), 4, arena), Provenance.memory("d"))
                .build();
        Path expected = dir.resolve("expected.safetensors");
        SafetensorsWriter.write(expected, w, Map.of("format", "pt"));

        Path f = dir.resolve("blocks.safetensors");
        long[] reported = {0};
        String before = System.getProperty(AtomicOutput.DIRECT_IO_PROPERTY);
        SafetensorsWriter.testBlockBytes = blockBytes;
        System.setProperty(AtomicOutput.DIRECT_IO_PROPERTY, Boolean.toString(direct));
        try {
            long size = SafetensorsWriter.write(f, w, Map.of("format", "pt"), n -> reported[0] += n);
            assertThat(Files.size(f)).isEqualTo(size);
        } finally {
            SafetensorsWriter.testBlockBytes = 0;
            if (before == null) {
                System.clearProperty(AtomicOutput.DIRECT_IO_PROPERTY);
            } else {
                System.setProperty(AtomicOutput.DIRECT_IO_PROPERTY, before);
            }
        }
        assertThat(Files.readAllBytes(f)).isEqualTo(Files.readAllBytes(expected));
        assertThat(reported[0]).isEqualTo(w.byteSize());
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            for (var weight : w) {
                assertThat(r.tensor(weight.name()).contentEquals(weight.tensor().materialize(arena))).as(weight.name()).isTrue();
            }
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("expected.safetensors", "blocks.safetensors");
        }
    }

    @Test
    void streamsLargeTensorsInBlocks() throws IOException {
        Tensor big = TestTensors.random(DType.BF16, Shape.of(5000, 2000), 7, arena);
        Path f = dir.resolve("big.safetensors");
        long[] reported = {0};
        SafetensorsWriter.write(f, Map.of("big", big), Map.of(), n -> reported[0] += n);
        assertThat(reported[0]).isEqualTo(big.byteSize());
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertThat(r.tensor("big").contentEquals(big)).isTrue();
        }
    }

    @Test
    void failedWriteLeavesNoFileUnderTheFinalNameAndNoTemporary() throws IOException {
        Path f = dir.resolve("fail.safetensors");
        Files.writeString(f, "previous content");
        Tensor ok = TestTensors.random(DType.F32, Shape.of(4), 1, arena);
        TensorSource failing = new TensorSource() {
            @Override
            public DType dtype() {
                return DType.F32;
            }

            @Override
            public Shape shape() {
                return Shape.of(4);
            }

            @Override
            public void readRows(long firstRow, long rowCount, MemorySegment dst) {
                throw new UncheckedIOException(new IOException("disk on fire"));
            }
        };
        assertThatThrownBy(() -> SafetensorsWriter.write(f, Map.of("a", ok, "b", failing), Map.of(), n -> { }))
                .isInstanceOf(IOException.class).hasMessageContaining("reading 'b'").hasMessageContaining("disk on fire");
        assertThat(Files.readString(f)).isEqualTo("previous content");
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("fail.safetensors");
        }
    }

    @Test
    void metadataKeyCannotNameATensor() {
        Tensor t = TestTensors.random(DType.F32, Shape.of(1), 1, arena);
        assertThatThrownBy(() -> SafetensorsWriter.write(dir.resolve("m.safetensors"), Map.of("__metadata__", t), Map.of(), n -> { }))
                .hasMessageContaining("reserved");
    }
}
