package dev.higgstrt.generation;

/**
 * One generated frame, handed out as it is produced.
 *
 * @param index the frame's number in the generation, 0 for the forced all-BOS frame
 * @param codes a code per codebook (delay pattern applied: codebook k lags k frames)
 */
public record Frame(int index, int[] codes) {
    /**
     * A copy of the codes.
     *
     * @return the codes
     */
    @Override
    public int[] codes() {
        return codes.clone();
    }
}
