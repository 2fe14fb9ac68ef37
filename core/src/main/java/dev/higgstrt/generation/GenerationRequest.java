package dev.higgstrt.generation;

import java.util.List;
import java.util.Objects;

/**
 * What to generate: the prompt's positions, how codes are chosen, and at most how many frames.
 *
 * @param prompt    the prompt's ids and audio frames ({@link Prompt#tokenize}, or ids of a token file)
 * @param sampling  how codes are chosen
 * @param maxFrames the most frames generated (the forced all-BOS first frame included)
 */
public record GenerationRequest(Prompt.Tokens prompt, Sampling sampling, int maxFrames) {
    /** Canonical constructor: a non-empty prompt and a positive frame count. */
    public GenerationRequest {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(sampling, "sampling");
        if (prompt.ids().length == 0) {
            throw new IllegalArgumentException("the prompt is empty");
        }
        if (maxFrames <= 0) {
            throw new IllegalArgumentException("max frames must be positive, got " + maxFrames);
        }
    }

    /**
     * A request over raw ids and frames (a token file).
     *
     * @param ids       the prompt's text ids
     * @param frames    the audio frames of its placeholders
     * @param sampling  how codes are chosen
     * @param maxFrames the most frames generated
     * @return the request
     */
    public static GenerationRequest of(int[] ids, List<int[]> frames, Sampling sampling, int maxFrames) {
        return new GenerationRequest(new Prompt.Tokens(ids, frames), sampling, maxFrames);
    }
}
