package dev.higgstrt.audio;

import dev.higgstrt.audio.CodecWeights.Conv;
import dev.higgstrt.audio.CodecWeights.Snake;
import dev.higgstrt.model.ConfigException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The CPU reference decoder against transformers' {@code HiggsAudioV2TokenizerModel.decode} on
 * random tiny codecs (fixtures made by scripts/fixtures/make_codec_fixtures.py), and each block
 * against hand-derived values.
 */
class CodecDecoderTest {
    static final java.util.List<String> CASES = CodecFixtures.CASES;

    /** The documented bound: 1e-4 of the signal's peak, in float32. */
    static final double BOUND = 1e-4;

    @ParameterizedTest
    @FieldSource("CASES")
    void decodeEqualsTransformers(String name) throws Exception {
        Path folder = CodecFixtures.folder(name);
        CodecConfig config = CodecConfig.read(folder);
        CodecDecoder decoder = new CodecDecoder(CodecWeights.load(folder.resolve("model.safetensors"), config));
        int[][] codes = CodecFixtures.codes(name);
        float[] want = CodecFixtures.audio(name);
        float[] got = decoder.decode(codes);
        assertThat(got).hasSize(codes[0].length * config.samplesPerFrame()).hasSameSizeAs(want);
        assertThat(CodecFixtures.relativeError(got, want)).as(name).isLessThan(BOUND);
    }

    @ParameterizedTest
    @FieldSource("CASES")
    void bosonNamesWithWeightNormDecodeTheSame(String name) throws Exception {
        Path folder = CodecFixtures.folder(name);
        CodecConfig config = CodecConfig.read(folder);
        CodecDecoder decoder = new CodecDecoder(CodecWeights.load(folder.resolve("boson.safetensors"), config));
        assertThat(CodecFixtures.relativeError(decoder.decode(CodecFixtures.codes(name)), CodecFixtures.audio(name)))
                .isLessThan(BOUND);
    }

    @Test
    void theGeometryComesFromTheConfig() throws Exception {
        CodecConfig tiny = CodecConfig.read(CodecFixtures.folder("tiny_odd_even"));
        assertThat(tiny.numQuantizers()).isEqualTo(4);      // 1000 * 9.6 // (400 * 6)
        assertThat(tiny.samplesPerFrame()).isEqualTo(6);
        CodecConfig defaults = CodecConfig.read(CodecFixtures.folder("default_bandwidths"));
        assertThat(defaults.numQuantizers()).as("1000 * 4 // (100 * 5)").isEqualTo(8);
        CodecConfig real = CodecConfig.read(CodecFixtures.folder("real_geometry_narrow"));
        assertThat(real).extracting(CodecConfig::sampleRate, CodecConfig::numQuantizers, CodecConfig::samplesPerFrame,
                CodecConfig::codebookSize).containsExactly(24000, 8, 960, 1024);
    }

    @Test
    void aConfigWithoutTargetBandwidthsGetsSixteenQuantizersAndTheCheckpointIsRefused(@TempDir Path dir) throws Exception {
        Path folder = CodecFixtures.folder("real_geometry_narrow");
        String json = Files.readString(folder.resolve("config.json")).replaceAll("\"target_bandwidths\"\\s*:\\s*\\[[^]]*],?", "");
        assertThat(json).doesNotContain("target_bandwidths");
        Files.writeString(dir.resolve("config.json"), json);
        Files.copy(folder.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        CodecConfig c = CodecConfig.read(dir);
        assertThat(c.numQuantizers()).as("1000 * 4 // (25 * 10), transformers 5.17's default").isEqualTo(16);
        assertThatThrownBy(() -> CodecDecoder.load(dir)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("no tensor 'quantizer.quantizers.8.codebook.embed'")
                .hasMessageContaining("config.json gives 16 quantizers");
    }

    @Test
    void badCodesAreRefusedNamingWhatIsWrong() throws Exception {
        CodecDecoder d = CodecDecoder.load(fixtureCopy("tiny_odd_even"));
        int[][] codes = CodecFixtures.codes("tiny_odd_even");
        assertThatThrownBy(() -> d.decode(new int[][]{codes[0], codes[1], codes[2]}))
                .hasMessage("codes have 3 codebooks, the codec has 4");
        assertThatThrownBy(() -> d.decode(new int[4][0])).hasMessage("codes have no frames: nothing to decode");
        int[][] bad = {codes[0].clone(), codes[1], codes[2], codes[3]};
        bad[0][2] = 64;
        assertThatThrownBy(() -> d.decode(bad)).hasMessage("code 64 of codebook 0 at frame 2 is out of range [0, 64)");
        int[][] ragged = {codes[0], codes[1], java.util.Arrays.copyOf(codes[2], 3), codes[3]};
        assertThatThrownBy(() -> d.decode(ragged)).hasMessageContaining("codebook 2 has 3 frames");
    }

    @Test
    void aCheckpointOfAnotherGeometryIsRefusedNamingTheTensor(@TempDir Path dir) throws Exception {
        Path folder = CodecFixtures.folder("tiny_odd_even");
        Files.writeString(dir.resolve("config.json"), Files.readString(folder.resolve("config.json"))
                .replace("\"decoder_hidden_size\": 32", "\"decoder_hidden_size\": 64"));
        Files.copy(folder.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        assertThatThrownBy(() -> CodecDecoder.load(dir)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("tensor 'acoustic_decoder.conv1.weight' has shape [32, 16, 7], expected [64, 16, 7]");
        assertThatThrownBy(() -> CodecConfig.parse("{\"model_type\": \"higgs_audio_v2\"}"))
                .hasMessageContaining("expected higgs_audio_v2_tokenizer");
    }

    private static Path fixtureCopy(String name) throws Exception {
        Path dir = Files.createTempDirectory("codec");
        Path folder = CodecFixtures.folder(name);
        Files.copy(folder.resolve("config.json"), dir.resolve("config.json"));
        Files.copy(folder.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        return dir;
    }

    @Test
    void snakeIsXPlusSineSquaredOverAlpha() {
        float[][] y = CodecDecoder.snake(new float[][]{{0f, 1f, -2f}, {0.5f, 3f, 1f}}, new Snake(new float[]{1f, 0.5f}));
        assertThat(y[0][0]).isEqualTo(0f);
        assertThat(y[0][1]).isCloseTo((float) (1 + Math.pow(Math.sin(1), 2)), within(1e-6f));
        assertThat(y[0][2]).isCloseTo((float) (-2 + Math.pow(Math.sin(-2), 2)), within(1e-6f));
        assertThat(y[1][1]).isCloseTo((float) (3 + Math.pow(Math.sin(1.5), 2) / 0.5), within(1e-6f));
    }

    @Test
    void theTransposedConvolutionUpsamplesByExactlyItsStride() {
        for (int stride = 1; stride <= 8; stride++) {
            Conv w = new Conv(new float[2 * stride], new float[]{0.25f}, 1, 1, 2 * stride);
            assertThat(CodecDecoder.convTranspose(new float[][]{new float[5]}, w, stride)[0]).as("stride %d", stride)
                    .hasSize(5 * stride).containsOnly(0.25f);
        }
        // stride 2: kernel 4, padding 1, output padding 0: out[j] = sum over t, k with 2t + k - 1 = j of w[k] x[t]
        float[] k = {1, 10, 100, 1000};
        float[] y = CodecDecoder.convTranspose(new float[][]{{1, 2, 3}}, new Conv(k, new float[]{0}, 1, 1, 4), 2)[0];
        assertThat(y).containsExactly(10, 100 + 2 * 1, 1000 + 2 * 10, 2 * 100 + 3 * 1, 2 * 1000 + 3 * 10, 3 * 100);
        // stride 3: kernel 6, padding 2, output padding 1: out[j] gets w[k] x[t] where 3t + k - 2 = j
        float[] k3 = {1, 2, 3, 4, 5, 6};
        float[] y3 = CodecDecoder.convTranspose(new float[][]{{1, 10}}, new Conv(k3, new float[]{0}, 1, 1, 6), 3)[0];
        assertThat(y3).containsExactly(3, 4 + 10, 5 + 2 * 10, 6 + 3 * 10, 4 * 10, 5 * 10);
    }

    @Test
    void theDilatedConvolutionPadsToTheSameLength() {
        // kernel 7, dilation 3, padding 9: out[t] = sum_k w[k] x[t + 3k - 9]; one-hot input at 10
        float[] x = new float[20];
        x[10] = 1;
        float[] w = {1, 2, 3, 4, 5, 6, 7};
        float[] y = CodecDecoder.conv(new float[][]{x}, new Conv(w, new float[]{0.5f}, 1, 1, 7), 3, 9)[0];
        assertThat(y).hasSize(20);
        for (int t = 0; t < 20; t++) {
            int k = (10 - t + 9);
            float want = 0.5f + (k % 3 == 0 && k / 3 < 7 && k >= 0 ? w[k / 3] : 0);
            assertThat(y[t]).as("t=%d", t).isEqualTo(want);
        }
    }

    @Test
    void theTransposedConvolutionIsAThreeWideConvolutionOfItsPhases() {
        java.util.Random r = new java.util.Random(8);
        for (int stride = 1; stride <= 8; stride++) {
            int in = 3;
            int out = 2;
            float[] w = new float[in * out * 2 * stride];
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) r.nextGaussian();
            }
            Conv t = new Conv(w, new float[]{0.5f, -0.25f}, in, out, 2 * stride);
            float[][] x = new float[in][9];
            for (float[] row : x) {
                for (int i = 0; i < row.length; i++) {
                    row[i] = (float) r.nextGaussian();
                }
            }
            float[][] want = CodecDecoder.convTranspose(x, t, stride);
            float[][] got = CodecDecoder.interleave(CodecDecoder.conv(x, CodecDecoder.polyphase(t, stride), 1, 1), stride);
            for (int o = 0; o < out; o++) {
                for (int j = 0; j < want[o].length; j++) {
                    assertThat(got[o][j]).as("stride %d, channel %d, sample %d", stride, o, j).isCloseTo(want[o][j], within(1e-5f));
                }
            }
        }
    }
}
