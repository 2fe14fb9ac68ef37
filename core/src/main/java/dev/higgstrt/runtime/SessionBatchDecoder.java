package dev.higgstrt.runtime;

import dev.higgstrt.decoding.DecoderSession;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A batch as one {@link DecoderSession} per sequence, run one after the other: the CPU
 * reference's sessions (so that the runtime, its scheduler and a server run without a GPU), or
 * a single-sequence engine's. Each sequence gets exactly the logits it gets alone.
 */
public final class SessionBatchDecoder implements BatchDecoder {
    private final Supplier<? extends DecoderSession> sessions;
    private final int maxSequence;
    private final Map<Long, DecoderSession> open = new HashMap<>();

    /**
     * Sessions from {@code sessions}.
     *
     * @param sessions opens an empty session (for example {@code model::newSession})
     */
    public SessionBatchDecoder(Supplier<? extends DecoderSession> sessions) {
        this.sessions = sessions;
        try (DecoderSession probe = sessions.get()) {
            this.maxSequence = probe.capacity();
        }
    }

    @Override
    public int maxSequence() {
        return maxSequence;
    }

    @Override
    public List<float[]> step(List<Work> batch) {
        List<float[]> out = new ArrayList<>(batch.size());
        Map<Integer, RuntimeException> failures = new HashMap<>();
        for (int i = 0; i < batch.size(); i++) {
            Work w = batch.get(i);
            try {
                DecoderSession s = open.computeIfAbsent(w.sequence(), id -> sessions.get());
                if (s.length() != w.past()) {
                    throw new IllegalStateException("sequence " + w.sequence() + " holds " + s.length()
                            + " positions, the step says " + w.past());
                }
                out.add(s.forwardLast(w.tokens()));
            } catch (RuntimeException e) {
                out.add(null);
                failures.put(i, e);
            }
        }
        if (!failures.isEmpty()) {
            throw new StepFailure(out, failures);
        }
        return out;
    }

    @Override
    public void release(long sequence) {
        DecoderSession s = open.remove(sequence);
        if (s != null) {
            s.close();
        }
    }

    @Override
    public void close() {
        open.values().forEach(DecoderSession::close);
        open.clear();
    }
}
