package dev.higgstrt.runtime;

/**
 * What a runtime reports: a snapshot.
 *
 * @param queued          requests waiting for admission
 * @param running         sequences admitted and not ended
 * @param maxRunning      the most sequences that run together
 * @param kvBlocksUsed    KV blocks held by running sequences
 * @param kvBlocksTotal   KV blocks in all
 * @param steps           steps run so far
 * @param lastStepNanos   the last step's time (decoder and sampling)
 * @param lastBatch       sequences in the last step
 * @param lastBatchTokens positions in the last step
 * @param frames          frames generated so far, all sequences
 * @param completed       requests ended with stop or length
 * @param cancelled       requests ended by cancellation
 * @param failed          requests ended by an error
 * @param rejected        requests refused at submission
 */
public record RuntimeMetrics(int queued, int running, int maxRunning, int kvBlocksUsed, int kvBlocksTotal, long steps,
                             long lastStepNanos, int lastBatch, int lastBatchTokens, long frames, long completed, long cancelled,
                             long failed, long rejected) {
    /**
     * Running sequences over the most that run together.
     *
     * @return batch occupancy in [0, 1]
     */
    public double occupancy() {
        return maxRunning == 0 ? 0 : (double) running / maxRunning;
    }
}
