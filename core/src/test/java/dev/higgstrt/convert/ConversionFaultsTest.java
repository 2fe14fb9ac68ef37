package dev.higgstrt.convert;

import dev.higgstrt.layout.Mapping;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.SourceLayout;
import dev.higgstrt.safetensors.SafetensorsCheckpoint;
import dev.higgstrt.safetensors.SafetensorsReader;
import dev.higgstrt.safetensors.SafetensorsWriter;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Tensor;
import dev.higgstrt.weights.Provenance;
import dev.higgstrt.weights.WeightMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Non-finite weights, concurrent conversions into one folder, leftovers of killed ones, and parallel rank writing. */
class ConversionFaultsTest {
    @TempDir
    Path tmp;

    private Path source() throws IOException {
        return TestModels.write(tmp.resolve("src"), TestModels.awkward(), SourceLayout.TRANSFORMERS, true, DType.BF16);
    }

    /** A copy of {@code src} whose {@code name} has {@code bad} values set to NaN and infinity. */
    private Path withNonFinite(Path src, String name, int bad) throws IOException {
        Path dir = tmp.resolve("nonfinite");
        Files.createDirectories(dir);
        Files.copy(src.resolve(HiggsAudioConfig.FILE_NAME), dir.resolve(HiggsAudioConfig.FILE_NAME));
        try (SafetensorsCheckpoint ck = SafetensorsCheckpoint.open(src); Arena arena = Arena.ofConfined()) {
            Tensor t = ck.weights().tensor(name).cast(DType.F32).materialize(arena);
            float[] v = t.toFloatArray();
            for (int i = 0; i < bad; i++) {
                v[i * 7 % v.length] = i % 2 == 0 ? Float.NaN : Float.NEGATIVE_INFINITY;
            }
            WeightMap.Builder b = WeightMap.builder();
            ck.weights().forEach(w -> b.put(w.name(), w.name().equals(name)
                    ? Tensor.fromFloats(DType.BF16, t.shape(), v, arena) : w.tensor(), Provenance.memory(w.name())));
            SafetensorsWriter.write(dir.resolve(SafetensorsCheckpoint.SINGLE_FILE_NAME), b.build(), Map.of());
        }
        return dir;
    }

    @Test
    void nonFiniteWeightsAreRefusedWithTheirCountUnlessAllowed() throws IOException {
        Path src = source();
        String name = "model.layers.1.mlp.up_proj.weight";
        Path bad = withNonFinite(src, name, 5);
        Path out = tmp.resolve("out");
        assertThatThrownBy(() -> Converter.convert(bad, out, ConversionOptions.of(2, 1), n -> { }))
                .isInstanceOf(NonFiniteWeightException.class)
                .hasMessageContaining(name).hasMessageContaining("5 of ").hasMessageContaining("--allow-nonfinite")
                .satisfies(e -> assertThat(((NonFiniteWeightException) e).count()).isEqualTo(5));
        assertThat(out).doesNotExist();
        try (var s = Files.list(tmp)) {
            assertThat(s.map(p -> p.getFileName().toString())).noneMatch(n -> n.contains(".tmp-"));
        }

        Converter.convert(bad, out, ConversionOptions.of(1, 1).withNonFiniteAllowed(), n -> { });
        try (SafetensorsReader r = SafetensorsReader.open(out.resolve("rank0.safetensors"))) {
            float[] gateUp = r.tensor("transformer.layers.1.mlp.gate_up_proj.weight").toFloatArray();
            long nonFinite = 0;
            for (float f : gateUp) {
                nonFinite += Float.isFinite(f) ? 0 : 1;
            }
            assertThat(nonFinite).as("kept as they are").isEqualTo(5);
        }
    }

    @Test
    void aSecondConversionIntoTheSameFolderIsRefusedAndLeftoversOfAKilledOneAreRemoved() throws IOException {
        Path src = source();
        Path out = tmp.resolve("out");
        Path lockFile = tmp.resolve(".out.lock");
        Path leftover = Files.createDirectories(tmp.resolve(".out.tmp-deadbeef"));
        Files.writeString(leftover.resolve("rank0.safetensors"), "half");
        try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock held = ch.lock()) {
            assertThat(held.isValid()).isTrue();
            assertThatThrownBy(() -> Converter.convert(src, out, ConversionOptions.of(1, 1), n -> { }))
                    .hasMessageContaining("another conversion is writing").hasMessageContaining(lockFile.getFileName().toString());
            assertThat(out).doesNotExist();
            assertThat(leftover).exists();
        }
        assertThat(lockFile).as("a lock file nobody holds, as a killed run leaves it").exists();
        Converter.convert(src, out, ConversionOptions.of(1, 1), n -> { });
        assertThat(out.resolve("rank0.safetensors")).exists();
        assertThat(leftover).doesNotExist();
        assertThat(lockFile).as("taken over, then removed at the end").doesNotExist();
        assertThatThrownBy(() -> Converter.convert(src.resolve("config.json"), tmp.resolve("o2"), ConversionOptions.of(1, 1), n -> { }))
                .hasMessage(src.resolve("config.json") + ": a file, not a folder (expected a checkpoint folder holding config.json and the weights)");
        assertThat(tmp.resolve(".o2.lock")).doesNotExist();
    }

    @Test
    void ranksWrittenInParallelAreTheBytesOfTheSerialRun() throws IOException {
        Path src = source();
        Converter.convert(src, tmp.resolve("serial"), ConversionOptions.of(2, 2).withThreads(1), n -> { });
        Converter.convert(src, tmp.resolve("parallel"), ConversionOptions.of(2, 2).withThreads(4), n -> { });
        for (Mapping m : Mapping.all(2, 2)) {
            assertThat(Files.readAllBytes(tmp.resolve("parallel").resolve(m.fileName())))
                    .as(m.fileName()).isEqualTo(Files.readAllBytes(tmp.resolve("serial").resolve(m.fileName())));
        }
    }
}
