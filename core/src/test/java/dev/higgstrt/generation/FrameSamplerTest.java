package dev.higgstrt.generation;

import dev.higgstrt.model.SpeechTokens;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The delay pattern's rules and the sampling steps on hand-made logits: three codebooks of six
 * codes, stream BOS 4 and EOS 5; text ids: audio 90, delay 91, audio-out BOS 92, end 93.
 */
class FrameSamplerTest {
    static final SpeechTokens IDS = new SpeechTokens(90, 91, 92, 93, 4, 5, 3, 6);
    static final int[] PROMPT = {7, 8, 9, 92};

    /** Logits where codebook k prefers code {@code prefer[k]}. */
    static float[] prefer(int... prefer) {
        float[] l = new float[3 * 6];
        for (int k = 0; k < 3; k++) {
            for (int c = 0; c < 6; c++) {
                l[k * 6 + c] = c == prefer[k] ? 5f : (float) (c * 0.1);
            }
        }
        return l;
    }

    @Test
    void codebooksOpenOneAStepAfterTheAllBosFrame() {
        FrameSampler s = new FrameSampler(IDS, Sampling.GREEDY, PROMPT, List.of());
        float[] wantsOne = prefer(1, 1, 1);
        assertThat(s.next(wantsOne)).containsExactly(4, 4, 4);     // forced all BOS
        assertThat(s.lastText()).isEqualTo(90);
        assertThat(s.next(wantsOne)).containsExactly(1, 4, 4);     // codebook 1 and 2 still BOS
        assertThat(s.next(wantsOne)).containsExactly(1, 1, 4);
        assertThat(s.next(wantsOne)).containsExactly(1, 1, 1);
        assertThat(s.lastText()).isEqualTo(90);
        // BOS is not masked once a codebook is open: a model that wants it gets it
        assertThat(s.next(prefer(4, 1, 1))).containsExactly(4, 1, 1);
    }

    @Test
    void onceACodebookEmitsEosTheyCloseInOrderOneAStep() {
        FrameSampler s = new FrameSampler(IDS, Sampling.GREEDY, PROMPT, List.of());
        for (int i = 0; i < 3; i++) {
            s.next(prefer(1, 1, 1));
        }
        assertThat(s.next(prefer(2, 5, 2))).containsExactly(2, 5, 2);   // codebook 1 ends first
        assertThat(s.lastText()).isEqualTo(91);                           // the delay token from now on
        assertThat(s.next(prefer(2, 2, 2))).containsExactly(5, 2, 2);   // codebook 0 closes, codebook 1 is open again
        assertThat(s.lastText()).isEqualTo(91);
        assertThat(s.next(prefer(2, 2, 2))).containsExactly(5, 5, 2);
        assertThat(s.finished()).isFalse();
        assertThat(s.next(prefer(2, 2, 2))).containsExactly(5, 5, 5);
        assertThat(s.lastText()).isEqualTo(93);
        assertThat(s.finished()).isTrue();
    }

    @Test
    void delayTokensAmongThePromptsLastIdsStartTheClosingEarlier() {
        // the first delay id is at index 1 of the last K = 3 ids: the EOS pattern starts at [-1, 0, 1], so
        // codebooks 0 and 1 are closed from the first step, while the BOS mask holds all three
        FrameSampler s = new FrameSampler(IDS, Sampling.GREEDY, new int[]{7, 91, 92}, List.of());
        int[] first = s.next(prefer(1, 1, 1));
        assertThat(first).as("BOS and EOS masks together leave -inf everywhere: argmax takes code 0").containsExactly(0, 0, 4);
        // without an audio-out BOS among the last ids, every codebook is forced to BOS for one frame only
        FrameSampler t = new FrameSampler(IDS, Sampling.GREEDY, new int[]{7, 8, 9, 10}, List.of());
        assertThat(t.next(prefer(1, 1, 1))).containsExactly(4, 4, 4);
        assertThat(t.next(prefer(1, 1, 1))).containsExactly(1, 1, 1);
    }

    private static Set<Integer> drawnOverSeeds(Sampling base, float[] logits, int codebook, int seeds) {
        Set<Integer> seen = new HashSet<>();
        for (int seed = 0; seed < seeds; seed++) {
            FrameSampler s = new FrameSampler(IDS, base.withSeed(seed), new int[]{7, 8, 9, 10}, List.of());
            s.next(logits);   // the forced all-BOS frame
            seen.add(s.next(logits)[codebook]);
        }
        return seen;
    }

    @Test
    void topKKeepsTheKLargestAndTopPTheSmallestSetReachingP() {
        // codebook 0: logits 3, 2, 1, 0, -1, -2: probabilities 0.63, 0.23, 0.086, 0.032, 0.012, 0.004
        float[] l = new float[18];
        for (int c = 0; c < 6; c++) {
            l[c] = 3 - c;
            l[6 + c] = 0;
            l[12 + c] = 0;
        }
        Sampling plain = new Sampling(false, 1.0, 0, 1.0, Optional.empty(), 0);
        assertThat(drawnOverSeeds(plain, l, 0, 400)).as("no filter: the small ones appear too").contains(0, 1, 2, 3);
        assertThat(drawnOverSeeds(plain.withTopK(2), l, 0, 400)).containsExactlyInAnyOrder(0, 1);
        assertThat(drawnOverSeeds(plain.withTopK(1), l, 0, 50)).containsExactly(0);
        // top-p 0.8: ascending cumulative 0.004, 0.016, 0.048, 0.134 stay at or below 0.2 and go; 0.23 and 0.63 stay
        assertThat(drawnOverSeeds(plain.withTopP(0.8), l, 0, 400)).containsExactlyInAnyOrder(0, 1);
        assertThat(drawnOverSeeds(plain.withTopP(0.9), l, 0, 400)).containsExactlyInAnyOrder(0, 1, 2);
        assertThat(drawnOverSeeds(plain.withTopP(0.01), l, 0, 50)).as("the largest always stays").containsExactly(0);
        // a low temperature sharpens: only the largest in practice
        assertThat(drawnOverSeeds(plain.withTemperature(0.05), l, 0, 200)).containsExactly(0);
    }

    @Test
    void rasDrawsAgainFromTheRawLogitsWhenACodeRepeatsInTheWindow() {
        float[] l = new float[18];
        Arrays.fill(l, -30f);
        for (int k = 0; k < 3; k++) {
            l[k * 6] = 3f;
            l[k * 6 + 1] = 3.01f;   // greedy takes 1; the raw distribution is about 50/50 between 0 and 1
        }
        List<int[]> history = List.of(new int[]{1, 1, 4}, new int[]{1, 2, 5}, new int[]{4, 1, 5});
        Sampling greedyRas = Sampling.GREEDY.withRas(Optional.of(new Sampling.Ras(4, 2)));
        Set<Integer> cb0 = new HashSet<>();
        Set<Integer> cb2 = new HashSet<>();
        for (int seed = 0; seed < 64; seed++) {
            FrameSampler s = new FrameSampler(IDS, greedyRas.withSeed(seed), new int[]{7, 8, 9, 10}, history);
            s.next(l);   // all BOS, which RAS does not count
            int[] f = s.next(l);
            cb0.add(f[0]);
            cb2.add(f[2]);
        }
        // codebook 0 had code 1 twice in the last 4 frames (the three given and the all-BOS one): drawn again
        assertThat(cb0).containsExactlyInAnyOrder(0, 1);
        // codebook 2 saw no 1 (BOS and EOS are not counted): greedy stays
        assertThat(cb2).containsExactly(1);
        FrameSampler off = new FrameSampler(IDS, Sampling.GREEDY, new int[]{7, 8, 9, 10}, history);
        off.next(l);
        assertThat(off.next(l)).containsExactly(1, 1, 1);
    }

    @Test
    void theSameSeedGivesTheSameFrames() {
        float[] l = new float[18];
        Arrays.fill(l, 0f);
        List<List<Integer>> runs = new ArrayList<>();
        for (long seed : new long[]{42, 42, 43}) {
            FrameSampler s = new FrameSampler(IDS, Sampling.sample(seed).withRas(Optional.empty()), new int[]{7, 92}, List.of());
            List<Integer> codes = new ArrayList<>();
            for (int i = 0; i < 20 && !s.finished(); i++) {
                for (int c : s.next(l)) {
                    codes.add(c);
                }
            }
            runs.add(codes);
        }
        assertThat(runs.get(0)).isEqualTo(runs.get(1));
        assertThat(runs.get(0)).isNotEqualTo(runs.get(2));
    }

    @Test
    void settingsAndLogitsAreChecked() {
        assertThatThrownBy(() -> Sampling.sample(1).withTemperature(0)).hasMessage("temperature must be positive, got 0.0");
        assertThatThrownBy(() -> Sampling.sample(1).withTopP(1.5)).hasMessage("top-p must be in (0, 1], got 1.5");
        assertThatThrownBy(() -> Sampling.sample(1).withTopK(-1)).hasMessage("top-k must be 0 (off) or positive, got -1");
        assertThatThrownBy(() -> new Sampling.Ras(0, 2)).hasMessageContaining("RAS window and max repeat must be positive");
        FrameSampler s = new FrameSampler(IDS, Sampling.GREEDY, PROMPT, List.of());
        assertThatThrownBy(() -> s.next(new float[5])).hasMessage("audio logits of 5 values, expected 3 x 6");
    }

    @Test
    void theDelayPatternRoundTripsAndCodecCodesFollowBatchDecode() {
        int[][] codes = {{1, 2, 3}, {0, 1, 2}, {3, 3, 0}};
        int[][] frames = DelayPattern.apply(codes, 4, 5);
        assertThat(frames).isDeepEqualTo(new int[][]{{4, 4, 4}, {1, 4, 4}, {2, 0, 4}, {3, 1, 3}, {5, 2, 3}, {5, 5, 0}, {5, 5, 5}});
        int[][] back = DelayPattern.revert(List.of(frames));
        assertThat(back).isDeepEqualTo(new int[][]{{4, 1, 2, 3, 5}, {4, 0, 1, 2, 5}, {4, 3, 3, 0, 5}});
        // from the last all-BOS frame to the first all-EOS frame, reverted, clipped below BOS
        List<int[]> generated = new ArrayList<>(List.of(frames));
        assertThat(DelayPattern.codecCodes(generated, 4, 5)).as("the codes come back").isDeepEqualTo(codes);
        generated.set(3, new int[]{3, 1, 4});   // a BOS inside the stream is clipped to BOS - 1
        assertThat(DelayPattern.codecCodes(generated, 4, 5)[2]).containsExactly(3, 3, 0);
        generated.set(3, new int[]{5, 1, 3});
        assertThat(DelayPattern.codecCodes(generated, 4, 5)[0]).containsExactly(1, 2, 3);
        assertThat(DelayPattern.codecCodes(List.of(new int[]{1, 2, 3}), 4, 5)).isDeepEqualTo(new int[3][0]);
    }

    /** What top-k then top-p keep, written the plain way: sorts of (score, code) pairs. */
    private static int[] naiveCandidates(float[] logits, double temperature, int topK, double topP) {
        int n = logits.length;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (logits[i] / (float) temperature);
        }
        boolean[] keep = new boolean[n];
        Arrays.fill(keep, true);
        if (topK > 0 && topK < n) {
            float[] sorted = logits.clone();
            Arrays.sort(sorted);
            float kth = sorted[n - topK];
            for (int i = 0; i < n; i++) {
                keep[i] = logits[i] >= kth;
            }
        }
        if (topP < 1) {
            Integer[] order = new Integer[n];
            Arrays.setAll(order, i -> i);
            Arrays.sort(order, (a, b) -> v[a] != v[b] ? Float.compare(v[a], v[b]) : Integer.compare(a, b));
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) {
                if (keep[i]) {
                    max = Math.max(max, v[i]);
                }
            }
            double sum = 0;
            double[] e = new double[n];
            for (int i = 0; i < n; i++) {
                e[i] = keep[i] ? Math.exp(v[i] - max) : 0;
                sum += e[i];
            }
            double cumulative = 0;
            int keptCount = 0;
            for (int i = 0; i < n; i++) {
                keptCount += keep[order[i]] ? 1 : 0;
            }
            int seen = 0;
            for (int i = 0; i < n; i++) {
                int code = order[i];
                if (!keep[code]) {
                    continue;
                }
                seen++;
                cumulative += e[code] / sum;
                if (seen < keptCount && cumulative <= 1 - topP) {
                    keep[code] = false;
                } else {
                    break;
                }
            }
        }
        return java.util.stream.IntStream.range(0, n).filter(i -> keep[i]).toArray();
    }

    @Test
    void topKAndTopPKeepWhatThePlainSortsKeepOnFullSizeCodebooks() {
        SpeechTokens full = new SpeechTokens(90, 91, 92, 93, 1024, 1025, 8, 1026);
        java.util.Random r = new java.util.Random(7);
        double[][] settings = {{1.0, 50, 1.0}, {1.0, 0, 0.95}, {0.8, 50, 0.9}, {0.7, 0, 0.5}, {1.3, 300, 0.99}, {1.0, 0, 0.999}, {1.0, 1025, 0.3}};
        int checked = 0;
        for (double[] set : settings) {
            Sampling sampling = new Sampling(false, set[0], (int) set[1], set[2], Optional.empty(), 1);
            FrameSampler sampler = new FrameSampler(full, sampling, new int[]{7}, List.of());
            for (int round = 0; round < 40; round++) {
                float[] l = new float[1026];
                double scale = 0.5 + r.nextDouble() * 6;
                for (int i = 0; i < l.length; i++) {
                    // every third round repeats values, so ties at the thresholds are exercised
                    l[i] = round % 3 == 0 ? (float) Math.round(r.nextGaussian() * 4) : (float) (r.nextGaussian() * scale);
                }
                int[] want = naiveCandidates(l, set[0], (int) set[1], set[2]);
                assertThat(sampler.candidateCodes(l)).as("settings %s, round %d", Arrays.toString(set), round).containsExactly(want);
                checked++;
            }
        }
        assertThat(checked).isEqualTo(280);
    }
}
