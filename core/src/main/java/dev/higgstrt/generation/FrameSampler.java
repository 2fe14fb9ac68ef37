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
    private final Integer[] order;
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
        this.order = new Integer[c];
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

    /** Temperature, then top-k, then top-p, then a draw, on {@link #scores}. */
    private int draw() {
        float t = (float) sampling.temperature();
        for (int i = 0; i < c; i++) {
            scores[i] /= t;
        }
        if (sampling.topK() > 0 && sampling.topK() < c) {
            float[] sorted = scores.clone();
            Arrays.sort(sorted);
            float kth = sorted[c - sampling.topK()];
            for (int i = 0; i < c; i++) {
                if (scores[i] < kth) {
                    scores[i] = Float.NEGATIVE_INFINITY;
                }
            }
        }
        if (sampling.topP() < 1) {
            topP((float) sampling.topP());
        }
        return drawFromSoftmax(scores);
    }

    /**
     * Removes the codes of the lowest probabilities whose summed probability stays at or below
     * 1 - p (sorted ascending, as transformers' TopPLogitsWarper), always keeping the largest.
     */
    private void topP(float p) {
        for (int i = 0; i < c; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Float.compare(scores[a], scores[b]));
        softmax(scores, probs);
        double cumulative = 0;
        for (int r = 0; r < c - 1; r++) {
            int i = order[r];
            cumulative += probs[i];
            if (cumulative <= 1 - p) {
                scores[i] = Float.NEGATIVE_INFINITY;
            }
        }
    }

    private int drawFromSoftmax(float[] s) {
        softmax(s, probs);
        double u = random.nextDouble();
        double cumulative = 0;
        int last = 0;
        for (int i = 0; i < c; i++) {
            if (probs[i] > 0) {
                cumulative += probs[i];
                last = i;
                if (u < cumulative) {
                    return i;
                }
            }
        }
        return last;
    }

    static void softmax(float[] s, double[] out) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : s) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (int i = 0; i < s.length; i++) {
            out[i] = s[i] == Float.NEGATIVE_INFINITY ? 0 : Math.exp(s[i] - max);
            sum += out[i];
        }
        for (int i = 0; i < s.length; i++) {
            out[i] /= sum;
        }
    }
}
