package dev.higgstrt.trt.codec;

import dev.higgstrt.audio.CodecConfig;
import dev.higgstrt.audio.CodecDecoder;
import dev.higgstrt.audio.CodecWeights;
import dev.higgstrt.audio.StreamingCodec;
import dev.higgstrt.io.Json;
import dev.higgstrt.synth.SyntheticCodec;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.trt.cuda.GpuTests;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The codec engine against transformers' decode (the fixtures of make_codec_fixtures.py) and
 * against the CPU reference on the published geometry (random weights), in FP32, FP16 and BF16;
 * streaming on the engine; an engine file round trip.
 */
@Tag("gpu")
class CodecEngineGpuTest {
    static final Path FIXTURES = Path.of("..", "core", "src", "test", "resources", "codec");

    @BeforeAll
    static void gpu() {
        GpuTests.requireGpu();
    }

    static int[][] fixtureCodes(Path folder) throws Exception {
        return Json.STRICT.readValue(Files.readString(folder.resolve("codes.json")), Codes.class).codes();
    }

    record Codes(int[][] codes) {
    }

    static float[] fixtureAudio(Path folder) throws Exception {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(folder.resolve("audio.f32"))).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[b.remaining() / 4];
        b.asFloatBuffer().get(out);
        return out;
    }

    static double relativeError(float[] got, float[] want) {
        assertThat(got).hasSameSizeAs(want);
        double peak = 0;
        double worst = 0;
        for (int i = 0; i < want.length; i++) {
            peak = Math.max(peak, Math.abs(want[i]));
            worst = Math.max(worst, Math.abs(got[i] - want[i]));
        }
        return worst / peak;
    }

    @Test
    void fp32EqualsTransformersOnEveryFixture(@TempDir Path dir) throws Exception {
        for (String name : List.of("tiny_odd_even", "default_bandwidths", "real_geometry_narrow")) {
            Path fixture = FIXTURES.resolve(name);
            Path codec = dir.resolve(name);
            Files.createDirectories(codec);
            Files.copy(fixture.resolve("config.json"), codec.resolve("config.json"));
            Files.copy(fixture.resolve("model.safetensors"), codec.resolve("model.safetensors"));
            try (CodecEngine e = CodecEngine.build(codec, DType.F32, 32)) {
                double err = relativeError(e.decode(fixtureCodes(fixture)), fixtureAudio(fixture));
                System.out.printf("codec engine fp32 vs transformers, %s: %.2e of the peak%n", name, err);
                assertThat(err).as(name).isLessThan(1e-4);
            }
        }
    }

    @Test
    void everyDtypeOnThePublishedGeometryIsWithinItsBoundOfTheReference(@TempDir Path dir) throws Exception {
        SyntheticCodec.write(dir, SyntheticCodec.full(), 9);
        CodecConfig config = CodecConfig.read(dir);
        CodecDecoder reference = new CodecDecoder(CodecWeights.load(dir, config));
        Random r = new Random(4);
        int[][] codes = new int[8][50];
        for (int[] row : codes) {
            for (int t = 0; t < row.length; t++) {
                row[t] = r.nextInt(1024);
            }
        }
        float[] want = reference.decode(codes);
        double[] bounds = {1e-4, 1e-2, 5e-2};
        DType[] dtypes = {DType.F32, DType.F16, DType.BF16};
        for (int i = 0; i < dtypes.length; i++) {
            try (CodecEngine e = CodecEngine.build(dir, dtypes[i], 64)) {
                double err = relativeError(e.decode(codes), want);
                System.out.printf("codec engine %s vs the CPU reference, published geometry, 2 s: %.2e of the peak%n",
                        dtypes[i].torchName(), err);
                assertThat(err).as(dtypes[i].torchName()).isLessThan(bounds[i]);
                if (dtypes[i] == DType.F32) {
                    Path file = dir.resolve("codec.engine");
                    e.save(file);
                    try (CodecEngine loaded = CodecEngine.load(file)) {
                        assertThat(loaded.config()).isEqualTo(config);
                        assertThat(loaded.decode(codes)).isEqualTo(e.decode(codes));
                    }
                    assertThatThrownBy(() -> e.decode(new int[8][65])).hasMessageContaining("at most 64 a call");
                    streamsAsTheWholeDecode(e, codes);
                }
            }
        }
    }

    /** Away from the seams the engine's stream is its whole decode (within FP32 rounding: tactics differ by length). */
    private static void streamsAsTheWholeDecode(CodecEngine e, int[][] codes) {
        float[] whole = e.decode(codes);
        List<float[]> parts = new ArrayList<>();
        StreamingCodec s = new StreamingCodec(e, StreamingCodec.Options.standard(), parts::add);
        for (int t = 0; t < codes[0].length; t++) {
            int[] col = new int[8];
            for (int q = 0; q < 8; q++) {
                col[q] = codes[q][t];
            }
            s.push(col);
        }
        s.finish();
        float[] streamed = new float[whole.length];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, streamed, at, p.length);
            at += p.length;
        }
        assertThat(at).isEqualTo(whole.length);
        int reach = StreamingCodec.reachFrames(e.config());
        double peak = 0;
        double away = 0;
        for (int i = 0; i < whole.length; i++) {
            peak = Math.max(peak, Math.abs(whole[i]));
            int frame = i / 960;
            boolean seam = (frame >= 5 - reach && frame < 5) || (frame >= 30 - reach && frame < 30);
            if (!seam) {
                away = Math.max(away, Math.abs(streamed[i] - whole[i]));
            }
        }
        System.out.printf("codec engine stream vs whole, away from the seams: %.2e of the peak%n", away / peak);
        assertThat(away / peak).isLessThan(1e-5);
    }
}
