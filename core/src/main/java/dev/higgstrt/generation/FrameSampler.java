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
    /** Top-p's mass histogram buckets a probability (in (0, 1]) by its exponent and first 2 mantissa bits. */
    private static final int MASS_SHIFT = 21;
    private static final int MASS_BUCKETS = (Float.floatToRawIntBits(1f) >>> MASS_SHIFT) + 1;
    private final int[] identity;
    private final int[] code;
    private final float[] val;
    private final float[] prob;
    private final int[] exponents;
    private final int[] buckets;
    private final float[] select;
    private final double[] mass;
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
        this.identity = new int[c];
        Arrays.setAll(identity, i -> i);
        this.code = new int[c];
        this.val = new float[c];
        this.prob = new float[c];
        this.exponents = new int[c];
        this.buckets = new int[c];
        this.select = new float[c];
        this.mass = new double[MASS_BUCKETS];
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
            boolean onlyBos = bos[cb] >= 0;
            if (onlyBos) {
                bos[cb]--;
            }
            if (delayed) {
                eos[cb]--;
            }
            boolean onlyEos = eos[cb] <= 0;
            int off = cb * c;
            if (onlyBos || onlyEos) {
                // a mask leaves one code (or none, where both apply): every mode picks it, with no draw
                int keep = onlyBos ? ids.streamBos() : ids.streamEos();
                frame[cb] = onlyBos && onlyEos || logits[off + keep] == Float.NEGATIVE_INFINITY ? 0 : keep;
            } else {
                frame[cb] = sampling.greedy() ? argmax(logits, off, c) : draw(logits, off);
            }
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
                    frame[cb] = drawFromSoftmax(logits, cb * c);
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

    /** The first index of the largest of {@code s[off..off+n)}, as torch.argmax. */
    static int argmax(float[] s, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (s[off + i] > s[off + best]) {
                best = i;
            }
        }
        return best;
    }

    /**
     * Temperature, then top-k, then top-p, then a draw, from one codebook's logits {@code
     * logits[off..off+c)}. The candidates are compacted into {@link #code} / {@link #val} /
     * {@link #prob} (code order), so that every later pass is over the few kept, contiguous.
     */
    private int draw(float[] logits, int off) {
        int n = candidates(logits, off);
        return n == 0 ? 0 : drawOver(n);
    }

    /**
     * The codes a draw may give for one codebook's logits, in code order (for tests: what
     * top-k and top-p keep).
     */
    int[] candidateCodes(float[] codebookLogits) {
        return Arrays.copyOf(code, candidates(codebookLogits, 0));
    }

    /** The candidates after temperature, top-k and top-p with their weights; returns their count. */
    private int candidates(float[] logits, int off) {
        int n;
        if (sampling.topK() > 0 && sampling.topK() < c) {
            // a positive temperature keeps the order, so the k largest are the same before or after it
            n = topK(logits, off, sampling.topK());
        } else {
            System.arraycopy(logits, off, val, 0, c);
            System.arraycopy(identity, 0, code, 0, c);
            n = c;
        }
        float t = (float) sampling.temperature();
        if (t != 1f) {
            for (int j = 0; j < n; j++) {
                val[j] /= t;
            }
        }
        double sum = exponentials(n);
        if (sum <= 0) {
            return 0;
        }
        return sampling.topP() < 1 ? topP(n, sum, sampling.topP()) : n;
    }

    /**
     * {@code exp(val - max)} of the first n candidates into {@link #prob}; returns their sum (0
     * where every candidate is -inf).
     */
    private double exponentials(int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) {
            max = Math.max(max, val[j]);
        }
        if (max == Float.NEGATIVE_INFINITY) {
            return 0;
        }
        Exponentials.ofDifferences(val, max, prob, exponents, n);
        return Exponentials.sum(prob, n);
    }

    /**
     * Removes the candidates of the lowest scores whose summed probability stays at or below
     * 1 - p (ascending by score, ties by code, as transformers' TopPLogitsWarper), always keeping
     * the largest; returns the count kept, compacted in code order. A histogram of the
     * probability mass over the probabilities' exponent and first two mantissa bits (a bucket
     * spans a factor of 2^(1/4) at most) finds the bucket where the cumulative sum crosses 1 - p,
     * and only that bucket's few candidates are sorted.
     */
    private int topP(int n, double sum, double p) {
        double limit = (1 - p) * sum;
        int low = MASS_BUCKETS;
        for (int j = 0; j < n; j++) {
            int bucket = Float.floatToRawIntBits(prob[j]) >>> MASS_SHIFT;
            buckets[j] = bucket;
            low = Math.min(low, bucket);
        }
        int high = Float.floatToRawIntBits(1f) >>> MASS_SHIFT;   // the largest candidate's exp(0)
        for (int j = 0; j < n; j++) {
            mass[buckets[j]] += prob[j];
        }
        double cumulative = 0;
        int b = low;
        while (b < high && cumulative + mass[b] <= limit) {
            cumulative += mass[b++];
        }
        Arrays.fill(mass, low, high + 1, 0);
        int m = 0;
        for (int j = 0; j < n; j++) {
            keys[m] = composite(j);
            m += buckets[j] == b ? 1 : 0;
        }
        Arrays.sort(keys, 0, m);
        int removed = 0;
        int last = b == high ? m - 1 : m;   // the largest candidate of all is never removed
        for (int r = 0; r < last; r++) {
            cumulative += prob[(int) keys[r]];
            if (cumulative > limit) {
                break;
            }
            removed++;
        }
        long threshold = removed > 0 ? keys[removed - 1] : keys[0] - 1;
        int kept = 0;
        for (int j = 0; j < n; j++) {
            code[kept] = code[j];
            prob[kept] = prob[j];
            kept += composite(j) > threshold ? 1 : 0;
        }
        return kept;
    }

    /** Candidate j's score (as a signed-ordered int) above its index: ascending by score, ties by code. */
    private long composite(int j) {
        return ((long) (orderedKey(val[j]) ^ 0x80000000) << 32) | j;
    }

    private int drawOver(int n) {
        double sum = Exponentials.sum(prob, n);
        double u = random.nextDouble() * sum;
        double cumulative = 0;
        for (int j = 0; j < n; j++) {
            cumulative += prob[j];
            if (u < cumulative) {
                return code[j];
            }
        }
        // the sum above adds in another order: a draw past the running sum takes the last possible code
        int last = n - 1;
        while (last > 0 && prob[last] == 0) {
            last--;
        }
        return code[last];
    }

    /**
     * The codes of the k largest of {@code s[off..off+c)} and of any equal to the k-th (ties
     * stay, as in transformers' TopKLogitsWarper) into {@link #code} / {@link #val}, in code
     * order; returns their count. One pass over the codebook appends the codes at or above a
     * threshold (no branch on the value), which starts at an estimate from 64 evenly spaced
     * scores, where about twice k pass; should fewer than k pass, the pass is made again from
     * -inf. When the buffer fills, a selection keeps those at or above its k-th largest, which
     * becomes the threshold.
     */
    private int topK(float[] s, int off, int k) {
        float estimate = Float.NEGATIVE_INFINITY;
        if (c >= 16 * k) {
            int samples = 64;
            int stride = c / samples;
            for (int i = 0; i < samples; i++) {
                select[i] = s[off + i * stride];
            }
            int rank = Math.min(samples - 1, (int) Math.ceil(2.0 * k * samples / c));
            estimate = quickselect(select, samples, samples - 1 - rank);
        }
        int m = appendAtLeast(s, off, k, estimate);
        if (m < k) {
            m = appendAtLeast(s, off, k, Float.NEGATIVE_INFINITY);
        }
        return keepAtLeast(m, kthOf(m, k));
    }

    private int appendAtLeast(float[] s, int off, int k, float from) {
        int capacity = Math.min(c, 4 * k + 64);
        float threshold = from;
        int m = 0;
        for (int i = 0; i < c; i++) {
            float v = s[off + i];
            val[m] = v;
            code[m] = i;
            m += v >= threshold ? 1 : 0;
            if (m == capacity) {
                threshold = kthOf(m, k);
                m = keepAtLeast(m, threshold);
            }
        }
        return m;
    }

    /** The k-th largest of {@code val[0..m)}. */
    private float kthOf(int m, int k) {
        System.arraycopy(val, 0, select, 0, m);
        return quickselect(select, m, m - k);
    }

    /** Compacts the candidates {@code val[0..m)} to those at or above {@code threshold}, in order. */
    private int keepAtLeast(int m, float threshold) {
        int kept = 0;
        for (int j = 0; j < m; j++) {
            float v = val[j];
            val[kept] = v;
            code[kept] = code[j];
            kept += v >= threshold ? 1 : 0;
        }
        return kept;
    }

    /** The bits of a float as an int whose unsigned order is the floats' order. */
    private static int orderedKey(float v) {
        int bits = Float.floatToRawIntBits(v);
        return bits ^ ((bits >> 31) | 0x80000000);
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

    /** A draw from the softmax of all of a codebook's logits (RAS's draw from the unmodified logits). */
    private int drawFromSoftmax(float[] logits, int off) {
        System.arraycopy(logits, off, val, 0, c);
        System.arraycopy(identity, 0, code, 0, c);
        return exponentials(c) <= 0 ? 0 : drawOver(c);
    }

}
