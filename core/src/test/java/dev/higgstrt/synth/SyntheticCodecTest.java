package dev.higgstrt.synth;

import dev.higgstrt.audio.CodecConfig;
import dev.higgstrt.audio.CodecDecoder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** A synthetic codec reads back as its geometry and decodes to bounded, non-silent noise. */
class SyntheticCodecTest {
    @Test
    void theTinyCodecRoundTripsAndDecodes(@TempDir Path dir) throws Exception {
        SyntheticCodec.write(dir, SyntheticCodec.tiny(), 3);
        assertThat(CodecConfig.read(dir)).isEqualTo(SyntheticCodec.tiny());
        CodecDecoder d = CodecDecoder.load(dir);
        int[][] codes = new int[4][10];
        for (int q = 0; q < 4; q++) {
            for (int t = 0; t < 10; t++) {
                codes[q][t] = (q * 7 + t * 3) % 32;
            }
        }
        float[] s = d.decode(codes);
        assertThat(s).hasSize(9600);
        double sum = 0;
        for (float v : s) {
            assertThat(Float.isFinite(v)).isTrue();
            sum += v * v;
        }
        double rms = Math.sqrt(sum / s.length);
        assertThat(rms).as("audible, not exploding").isBetween(1e-4, 10.0);
    }

    @Test
    void theFullGeometryIsThePublishedOne() {
        CodecConfig c = SyntheticCodec.full();
        assertThat(c.samplesPerFrame()).isEqualTo(960);
        assertThat(CodecConfig.parse(c.toJson())).isEqualTo(c);
        long params = 0;
        // quantizers, fc2, and the decoder's convolutions: about 21.5 M
        params += (long) c.numQuantizers() * (c.codebookSize() * c.codebookDim() + c.hiddenSize() * (c.codebookDim() + 1));
        params += (long) c.acousticHiddenSize() * (c.hiddenSize() + 1);
        params += (long) c.decoderHiddenSize() * (c.acousticHiddenSize() * 7 + 1);
        for (int b = 0; b < 5; b++) {
            int in = c.channelsAfter(b - 1);
            int out = c.channelsAfter(b);
            params += in + (long) in * out * 2 * c.upsamplingRatios().get(b) + out;
            params += 3L * (2L * out + (long) out * out * 7 + out + (long) out * out + out);
        }
        params += c.channelsAfter(4) + c.channelsAfter(4) * 7L + 1;
        assertThat(params / 1e6).isBetween(21.0, 22.0);
    }
}
