package dev.higgstrt.decoding;

import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.Tensor;

import java.lang.foreign.Arena;
import java.util.Optional;

/**
 * The output of a forward pass over {@code tokens} positions.
 *
 * @param tokens     positions
 * @param audio      audio logits, row-major [tokens, num_codebooks * codebook_size]
 * @param audioWidth num_codebooks * codebook_size
 * @param text       text logits [tokens, vocab_size], when asked for and the model has a text head
 * @param textWidth  vocab_size
 * @param audioMask  which positions took the audio path
 */
public record Logits(int tokens, float[] audio, int audioWidth, Optional<float[]> text, int textWidth, boolean[] audioMask) {
    /**
     * The audio logits as an F32 tensor [tokens, audioWidth].
     *
     * @param arena the arena that owns the memory
     * @return the audio logits as an F32 tensor [tokens, audioWidth]
     */
    public Tensor audioTensor(Arena arena) {
        return Tensor.fromFloats(DType.F32, Shape.of(tokens, audioWidth), audio, arena);
    }

    /**
     * The text logits as an F32 tensor [tokens, textWidth], if present.
     *
     * @param arena the arena that owns the memory
     * @return the text logits as an F32 tensor [tokens, textWidth], if present
     */
    public Optional<Tensor> textTensor(Arena arena) {
        return text.map(t -> Tensor.fromFloats(DType.F32, Shape.of(tokens, textWidth), t, arena));
    }

    /**
     * Largest absolute difference of the audio logits from {@code other}'s.
     *
     * @param other the other one
     * @return largest absolute difference of the audio logits from {@code other}'s
     */
    public float maxAbsDiff(Logits other) {
        return maxAbsDiff(audio, other.audio);
    }

    /**
     * Largest absolute difference between two arrays of the same length.
     *
     * @param a the a
     * @param b the b
     * @return largest absolute difference between two arrays of the same length
     */
    public static float maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException("lengths differ: " + a.length + " vs " + b.length);
        }
        float max = 0;
        for (int i = 0; i < a.length; i++) {
            float d = Math.abs(a[i] - b[i]);
            if (!(d <= max)) {
                max = Float.isNaN(d) ? Float.NaN : d;
                if (Float.isNaN(max)) {
                    return max;
                }
            }
        }
        return max;
    }

    /**
     * A summary, not the values: {@code Logits[3 positions (1 audio), audio 3x8208, text 3x128256]}.
     *
     * @return the summary
     */
    @Override
    public String toString() {
        int audioPositions = 0;
        for (boolean a : audioMask) {
            audioPositions += a ? 1 : 0;
        }
        return "Logits[" + tokens + " positions (" + audioPositions + " audio), audio " + tokens + "x" + audioWidth
                + text.map(t -> ", text " + tokens + "x" + textWidth).orElse("") + "]";
    }
}
