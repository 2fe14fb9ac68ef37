package dev.higgstrt.safetensors;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.higgstrt.io.Json;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.Tensor;
import dev.higgstrt.tensor.TestTensors;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * The safetensors file that Java writes for Python to verify (scripts/fixtures/safetensors_compat.py
 * verify), committed under src/test/resources/safetensors/java. Run {@link #main} to regenerate.
 */
public final class JavaFixtures {
    private JavaFixtures() {
    }

    /** Deterministic tensors of every dtype. */
    static Map<String, Tensor> tensors(Arena arena) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("f32", Tensor.fromFloats(DType.F32, Shape.of(2, 3),
                new float[]{1.5f, -2.25f, 0f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0f}, arena));
        m.put("bf16", Tensor.fromFloats(DType.BF16, Shape.of(2, 2), new float[]{1f, -3.0e38f, 1e-40f, 0.1f}, arena));
        m.put("f16", Tensor.fromFloats(DType.F16, Shape.of(4), new float[]{1f, 65504f, 6e-8f, 0.1f}, arena));
        m.put("scalar", Tensor.fromFloats(DType.F32, Shape.of(), new float[]{3.25f}, arena));
        m.put("empty", Tensor.allocate(DType.F32, Shape.of(0, 4), arena));
        m.put("model.layers.0.mlp.gate_up_proj.weight", TestTensors.random(DType.BF16, Shape.of(32, 24), 7, arena));
        Random r = new Random(11);
        for (DType d : new DType[]{DType.F64, DType.I64, DType.I32, DType.I16, DType.I8, DType.U8, DType.BOOL,
                DType.F8_E4M3, DType.F8_E5M2}) {
            Tensor t = Tensor.allocate(d, Shape.of(2, 3), arena);
            for (long i = 0; i < t.byteSize(); i++) {
                byte b = (byte) r.nextInt(256);
                if (d == DType.BOOL) {
                    b = (byte) (b & 1);
                } else if (d == DType.F8_E4M3 && (b & 0x7F) == 0x7F) {
                    b = 0x38; // avoid the NaN encodings so that the values read back compare equal
                } else if (d == DType.F64 && i % 8 == 7) {
                    b = 0x3F;
                }
                t.data().set(ValueLayout.JAVA_BYTE, i, b);
            }
            m.put(d.name().toLowerCase(), t);
        }
        return m;
    }

    static final Map<String, String> METADATA = Map.of("format", "pt", "producer", "higgs-trt");

    /** Writes java_basic.safetensors and java_basic.json into {@code dir}. */
    static void write(Path dir, Arena arena) throws IOException {
        Files.createDirectories(dir);
        Map<String, Tensor> tensors = tensors(arena);
        SafetensorsWriter.write(dir.resolve("java_basic.safetensors"), tensors, METADATA, n -> { });
        ObjectNode root = Json.PRETTY.createObjectNode();
        tensors.forEach((name, t) -> {
            ObjectNode e = root.putObject(name);
            e.put("dtype", t.dtype().safetensorsName());
            var shape = e.putArray("shape");
            for (long d : t.shape().toArray()) {
                shape.add(d);
            }
            e.put("hex", HexFormat.of().formatHex(t.data().toArray(ValueLayout.JAVA_BYTE)));
        });
        Files.writeString(dir.resolve("java_basic.json"), Json.PRETTY.writeValueAsString(root) + "\n");
    }

    /** Regenerates the committed files: {@code main(core/src/test/resources/safetensors/java)}. */
    public static void main(String[] args) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            write(Path.of(args[0]), arena);
        }
    }
}
