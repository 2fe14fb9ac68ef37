package dev.higgstrt.safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import dev.higgstrt.io.Json;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.FloatFormats;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.Tensor;
import dev.higgstrt.weights.Weight;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Files written by the official Python {@code safetensors} package (scripts/fixtures/
 * safetensors_compat.py, run on the device) read here byte for byte; the file Java writes was
 * read back by that package (its {@code verify} mode) and is pinned here byte for byte.
 */
class PythonCompatibilityTest {
    @TempDir
    Path tmp;
    private final Arena arena = Arena.ofConfined();

    @AfterEach
    void close() {
        arena.close();
    }

    private static Path resource(String name) throws URISyntaxException {
        return Path.of(PythonCompatibilityTest.class.getResource("/safetensors/" + name).toURI());
    }

    private static void assertMatches(Tensor t, JsonNode e, String what) {
        assertThat(t.dtype().safetensorsName()).as(what).isEqualTo(e.get("dtype").asText());
        assertThat(t.shape().toList().toString().replace(" ", "")).as(what).isEqualTo(e.get("shape").toString());
        assertThat(HexFormat.of().formatHex(t.data().toArray(ValueLayout.JAVA_BYTE))).as(what).isEqualTo(e.get("hex").asText());
    }

    @Test
    void readsEveryTensorPythonWroteByteForByte() throws Exception {
        JsonNode expected = Json.STRICT.readTree(Files.readString(resource("python/expected.json")));
        int checked = 0;
        for (Map.Entry<String, JsonNode> file : expected.properties()) {
            try (SafetensorsReader r = SafetensorsReader.open(resource("python/" + file.getKey()))) {
                assertThat(r.infos().keySet()).hasSize(file.getValue().size());
                for (Map.Entry<String, JsonNode> t : file.getValue().properties()) {
                    assertMatches(r.tensor(t.getKey()), t.getValue(), file.getKey() + ":" + t.getKey());
                    checked++;
                }
            }
        }
        assertThat(checked).isEqualTo(20);
    }

    @Test
    void decodesPythonsFloatsAndRoundsAsTorchDoes() throws Exception {
        try (SafetensorsReader r = SafetensorsReader.open(resource("python/py_basic.safetensors"))) {
            assertThat(r.metadata()).containsEntry("format", "pt").containsEntry("producer", "safetensors-python");
            assertThat(r.tensor("f32").toFloatArray())
                    .containsExactly(1.5f, -2.25f, 0f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0f);
            float[] f16 = r.tensor("f16").toFloatArray();
            assertThat(f16[1]).isEqualTo(65504f);
            assertThat(f16[2]).isEqualTo(0x1p-24f);
            assertThat(f16[5]).isEqualTo(FloatFormats.f16ToFloat(FloatFormats.floatToF16(0.1f)));
            assertThat(f16[6]).isNaN();
            float[] bf16 = r.tensor("bf16").toFloatArray();
            assertThat(bf16[1]).isEqualTo(FloatFormats.bf16ToFloat(FloatFormats.floatToBf16(-3.0e38f)));
            assertThat(bf16[2]).isEqualTo(FloatFormats.bf16ToFloat(FloatFormats.floatToBf16(1e-40f)));
            assertThat(bf16[3]).isEqualTo(FloatFormats.bf16ToFloat(FloatFormats.floatToBf16(0.1f)));
            assertThat(r.tensor("scalar").shape()).isEqualTo(Shape.of());
            assertThat(r.tensor("scalar").getFloat(0)).isEqualTo(3.25f);
            assertThat(r.tensor("empty").shape()).isEqualTo(Shape.of(0, 4));
            assertThat(r.tensor("i64").getFloat(1)).isEqualTo((float) (1L << 40));
            assertThat(r.info("f8_e4m3").dtype()).isEqualTo(DType.F8_E4M3);
        }
    }

    @Test
    void opensPythonsShardedCheckpointAndRewritesItExactly() throws Exception {
        try (SafetensorsCheckpoint ck = SafetensorsCheckpoint.open(resource("python/sharded"))) {
            assertThat(ck.weights().names()).containsExactly("embed.weight", "layers.0.weight", "layers.1.weight", "norm.weight");
            Path out = tmp.resolve("rewritten.safetensors");
            SafetensorsWriter.write(out, ck.weights(), Map.of("format", "pt"));
            try (SafetensorsReader r = SafetensorsReader.open(out)) {
                for (Weight w : ck.weights()) {
                    assertThat(r.tensor(w.name()).contentEquals(w.tensor().materialize(arena))).as(w.name()).isTrue();
                }
            }
        }
    }

    @Test
    void rewritingPythonsFileKeepsEveryTensorAndRereadsIdentically() throws Exception {
        try (SafetensorsReader py = SafetensorsReader.open(resource("python/py_basic.safetensors"))) {
            Path out = tmp.resolve("java.safetensors");
            SafetensorsWriter.write(out, py.weights(), py.metadata());
            try (SafetensorsReader java = SafetensorsReader.open(out)) {
                assertThat(java.metadata()).isEqualTo(py.metadata());
                for (String name : py.infos().keySet()) {
                    assertThat(java.tensor(name).contentEquals(py.tensor(name))).as(name).isTrue();
                }
            }
        }
    }

    @Test
    void theFilePythonVerifiedIsWhatJavaWritesToday() throws Exception {
        JavaFixtures.write(tmp, arena);
        assertThat(Files.readAllBytes(tmp.resolve("java_basic.safetensors")))
                .isEqualTo(Files.readAllBytes(resource("java/java_basic.safetensors")));
        assertThat(Files.readString(tmp.resolve("java_basic.json")))
                .isEqualTo(Files.readString(resource("java/java_basic.json")));
    }
}
