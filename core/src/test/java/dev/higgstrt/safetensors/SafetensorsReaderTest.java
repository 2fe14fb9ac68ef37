package dev.higgstrt.safetensors;

import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/** The reader against valid files and a corpus of hand-made malformed ones. */
class SafetensorsReaderTest {
    @TempDir
    Path dir;

    @Test
    void readsAValidHandMadeFile() throws IOException {
        byte[] data = new byte[8 + 6];
        // a: F32 [2] = 1.0, -2.0 ; b: BF16 [3] = 1, 2, 3
        java.nio.ByteBuffer bb = java.nio.ByteBuffer.wrap(data).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        bb.putFloat(1f).putFloat(-2f).putShort((short) 0x3F80).putShort((short) 0x4000).putShort((short) 0x4040);
        String header = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[8,14]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}   ";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        Path f = RawSafetensors.write(dir.resolve("ok.safetensors"), h.length, h, data);
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertThat(r.metadata()).containsEntry("format", "pt");
            assertThat(r.infos().keySet()).containsExactly("a", "b");
            assertThat(r.tensor("a").toFloatArray()).containsExactly(1f, -2f);
            assertThat(r.tensor("b").toFloatArray()).containsExactly(1f, 2f, 3f);
            assertThat(r.info("b").shape()).isEqualTo(Shape.of(3));
            try (Arena arena = Arena.ofConfined()) {
                Tensor viaSource = r.source("b").materialize(arena);
                assertThat(viaSource.contentEquals(r.tensor("b"))).isTrue();
            }
            assertThatThrownBy(() -> r.tensor("c")).hasMessage("ok.safetensors: no tensor named 'c'");
        }
    }

    @Test
    void emptyFileWithEmptyHeaderIsValid() throws IOException {
        Path f = RawSafetensors.write(dir.resolve("empty.safetensors"), "{}      ", 0);
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertThat(r.infos()).isEmpty();
        }
    }

    @Test
    void tensorsOfAClosedReaderFailCleanly() throws IOException {
        Path f = RawSafetensors.write(dir.resolve("x.safetensors"),
                "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
        SafetensorsReader r = SafetensorsReader.open(f);
        Tensor t = r.tensor("x");
        var source = r.source("x");
        r.close();
        r.close();
        assertThatThrownBy(() -> t.getFloat(0)).isInstanceOf(IllegalStateException.class);
        try (Arena arena = Arena.ofConfined()) {
            assertThatThrownBy(() -> source.materialize(arena)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("closed");
        }
    }

    static Stream<Arguments> malformed() {
        String ok = "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]";
        return Stream.of(
                arguments("truncated-length", null, 4, null, "too short for the 8-byte header length"),
                arguments("lying-header-length", "{\"a\":{" + ok + "}}", 8, 1000L, "header length 1000 exceeds the file"),
                arguments("absurd-header-length", "{}", 0, 1L << 40, "exceeds the limit of 100000000 bytes"),
                arguments("negative-header-length", "{}", 0, -5L, "exceeds the limit"),
                arguments("not-json", "{\"a\": nope}", 0, null, "header is not valid JSON"),
                arguments("not-an-object", "[1,2,3]", 0, null, "header is not a JSON object"),
                arguments("trailing-garbage", "{} {}", 0, null, "header is not valid JSON"),
                arguments("invalid-utf8", "{\"\u00ff\":1}", 0, null, "not valid JSON"),
                arguments("duplicate-names", "{\"a\":{" + ok + "},\"a\":{" + ok + "}}", 8, null, "duplicate tensor name"),
                arguments("unknown-dtype", "{\"a\":{\"dtype\":\"F128\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, null,
                        "tensor 'a': unknown dtype 'F128'"),
                arguments("missing-dtype", "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, null, "tensor 'a': missing or non-string 'dtype'"),
                arguments("wrong-byte-count", "{\"a\":{\"dtype\":\"BF16\",\"shape\":[3,3],\"data_offsets\":[0,10]}}", 10, null,
                        "tensor 'a': data_offsets [0,10] hold 10 bytes, BF16 [3,3] needs 18"),
                arguments("huge-declared-shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8, null,
                        "tensor 'a': shape [4294967296, 4294967296] of F32 overflows"),
                arguments("shape-overflowing-with-dtype", "{\"a\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,8]}}", 8, null,
                        "overflows a 64-bit byte count"),
                arguments("negative-dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, null,
                        "'shape' value -2 is not a non-negative 64-bit integer"),
                arguments("fractional-dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8, null,
                        "'shape' value 2.5 is not"),
                arguments("offset-beyond-long", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,99999999999999999999]}}", 8, null,
                        "'data_offsets' value 99999999999999999999 is not"),
                arguments("offsets-out-of-range", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 8, null,
                        "tensor 'a': data_offsets [4,12] extend past the data region of 8 bytes"),
                arguments("offsets-reversed", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8, null,
                        "end before they begin"),
                arguments("three-offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", 8, null,
                        "'data_offsets' has 3 values, expected 2"),
                arguments("overlapping-offsets", "{\"a\":{" + ok + "},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, null,
                        "tensor 'b': data_offsets [4,12] overlap those of 'a' [0,8]"),
                arguments("gap-between-tensors", "{\"a\":{" + ok + "},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", 16, null,
                        "tensor 'b': data_offsets [12,16] leave a gap of 4 bytes"),
                arguments("trailing-data", "{\"a\":{" + ok + "}}", 12, null, "4 bytes after the last tensor that no tensor covers"),
                arguments("truncated-data", "{\"a\":{" + ok + "}}", 5, null, "extend past the data region of 5 bytes"),
                arguments("entry-not-object", "{\"a\":[1,2]}", 0, null, "tensor 'a': entry is not a JSON object"),
                arguments("unexpected-field", "{\"a\":{" + ok + ",\"extra\":1}}", 8, null, "unexpected field 'extra'"),
                arguments("metadata-not-strings", "{\"__metadata__\":{\"k\":1}}", 0, null, "__metadata__ value of 'k' is not a string"),
                arguments("deeply-nested", "{\"__metadata__\":" + "[".repeat(5000) + "]".repeat(5000) + "}", 0, null, "not valid JSON"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("malformed")
    void malformedFilesAreRefusedWithAMessageNamingFileAndTensor(String name, String header, int dataBytes,
                                                                 Long declaredLength, String expected) throws IOException {
        Path f = dir.resolve(name + ".safetensors");
        if (header == null) {
            Files.write(f, new byte[dataBytes]);
        } else {
            byte[] h = name.equals("invalid-utf8") ? new byte[]{'{', '"', (byte) 0xFF, '"', ':', '1', '}'}
                    : header.getBytes(StandardCharsets.UTF_8);
            RawSafetensors.write(f, declaredLength == null ? h.length : declaredLength, h, new byte[dataBytes]);
        }
        assertThatThrownBy(() -> SafetensorsReader.open(f).close())
                .isInstanceOf(SafetensorsFormatException.class)
                .hasMessageStartingWith(name + ".safetensors: ")
                .hasMessageContaining(expected);
    }

    @Test
    void formatExceptionExposesFileTensorAndDetail() throws IOException {
        Path f = RawSafetensors.write(dir.resolve("d.safetensors"),
                "{\"w\":{\"dtype\":\"BF16\",\"shape\":[3,3],\"data_offsets\":[0,10]}}", 10);
        assertThatThrownBy(() -> SafetensorsReader.open(f))
                .isInstanceOfSatisfying(SafetensorsFormatException.class, e -> {
                    assertThat(e.file()).isEqualTo(f);
                    assertThat(e.tensor()).contains("w");
                    assertThat(e.detail()).isEqualTo("data_offsets [0,10] hold 10 bytes, BF16 [3,3] needs 18");
                });
    }

    @Test
    void supportsEveryDtype() throws IOException {
        StringBuilder h = new StringBuilder("{");
        long off = 0;
        for (DType d : DType.values()) {
            if (off > 0) {
                h.append(',');
            }
            h.append('"').append(d.name().toLowerCase()).append("\":{\"dtype\":\"").append(d.safetensorsName())
                    .append("\",\"shape\":[2,1],\"data_offsets\":[").append(off).append(',').append(off + 2L * d.byteSize()).append("]}");
            off += 2L * d.byteSize();
        }
        h.append('}');
        Path f = RawSafetensors.write(dir.resolve("all.safetensors"), h.toString(), (int) off);
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            for (DType d : DType.values()) {
                assertThat(r.info(d.name().toLowerCase()).dtype()).isEqualTo(d);
            }
        }
    }
}
