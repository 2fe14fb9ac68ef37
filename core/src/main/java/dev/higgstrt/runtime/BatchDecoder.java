package dev.higgstrt.runtime;

import dev.higgstrt.decoding.TokenInput;

import java.util.List;

/**
 * The step a batched runtime drives: the new tokens of many sequences in one call, some in
 * prefill and some decoding, packed (no padding to a common length); back come the last
 * position's audio logits of each. The runtime owns the KV block accounting and passes each
 * sequence's block table; a decoder that keeps its KV cache elsewhere (one session per sequence)
 * may ignore it. Called from one thread at a time.
 */
public interface BatchDecoder extends AutoCloseable {
    /**
     * One sequence's part of a step.
     *
     * @param sequence   the sequence's id, stable over its steps
     * @param tokens     its new positions, at least one (a step's logits are those of its last)
     * @param past       positions it has in the KV cache before this step, not negative
     * @param blockTable its KV blocks, in position order (read during the step, not copied)
     */
    record Work(long sequence, TokenInput tokens, int past, int[] blockTable) {
        /**
         * Checks the positions: a step of none would have no last position to return.
         *
         * @throws IllegalArgumentException when there are no new positions or {@code past} is negative
         */
        public Work {
            java.util.Objects.requireNonNull(tokens, "tokens");
            if (tokens.length() == 0) {
                throw new IllegalArgumentException("sequence " + sequence + ": a step needs at least one new position");
            }
            if (past < 0) {
                throw new IllegalArgumentException("sequence " + sequence + ": " + past + " past positions");
            }
        }
    }

    /**
     * The most positions a sequence may hold.
     *
     * @return the longest sequence
     */
    int maxSequence();

    /**
     * Runs one step.
     *
     * @param batch the sequences' new positions
     * @return per entry, in order, the last position's audio logits [K * codebookSize]
     * @throws StepFailure when some entries failed and the others completed
     */
    List<float[]> step(List<Work> batch);

    /**
     * Some entries of a step failed; the others completed (their sequences advanced).
     */
    final class StepFailure extends RuntimeException {
        private final transient List<float[]> logits;
        private final transient java.util.Map<Integer, RuntimeException> failures;

        /**
         * A partly failed step.
         *
         * @param logits   per entry its logits, null where it failed
         * @param failures by entry index, why it failed
         */
        public StepFailure(List<float[]> logits, java.util.Map<Integer, RuntimeException> failures) {
            super(failures.size() + " of " + logits.size() + " sequences of a step failed: "
                    + failures.values().iterator().next().getMessage(), failures.values().iterator().next());
            this.logits = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(logits));
            this.failures = java.util.Map.copyOf(failures);
        }

        /**
         * Per entry its logits, null where it failed.
         *
         * @return the logits
         */
        public List<float[]> logits() {
            return logits;
        }

        /**
         * By entry index, why it failed.
         *
         * @return the failures
         */
        public java.util.Map<Integer, RuntimeException> failures() {
            return failures;
        }
    }

    /**
     * A sequence ended (finished, cancelled or failed): whatever the decoder holds for it is
     * freed now.
     *
     * @param sequence the sequence's id
     */
    void release(long sequence);

    /** Frees the decoder. */
    @Override
    void close();
}
