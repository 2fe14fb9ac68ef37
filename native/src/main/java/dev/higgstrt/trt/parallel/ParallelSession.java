package dev.higgstrt.trt.parallel;

import dev.higgstrt.trt.cuda.Cuda;
import dev.higgstrt.trt.engine.EngineSession;
import dev.higgstrt.trt.plugin.ReduceGroup;
import dev.higgstrt.trt.tensorrt.TrtException;

import dev.higgstrt.decoding.DecoderSession;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.decoding.Logits;
import dev.higgstrt.decoding.TokenInput;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * One sequence on the ranks of a {@link ParallelEngine}. Each tp rank has a thread that runs its
 * rank of every pipeline stage in turn: stage {@code s} enqueues (its all-reduces meet the other
 * tp ranks' inside the engine), finishes, and hands its hidden states to stage {@code s + 1}
 * (directly on one GPU, by a peer copy across GPUs). The last stage's tp ranks each return their
 * rows of the audio head; the session joins them into the full logits.
 *
 * <p>A step that fails on one rank fails the session for good (the ranks' caches no longer agree):
 * later calls throw. Not thread-safe; {@link #close()} frees every rank's context, caches and the
 * threads once.
 */
public final class ParallelSession implements DecoderSession {
    private final ParallelEngine engine;
    private final HiggsAudioConfig c;
    private final int tp;
    private final int pp;
    private final ExecutorService threads;
    private final EngineSession[] ranks;
    private final Cuda.DeviceBuffer[] hiddenIn;
    private boolean closed;
    private String failed;
    private int cached;

    ParallelSession(ParallelEngine engine) {
        this.engine = engine;
        this.c = engine.config();
        this.tp = engine.tp();
        this.pp = engine.pp();
        this.ranks = new EngineSession[tp * pp];
        this.hiddenIn = new Cuda.DeviceBuffer[tp * pp];
        int[] counter = {0};
        this.threads = Executors.newFixedThreadPool(tp, r -> {
            Thread t = new Thread(r, "higgs-tp-" + counter[0]++);
            t.setDaemon(true);
            return t;
        });
        engine.sessions().add(this);
        try {
            onEveryTpRank(this::open);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** Opens tp rank {@code j}'s sessions of every stage on its thread, bound to its stage's group. */
    private Void open(int j) {
        for (int p = 0; p < pp; p++) {
            int r = p * tp + j;
            ReduceGroup group = engine.group(p);
            Cuda.setDevice(engine.device(r));
            if (group != null) {
                group.bind(j);
            }
            try {
                ranks[r] = engine.engine(r).newSession();
            } finally {
                if (group != null) {
                    ReduceGroup.unbind();
                }
            }
            if (p > 0 && engine.device(r) != engine.device(r - tp)) {
                long bytes = (long) engine.maxSequence() * c.hiddenSize() * engine.dtype().byteSize();
                hiddenIn[r] = new Cuda.DeviceBuffer(bytes);
            }
        }
        return null;
    }

    /**
     * The engines' longest sequence.
     *
     * @return the engine's {@code maxSequence}
     */
    @Override
    public int capacity() {
        return engine.maxSequence();
    }

    @Override
    public int length() {
        return cached;
    }

    @Override
    public Logits forward(TokenInput chunk) {
        if (closed) {
            throw new IllegalStateException("session is closed (or its engine is)");
        }
        if (failed != null) {
            throw new IllegalStateException("an earlier step failed, the ranks' caches disagree: " + failed);
        }
        EngineSession.checkStep(c, chunk, cached, engine.maxSequence());
        List<float[]> slices;
        try {
            slices = onEveryTpRank(j -> step(j, chunk));
        } catch (RuntimeException e) {
            failed = e.getMessage();
            throw e;
        }
        int t = chunk.length();
        int vocab = c.audioVocabSize();
        int width = engine.engine(tp * pp - 1).rank().logitsWidth(c);
        float[] all = new float[t * vocab];
        for (int j = 0; j < tp; j++) {
            int from = j * width;
            int n = Math.min(width, vocab - from);
            for (int i = 0; i < t && n > 0; i++) {
                System.arraycopy(slices.get(j), i * width, all, i * vocab + from, n);
            }
        }
        cached += t;
        return new Logits(t, all, vocab, Optional.empty(), c.vocabSize(), EngineSession.audioMask(c, chunk));
    }

    /** Tp rank {@code j}'s share of one step: every stage in turn; returns its rows of the logits. */
    private float[] step(int j, TokenInput chunk) {
        Cuda.DeviceBuffer hidden = null;
        int t = chunk.length();
        for (int p = 0; p < pp; p++) {
            int r = p * tp + j;
            if (hiddenIn[r] != null) {
                long bytes = (long) t * c.hiddenSize() * engine.dtype().byteSize();
                hiddenIn[r].copyFrom(hidden, engine.device(r - tp), engine.device(r), bytes);
                hidden = hiddenIn[r];
            }
            ranks[r].begin(chunk, hidden);
            ranks[r].finish();
            hidden = ranks[r].hiddenOut();
        }
        return ranks[(pp - 1) * tp + j].logitsOf(t);
    }

    /** Runs {@code work} for every tp rank on its thread; the first failure (in rank order) is thrown, the others suppressed. */
    private <T> List<T> onEveryTpRank(RankWork<T> work) {
        List<Future<T>> futures = new ArrayList<>();
        for (int j = 0; j < tp; j++) {
            int rank = j;
            Callable<T> task = () -> work.run(rank);
            futures.add(threads.submit(task));
        }
        List<T> out = new ArrayList<>();
        RuntimeException first = null;
        for (int j = 0; j < tp; j++) {
            try {
                out.add(futures.get(j).get());
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                RuntimeException wrapped = cause instanceof RuntimeException re ? re
                        : new TrtException("tp rank " + j + ": " + cause);
                if (first == null) {
                    first = wrapped;
                } else {
                    first.addSuppressed(wrapped);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while the ranks ran", e);
            }
        }
        if (first != null) {
            throw first;
        }
        return out;
    }

    @FunctionalInterface
    private interface RankWork<T> {
        T run(int tpRank);
    }

    /** Frees every rank's session and buffers and stops the threads. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (EngineSession s : ranks) {
            if (s != null) {
                s.close();
            }
        }
        for (Cuda.DeviceBuffer b : hiddenIn) {
            if (b != null) {
                b.close();
            }
        }
        threads.shutdownNow();
        engine.sessions().remove(this);
    }
}
