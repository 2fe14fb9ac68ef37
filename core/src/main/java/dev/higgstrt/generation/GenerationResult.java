package dev.higgstrt.generation;

import java.util.List;

/**
 * What a generation produced.
 *
 * @param frames          the frames as generated: the forced all-BOS frame through the last (all EOS
 *                        when it stopped), as transformers' {@code audio_sequences} holds them after the prompt
 * @param codes           [num_codebooks][T] codes for the codec, delay reverted and clipped as
 *                        transformers' {@code HiggsAudioV2Processor.batch_decode} hands them over
 * @param finish          why it ended
 * @param promptPositions positions of the prompt
 * @param prefillNanos    time of the prompt's forward
 * @param decodeNanos     time of the decode steps (forward passes after the prompt)
 * @param samplingNanos   time spent choosing codes (masks, sampling), all steps together
 */
public record GenerationResult(List<int[]> frames, int[][] codes, FinishReason finish, int promptPositions, long prefillNanos,
                               long decodeNanos, long samplingNanos) {
    /** Canonical constructor: copies the frames. */
    public GenerationResult {
        frames = List.copyOf(frames);
    }

    /**
     * Frames generated per second of decoding (prefill excluded).
     *
     * @return frames a second, 0 before a decode step
     */
    public double framesPerSecond() {
        long steps = Math.max(0, frames.size() - 1);
        return decodeNanos == 0 ? 0 : steps / (decodeNanos / 1e9);
    }
}
