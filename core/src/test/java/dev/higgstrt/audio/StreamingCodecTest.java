package dev.higgstrt.audio;

import dev.higgstrt.generation.DelayPattern;
import dev.higgstrt.generation.DelayedCodes;
import dev.higgstrt.synth.SyntheticCodec;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * Streaming decode against the whole decode on the tiny synthetic codec (the real frame
 * geometry: 960 samples a frame): equal bit for bit away from the seams, within the documented
 * bound near them; and the incremental delay reverting against {@link DelayPattern#codecCodes}.
 */
class StreamingCodecTest {
    static CodecDecoder codec;

    @BeforeAll
    static void codec(@TempDir Path dir) throws Exception {
        SyntheticCodec.write(dir, SyntheticCodec.tiny(), 5);
        codec = CodecDecoder.load(dir);
    }

    static int[][] randomCodes(int frames, long seed) {
        Random r = new Random(seed);
        int[][] codes = new int[codec.config().numQuantizers()][frames];
        for (int[] row : codes) {
            for (int t = 0; t < frames; t++) {
                row[t] = r.nextInt(codec.config().codebookSize());
            }
        }
        return codes;
    }

    /** Streams codes column by column; returns the concatenated chunks, recording each chunk's length. */
    static float[] stream(int[][] codes, StreamingCodec.Options options, List<Integer> chunks) {
        List<float[]> parts = new ArrayList<>();
        StreamingCodec s = new StreamingCodec(codec, options, p -> {
            parts.add(p);
            chunks.add(p.length);
        });
        for (int t = 0; t < codes[0].length; t++) {
            int[] col = new int[codes.length];
            for (int q = 0; q < codes.length; q++) {
                col[q] = codes[q][t];
            }
            s.push(col);
        }
        s.finish();
        int n = parts.stream().mapToInt(p -> p.length).sum();
        float[] all = new float[n];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        assertThat(s.emittedSamples()).isEqualTo(n);
        return all;
    }

    @Test
    void awayFromTheSeamsTheStreamIsTheWholeDecodeBitForBit() {
        int[][] codes = randomCodes(62, 1);
        float[] whole = codec.decode(codes);
        StreamingCodec.Options o = StreamingCodec.Options.standard();
        List<Integer> chunks = new ArrayList<>();
        float[] streamed = stream(codes, o, chunks);
        assertThat(streamed).hasSameSizeAs(whole);
        int spf = 960;
        // chunks end after 5, 30 and 55 columns; the last (62) is the end, no seam
        assertThat(chunks).containsExactly((5 - 2) * spf, 25 * spf, 25 * spf, (62 - 53) * spf);
        int reach = StreamingCodec.reachFrames(codec.config());
        boolean[] seam = new boolean[whole.length];
        for (int end : new int[]{5, 30, 55}) {
            for (int i = Math.max(0, (end - reach) * spf); i < end * spf; i++) {
                seam[i] = true;
            }
        }
        double peak = 0;
        double seamError = 0;
        int exact = 0;
        for (int i = 0; i < whole.length; i++) {
            peak = Math.max(peak, Math.abs(whole[i]));
            if (seam[i]) {
                seamError = Math.max(seamError, Math.abs(streamed[i] - whole[i]));
            } else {
                assertThat(streamed[i]).as("sample %d", i).isEqualTo(whole[i]);
                exact++;
            }
        }
        assertThat(exact).isGreaterThan(whole.length / 3);
        assertThat(seamError / peak).as("near a seam, of the peak (measured 0.020)").isGreaterThan(0).isLessThan(0.1);
    }

    @Test
    void aContextShorterThanTheReachChangesSamplesAwayFromTheSeams() {
        int[][] codes = randomCodes(40, 2);
        float[] whole = codec.decode(codes);
        float[] streamed = stream(codes, new StreamingCodec.Options(10, 10, 1, 1), new ArrayList<>());
        int differing = 0;
        // frames 20..28: two chunks past the seams of 10 and 20, beyond the reach after 20
        for (int i = 23 * 960; i < 28 * 960; i++) {
            differing += streamed[i] != whole[i] ? 1 : 0;
        }
        assertThat(differing).as("the left context matters: 1 frame is less than the decoder's reach").isPositive();
    }

    @Test
    void theCrossFadeWeightsRiseAndPairToOne() {
        int n = 1920;
        float last = -1;
        for (int i = 0; i < n; i++) {
            float w = StreamingCodec.fadeIn(i, n);
            assertThat(w).isGreaterThan(last);
            assertThat(w + StreamingCodec.fadeIn(n - 1 - i, n)).isCloseTo(1f, within(1e-6f));
            last = w;
        }
        assertThat(StreamingCodec.fadeIn(0, n)).as("0.08 / (0.08 + 1): Hamming's floor").isLessThan(0.08f);
    }

    @Test
    void theReachOfThePublishedGeometryIsTwelveFrames() {
        // 3 + sum over blocks of 39 x (samples per sample after it) + the transposed convolutions' 2 input samples + 3 x 960
        assertThat(StreamingCodec.reachFrames(SyntheticCodec.full())).isEqualTo(12);
        assertThat(StreamingCodec.Options.standard().contextFrames()).isGreaterThanOrEqualTo(12);
    }

    @Test
    void optionsAndColumnsAreChecked() {
        assertThatThrownBy(() -> new StreamingCodec.Options(2, 25, 25, 2)).hasMessageContaining("must be shorter than each chunk");
        assertThatThrownBy(() -> new StreamingCodec.Options(0, 25, 25, 0)).hasMessageContaining("must be positive");
        StreamingCodec s = new StreamingCodec(codec, StreamingCodec.Options.standard(), p -> { });
        assertThatThrownBy(() -> s.push(new int[3])).hasMessage("a column of 3 codes, the codec has 4 quantizers");
        s.finish();
        assertThatThrownBy(() -> s.push(new int[4])).hasMessage("the stream is finished");
    }

    @Test
    void columnsRevertedAsFramesArriveAreTheProcessorsCodes() {
        Random r = new Random(3);
        int k = 4;
        int bos = 32;
        int eos = 33;
        int[][] codes = new int[k][17];
        for (int[] row : codes) {
            for (int t = 0; t < row.length; t++) {
                row[t] = r.nextInt(bos + 2);   // BOS and EOS inside too: both are clipped
            }
        }
        List<int[]> frames = new ArrayList<>(List.of(DelayPattern.apply(codes, bos, eos)));
        frames.add(new int[]{5, 5, 5, 5});   // after the all-EOS frame: ignored by both
        int[][] want = DelayPattern.codecCodes(frames, bos, eos);
        DelayedCodes d = new DelayedCodes(k, bos, eos);
        List<int[]> got = new ArrayList<>();
        for (int[] f : frames) {
            d.push(f).ifPresent(got::add);
        }
        assertThat(d.ended()).isTrue();
        assertThat(got).hasSize(want[0].length);
        for (int t = 0; t < got.size(); t++) {
            for (int q = 0; q < k; q++) {
                assertThat(got.get(t)[q]).isEqualTo(want[q][t]);
            }
        }
    }

    @Test
    void aDecoderWithAFrameLimitDecodesLongCodesInWindows() {
        int[][] codes = randomCodes(130, 9);
        float[] whole = codec.decode(codes);
        AudioDecoder limited = new AudioDecoder() {
            @Override
            public CodecConfig config() {
                return codec.config();
            }

            @Override
            public float[] decode(int[][] c) {
                assertThat(c[0].length).as("a call within the limit").isLessThanOrEqualTo(60);
                return codec.decode(c);
            }

            @Override
            public int maxFrames() {
                return 60;
            }
        };
        float[] windowed = StreamingCodec.decodeAll(limited, codes);
        assertThat(windowed).hasSameSizeAs(whole);
        int reach = StreamingCodec.reachFrames(codec.config());
        // windows of 35 new frames end at 35, 70 and 105; away from those ends the samples are the whole decode's
        for (int i = 0; i < whole.length; i++) {
            int frame = i / 960;
            boolean seam = false;
            for (int end : new int[]{35, 70, 105}) {
                seam |= frame >= end - reach && frame < end;
            }
            if (!seam) {
                assertThat(windowed[i]).as("sample %d", i).isEqualTo(whole[i]);
            }
        }
        assertThat(StreamingCodec.decodeAll(codec, codes)).isEqualTo(whole);
    }
}
