package dev.higgstrt.generation;

import dev.higgstrt.model.SpeechTokens;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Chooses one frame (a code per codebook) from the audio logits of a step, with the delay
 * pattern's state: the codebooks open one a step after the forced all-BOS frame, and once a
 * codebook emits EOS they close one a step, each closed one allowed only EOS. Then the text
 * placeholder that follows the frame. Each rule is transformers' {@code
 * HiggsAudioV2DelayPatternLogitsProcessor} and {@code _sample}: the state starts from the last
 * {@code K} ids of the prompt. One sampler per sequence; not thread-safe.
 */
public final class FrameSampler {
    private final SpeechTokens ids;
    private final Sampling sampling;
    private final SplittableRandom random;
    private final int k;
    private final int c;
    private final int[] bos;
    private final int[] eos;
    private final List<int[]> history;
    private final float[] scores;
    private final double[] probs;
    private final int[] live;
    private final float[] select;
    private final int[] histogram;
    private final long[] keys;
    private int lastText;

    /**
     * A sampler for a sequence whose prompt is {@code promptIds} and whose prompt audio frames
     * (a voice reference, for RAS) are {@code promptFrames}.
     *
     * @param ids          the model's ids
     * @param sampling     how codes are chosen
     * @param promptIds    the prompt's text ids (the last is normally {@code <|audio_out_bos|>})
     * @param promptFrames the prompt's audio frames
     */
    public FrameSampler(SpeechTokens ids, Sampling sampling, int[] promptIds, List<int[]> promptFrames) {
        this.ids = ids;
        this.sampling = sampling;
        this.random = new SplittableRandom(sampling.seed());
        this.k = ids.numCodebooks();
        this.c = ids.codebookSize();
        this.bos = new int[k];
        this.eos = new int[k];
        int tail = Math.min(k, promptIds.length);
        int firstBos = -1;
        int firstDelay = -1;
        for (int i = 0; i < tail; i++) {
            int id = promptIds[promptIds.length - tail + i];
            if (id == ids.audioOutBos() && firstBos < 0) {
                firstBos = i;
            }
            if (id == ids.delayToken() && firstDelay < 0) {
                firstDelay = i;
            }
        }
        for (int cb = 0; cb < k; cb++) {
            bos[cb] = firstBos < 0 ? 0 : cb + 1 - (k - firstBos);
            eos[cb] = firstDelay < 0 ? cb + 1 : cb + 1 - (k - firstDelay);
        }
        this.history = new ArrayList<>(promptFrames);
        this.lastText = promptIds.length == 0 ? -1 : promptIds[promptIds.length - 1];
        this.scores = new float[c];
        this.probs = new double[c];
        this.live = new int[c];
        this.select = new float[c];
        this.histogram = new int[256];
        this.keys = new long[c];
    }

    /**
     * The next frame from the audio logits of the last position, [K * codebookSize].
     *
     * @param logits the step's audio logits (not changed)
     * @return the frame, a code per codebook
     */
    public int[] next(float[] logits) {
        if (logits.length != k * c) {
            throw new IllegalArgumentException("audio logits of " + logits.length + " values, expected " + k + " x " + c);
        }
        int[] frame = new int[k];
        boolean delayed = lastText == ids.delayToken();
        for (int cb = 0; cb < k; cb++) {
            System.arraycopy(logits, cb * c, scores, 0, c);
            if (bos[cb] >= 0) {
                maskAllBut(ids.streamBos());
                bos[cb]--;
            }
            if (delayed) {
                eos[cb]--;
            }
            if (eos[cb] <= 0) {
                maskAllBut(ids.streamEos());
            }
            frame[cb] = sampling.greedy() ? argmax(scores) : draw();
        }
        if (sampling.ras().isPresent()) {
            Sampling.Ras ras = sampling.ras().get();
            int from = Math.max(0, history.size() - ras.window());
            for (int cb = 0; cb < k; cb++) {
                int repeats = 0;
                for (int f = from; f < history.size(); f++) {
                    int code = history.get(f)[cb];
                    if (code == frame[cb] && code != ids.streamBos() && code != ids.streamEos()) {
                        repeats++;
                    }
                }
                if (repeats >= ras.maxRepeat()) {
                    System.arraycopy(logits, cb * c, scores, 0, c);
                    frame[cb] = drawFromSoftmax(scores);
                }
            }
        }
        history.add(frame);
        lastText = placeholderAfter(frame);
        return frame;
    }

    /**
     * The text id that followed the last frame: {@code audio_token_id}, the delay token once a
     * codebook emitted EOS (and from then on), or {@code eos_token_id} after an all-EOS frame.
     *
     * @return the last placeholder
     */
    public int lastText() {
        return lastText;
    }

    /**
     * Whether the last frame ended the stream (all EOS).
     *
     * @return true once the placeholder is {@code eos_token_id}
     */
    public boolean finished() {
        return lastText == ids.eos();
    }

    private int placeholderAfter(int[] frame) {
        boolean anyEos = false;
        boolean allEos = true;
        for (int code : frame) {
            anyEos |= code == ids.streamEos();
            allEos &= code == ids.streamEos();
        }
        if (allEos) {
            return ids.eos();
        }
        return anyEos || lastText == ids.delayToken() ? ids.delayToken() : ids.audioToken();
    }

    private void maskAllBut(int keep) {
        for (int i = 0; i < c; i++) {
            if (i != keep) {
                scores[i] = Float.NEGATIVE_INFINITY;
            }
        }
    }

    /** The first index of the largest score, as torch.argmax. */
    static int argmax(float[] s) {
        int best = 0;
        for (int i = 1; i < s.length; i++) {
            if (s[i] > s[best]) {
                best = i;
            }
        }
        return best;
    }

    /**
     * Temperature, then top-k, then top-p, then a draw, on {@link #scores}. Only the codes still
     * in play are touched after top-k: a step costs a selection over the codebook and the
     * exponentials of the k kept, not a sort of all codes.
     */
    private int draw() {
        int n = liveCodes(scores);
        if (n == 0) {
            return 0;
        }
        if (sampling.topK() > 0 && sampling.topK() < n) {
            // a positive temperature keeps the order, so the k largest are the same before or after it
            float kth = kthLargest(n, sampling.topK());
            int kept = 0;
            for (int j = 0; j < n; j++) {
                int code = live[j];
                live[kept] = code;
                kept += scores[code] >= kth ? 1 : 0;
            }
            n = kept;
        }
        float t = (float) sampling.temperature();
        if (t != 1f) {
            for (int j = 0; j < n; j++) {
                scores[live[j]] /= t;
            }
        }
        n = softmaxOver(n);
        if (sampling.topP() < 1) {
            n = topP(n, sampling.topP());
        }
        return drawOver(n);
    }

    /** Probabilities of the first {@code n} live codes into {@link #probs}; returns n. */
    private int softmaxOver(int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) {
            max = Math.max(max, scores[live[j]]);
        }
        double sum = 0;
        for (int j = 0; j < n; j++) {
            double e = Math.exp(scores[live[j]] - max);
            probs[live[j]] = e;
            sum += e;
        }
        for (int j = 0; j < n; j++) {
            probs[live[j]] /= sum;
        }
        return n;
    }

    /**
     * Removes the codes of the lowest probabilities whose summed probability stays at or below
     * 1 - p (sorted ascending, as transformers' TopPLogitsWarper), always keeping the largest.
     * Returns the live count, the live codes again in code order.
     */
    private int topP(int n, double p) {
        for (int j = 0; j < n; j++) {
            // ascending by score, ties by code: the score's bits made order-preserving, then the code
            int bits = Float.floatToIntBits(scores[live[j]]);
            bits ^= (bits >> 31) & 0x7fffffff;
            keys[j] = ((long) bits << 32) | (live[j] & 0xffffffffL);
        }
        Arrays.sort(keys, 0, n);
        double cumulative = 0;
        int removed = 0;
        for (int r = 0; r < n - 1; r++) {
            cumulative += probs[(int) keys[r]];
            if (cumulative <= 1 - p) {
                removed = r + 1;
            } else {
                break;
            }
        }
        int kept = 0;
        for (int r = removed; r < n; r++) {
            live[kept++] = (int) keys[r];
        }
        Arrays.sort(live, 0, kept);
        double sum = 0;
        for (int j = 0; j < kept; j++) {
            sum += probs[live[j]];
        }
        for (int j = 0; j < kept; j++) {
            probs[live[j]] /= sum;
        }
        return kept;
    }

    private int drawOver(int n) {
        double u = random.nextDouble();
        double cumulative = 0;
        for (int j = 0; j < n; j++) {
            cumulative += probs[live[j]];
            if (u < cumulative) {
                return live[j];
            }
        }
        return live[n - 1];
    }

    /**
     * The k-th largest score of the first {@code n} live codes, by a radix step: a histogram of
     * the top 8 bits of the scores' order-preserving keys finds the bucket that holds it (two
     * passes of counting, with no data-dependent branches to mispredict), and a selection among
     * that bucket's few scores gives the value.
     */
    private float kthLargest(int n, int k) {
        int[] counts = histogram;
        java.util.Arrays.fill(counts, 0);
        for (int j = 0; j < n; j++) {
            counts[orderedKey(scores[live[j]]) >>> 24]++;
        }
        int above = 0;
        int bucket = 255;
        while (above + counts[bucket] < k) {
            above += counts[bucket--];
        }
        int m = 0;
        for (int j = 0; j < n; j++) {
            float v = scores[live[j]];
            select[m] = v;
            m += (orderedKey(v) >>> 24) == bucket ? 1 : 0;
        }
        return quickselect(select, m, m - (k - above));
    }

    /** The bits of a float as an int whose unsigned order is the floats' order. */
    private static int orderedKey(float v) {
        int bits = Float.floatToRawIntBits(v);
        return bits ^ ((bits >> 31) | 0x80000000);
    }

    /** The codes of {@code s} that are not masked (-inf) into {@link #live}, in code order; returns their count. */
    private int liveCodes(float[] s) {
        int n = 0;
        for (int i = 0; i < c; i++) {
            live[n] = i;
            n += s[i] != Float.NEGATIVE_INFINITY ? 1 : 0;
        }
        return n;
    }

    /** The value of rank {@code target} (0 the smallest) among {@code v[0..n)}; reorders v. */
    static float quickselect(float[] v, int n, int target) {
        int lo = 0;
        int hi = n - 1;
        while (lo < hi) {
            float pivot = v[(lo + hi) >>> 1];
            int i = lo;
            int j = hi;
            while (i <= j) {
                while (v[i] < pivot) {
                    i++;
                }
                while (v[j] > pivot) {
                    j--;
                }
                if (i <= j) {
                    float tmp = v[i];
                    v[i] = v[j];
                    v[j] = tmp;
                    i++;
                    j--;
                }
            }
            if (target <= j) {
                hi = j;
            } else if (target >= i) {
                lo = i;
            } else {
                break;
            }
        }
        return v[target];
    }

    /** A draw from the softmax of all of {@code s} (RAS's draw from the unmodified logits). */
    private int drawFromSoftmax(float[] s) {
        int n = liveCodes(s);
        if (s != scores) {
            System.arraycopy(s, 0, scores, 0, c);
        }
        return drawOver(softmaxOver(n));
    }

}
