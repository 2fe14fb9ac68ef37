package dev.higgstrt.audio;

import dev.higgstrt.io.Json;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The fixtures of scripts/fixtures/make_codec_fixtures.py (transformers 5.17's decode). */
final class CodecFixtures {
    static final List<String> CASES = List.of("tiny_odd_even", "default_bandwidths", "real_geometry_narrow");

    private CodecFixtures() {
    }

    static Path folder(String name) {
        try {
            return Path.of(CodecFixtures.class.getResource("/codec/" + name + "/config.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static int[][] codes(String name) {
        try {
            return Json.STRICT.readValue(Files.readString(folder(name).resolve("codes.json")), CodesFile.class).codes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    record CodesFile(int[][] codes) {
    }

    static float[] audio(String name) {
        try {
            ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(folder(name).resolve("audio.f32"))).order(ByteOrder.LITTLE_ENDIAN);
            float[] out = new float[b.remaining() / 4];
            b.asFloatBuffer().get(out);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The largest difference over the peak of {@code want}. */
    static double relativeError(float[] got, float[] want) {
        double peak = 0;
        double worst = 0;
        for (int i = 0; i < want.length; i++) {
            peak = Math.max(peak, Math.abs(want[i]));
            worst = Math.max(worst, Math.abs(got[i] - want[i]));
        }
        return worst / peak;
    }
}
