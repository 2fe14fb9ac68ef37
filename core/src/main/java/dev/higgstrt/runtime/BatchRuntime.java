package dev.higgstrt.runtime;

import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.generation.DelayPattern;
import dev.higgstrt.generation.FinishReason;
import dev.higgstrt.generation.Frame;
import dev.higgstrt.generation.FrameSampler;
import dev.higgstrt.generation.GenerationRequest;
import dev.higgstrt.generation.GenerationResult;
import dev.higgstrt.generation.Generator;
import dev.higgstrt.model.SpeechTokens;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Generations of many requests on one {@link BatchDecoder}, in-flight: sequences join and leave
 * between steps. A request is queued (bounded) and admitted while fewer than {@code maxRunning}
 * run and the {@link KvBlockPool} can hold its longest length (prompt plus frames, reserved at
 * admission, so that no admitted sequence runs out); a request that could never fit, or that
 * finds the queue full, is refused at once. Each step packs the running sequences' new positions:
 * one frame for each decoding sequence, and the next chunk of at most {@code prefillChunk}
 * positions of each prefilling one, within {@code maxBatchTokens}. After a step each sequence
 * whose prompt is done chooses its frame as {@link Generator} does (the same {@link FrameSampler},
 * the same stop rules), so that every request gets the frames it gets alone. A finished,
 * cancelled or failed sequence's blocks are freed before the next step.
 *
 * <p>One loop thread runs the steps; frames reach each request's listener on it (keep listeners
 * short: hand the frame on). {@link #close(Duration)} stops accepting, lets running requests end
 * within the grace period, and cancels what is left.
 */
public final class BatchRuntime implements AutoCloseable {
    /**
     * How the runtime schedules.
     *
     * @param maxRunning     the most sequences that run together
     * @param queueCapacity  the most requests waiting for admission beyond the free running slots (more: refused)
     * @param prefillChunk   the most prompt positions of one sequence in a step
     * @param maxBatchTokens the most positions in a step
     * @param blockSize      KV positions a block holds
     * @param kvBlocks       KV blocks in all
     */
    public record Options(int maxRunning, int queueCapacity, int prefillChunk, int maxBatchTokens, int blockSize, int kvBlocks) {
        /** Checks the values. */
        public Options {
            if (maxRunning <= 0 || queueCapacity < 0 || prefillChunk <= 0 || maxBatchTokens < maxRunning || blockSize <= 0
                    || kvBlocks <= 0) {
                throw new IllegalArgumentException("runtime options out of range: " + maxRunning + " running, queue "
                        + queueCapacity + ", prefill chunk " + prefillChunk + ", batch tokens " + maxBatchTokens + " (at least one"
                        + " a running sequence), blocks " + kvBlocks + " of " + blockSize);
            }
        }

        /**
         * These options with another queue capacity.
         *
         * @param capacity requests that may wait
         * @return the options
         */
        public Options withQueueCapacity(int capacity) {
            return new Options(maxRunning, capacity, prefillChunk, maxBatchTokens, blockSize, kvBlocks);
        }

        /**
         * These options with another number of KV blocks.
         *
         * @param blocks blocks in all
         * @return the options
         */
        public Options withKvBlocks(int blocks) {
            return new Options(maxRunning, queueCapacity, prefillChunk, maxBatchTokens, blockSize, blocks);
        }
    }

    /** Why a request was refused at submission. */
    public enum Rejection {
        /** The queue holds {@code queueCapacity} requests already: retry later. */
        QUEUE_FULL,
        /** The request needs more KV blocks than the runtime has in all. */
        TOO_LARGE,
        /** The runtime is closing or closed. */
        CLOSED
    }

    /** A request refused at submission. */
    public static final class RejectedException extends RuntimeException {
        /** Why the request was refused. */
        private final Rejection reason;

        RejectedException(Rejection reason, String message) {
            super(message);
            this.reason = reason;
        }

        /**
         * Why it was refused.
         *
         * @return the reason
         */
        public Rejection reason() {
            return reason;
        }
    }

    /** A submitted request: its result, and a way to cancel it. */
    public static final class Handle {
        private final Sequence sequence;

        private Handle(Sequence sequence) {
            this.sequence = sequence;
        }

        /** Stops the request before its next step (or drops it from the queue); its result says cancelled. */
        public void cancel() {
            sequence.cancelled = true;
            sequence.runtime.wake();
        }

        /**
         * The result, when the request ends; completed exceptionally when its decoding failed.
         *
         * @return the result's future
         */
        public CompletableFuture<GenerationResult> result() {
            return sequence.result;
        }
    }

    private final SpeechTokens ids;
    private final BatchDecoder decoder;
    private final Options options;
    private final KvBlockPool pool;
    private final Object lock = new Object();
    private final Deque<Sequence> queue = new ArrayDeque<>();
    private final List<Sequence> running = new ArrayList<>();
    private final Thread loop;
    private final AtomicLong nextId = new AtomicLong();
    private volatile boolean accepting = true;
    private volatile boolean stopping;
    private volatile RuntimeMetrics metrics;
    private long steps;
    private long lastStepNanos;
    private int lastBatch;
    private int lastBatchTokens;
    private long frames;
    private long completed;
    private long cancelledCount;
    private long failed;
    private final AtomicLong rejected = new AtomicLong();
    /**
     * System property: {@code false} samples every sequence of a step on the runtime's thread
     * (the baseline of {@code RuntimeHostCost}); by default batches of {@value #PARALLEL_SAMPLING_MIN}
     * or more sample on the fork-join pool.
     */
    public static final String PARALLEL_SAMPLING_PROPERTY = "higgs.runtime.parallelSampling";
    private static final int PARALLEL_SAMPLING_MIN = 8;
    private final boolean parallelSampling = Boolean.parseBoolean(System.getProperty(PARALLEL_SAMPLING_PROPERTY, "true"));

    /**
     * A runtime over {@code decoder}, its loop thread started.
     *
     * @param ids     the model's speech ids
     * @param decoder runs the steps (owned: closed with the runtime)
     * @param options how it schedules
     */
    public BatchRuntime(SpeechTokens ids, BatchDecoder decoder, Options options) {
        this.ids = Objects.requireNonNull(ids, "ids");
        this.decoder = Objects.requireNonNull(decoder, "decoder");
        this.options = Objects.requireNonNull(options, "options");
        this.pool = new KvBlockPool(options.blockSize(), options.kvBlocks());
        publishMetrics();
        this.loop = Thread.ofPlatform().name("higgs-runtime").daemon().unstarted(this::run);
        loop.start();
    }

    /**
     * Submits a request.
     *
     * @param request  what to generate
     * @param listener receives each frame as it is produced, on the runtime's thread
     * @return its handle
     * @throws RejectedException        when the queue is full, the request can never fit, or the runtime is closed
     * @throws IllegalArgumentException when the prompt leaves no room in a sequence
     */
    public Handle submit(GenerationRequest request, Generator.FrameListener listener) {
        Objects.requireNonNull(request, "request");
        Objects.requireNonNull(listener, "listener");
        int prompt = request.prompt().ids().length;
        if (prompt >= decoder.maxSequence()) {
            throw new IllegalArgumentException("the prompt of " + prompt + " positions leaves no room for audio in a"
                    + " sequence of " + decoder.maxSequence() + " positions");
        }
        int longest = Math.min(decoder.maxSequence(), prompt + request.maxFrames());
        int blocks = pool.blocksFor(longest);
        if (blocks > pool.total()) {
            rejected.incrementAndGet();
            publishMetrics();
            throw new RejectedException(Rejection.TOO_LARGE, "the request needs " + blocks + " KV blocks (" + longest
                    + " positions), the runtime has " + pool.total() + " in all");
        }
        Sequence s = new Sequence(this, nextId.incrementAndGet(), request, listener, blocks);
        synchronized (lock) {
            if (!accepting) {
                rejected.incrementAndGet();
                publishMetrics();
                throw new RejectedException(Rejection.CLOSED, "the runtime is shutting down");
            }
            // free running slots count as room: a burst is not refused before the loop has admitted its head
            int room = options.queueCapacity() + Math.max(0, options.maxRunning() - running.size());
            if (queue.size() >= room) {
                rejected.incrementAndGet();
                publishMetrics();
                throw new RejectedException(Rejection.QUEUE_FULL, "the queue is full (" + queue.size() + " waiting)");
            }
            queue.add(s);
            lock.notifyAll();
        }
        publishMetrics();
        return new Handle(s);
    }

    /**
     * A snapshot of the runtime's state and counts.
     *
     * @return the metrics
     */
    public RuntimeMetrics metrics() {
        return metrics;
    }

    /**
     * The options.
     *
     * @return how it schedules
     */
    public Options options() {
        return options;
    }

    private void wake() {
        synchronized (lock) {
            lock.notifyAll();
        }
    }

    /** Stops accepting, cancels every request at once and frees the decoder. */
    @Override
    public void close() {
        close(Duration.ZERO);
    }

    /**
     * Stops accepting; lets running and queued requests end within {@code grace}; then cancels
     * what is left, stops the loop and frees the decoder.
     *
     * @param grace how long requests may still run
     * @return true when every request ended within the grace period
     */
    public boolean close(Duration grace) {
        accepting = false;
        long deadline = System.nanoTime() + grace.toNanos();
        boolean drained;
        synchronized (lock) {
            while (!(queue.isEmpty() && running.isEmpty()) && System.nanoTime() < deadline) {
                try {
                    lock.wait(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            drained = queue.isEmpty() && running.isEmpty();
            queue.forEach(s -> s.cancelled = true);
            running.forEach(s -> s.cancelled = true);
            stopping = true;
            lock.notifyAll();
        }
        try {
            loop.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        decoder.close();
        return drained;
    }

    private void run() {
        while (true) {
            List<Sequence> batch;
            synchronized (lock) {
                admit();
                dropCancelled();
                publishMetrics();
                while (running.isEmpty() && queue.isEmpty() && !stopping) {
                    try {
                        lock.wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                    admit();
                    dropCancelled();
                    publishMetrics();
                }
                if (running.isEmpty() && (stopping || queue.isEmpty())) {
                    if (stopping) {
                        queue.forEach(this::cancelQueued);
                        queue.clear();
                        publishMetrics();
                        lock.notifyAll();
                        return;
                    }
                    continue;
                }
                batch = new ArrayList<>(running);
            }
            step(batch);
            publishMetrics();
            synchronized (lock) {
                lock.notifyAll();
            }
        }
    }

    /** Admits queued requests in order while slots and blocks allow. Holds the lock. */
    private void admit() {
        while (!queue.isEmpty() && running.size() < options.maxRunning()) {
            Sequence head = queue.peek();
            if (head.cancelled) {
                queue.poll();
                cancelQueued(head);
                continue;
            }
            if (pool.free() < head.blocksNeeded) {
                break;
            }
            queue.poll();
            head.blocks = pool.allocate(head.blocksNeeded);
            running.add(head);
        }
    }

    private void cancelQueued(Sequence s) {
        cancelledCount++;
        s.result.complete(s.result(FinishReason.CANCELLED));
    }

    /** Ends the cancelled running sequences. Holds the lock. */
    private void dropCancelled() {
        for (Sequence s : List.copyOf(running)) {
            if (s.cancelled) {
                end(s);
                cancelledCount++;
                s.result.complete(s.result(FinishReason.CANCELLED));
            }
        }
    }

    /** Frees a sequence's blocks and the decoder's state of it. Holds the lock. */
    private void end(Sequence s) {
        running.remove(s);
        if (s.blocks != null) {
            pool.release(s.blocks);
            s.blocks = null;
        }
        decoder.release(s.id);
    }

    private void step(List<Sequence> batch) {
        List<BatchDecoder.Work> work = new ArrayList<>();
        List<Sequence> in = new ArrayList<>();
        int budget = options.maxBatchTokens();
        // decoding sequences first (one position each), then prompt chunks in the room left
        for (Sequence s : batch) {
            if (s.next != null && budget > 0) {
                work.add(new BatchDecoder.Work(s.id, s.next, s.length, s.blocks));
                in.add(s);
                budget--;
            }
        }
        for (Sequence s : batch) {
            if (s.next == null && budget > 0) {
                int from = s.prefilled;
                int to = Math.min(s.prompt.length(), from + Math.min(options.prefillChunk(), budget));
                work.add(new BatchDecoder.Work(s.id, slice(s.prompt, from, to), s.length, s.blocks));
                in.add(s);
                budget -= to - from;
            }
        }
        long t0 = System.nanoTime();
        List<float[]> logits;
        java.util.Map<Integer, RuntimeException> failures = java.util.Map.of();
        try {
            logits = decoder.step(work);
        } catch (BatchDecoder.StepFailure f) {
            logits = f.logits();
            failures = f.failures();
        } catch (RuntimeException e) {
            logits = java.util.Collections.nCopies(work.size(), null);
            java.util.Map<Integer, RuntimeException> all = new java.util.HashMap<>();
            for (int i = 0; i < work.size(); i++) {
                all.put(i, e);
            }
            failures = all;
        }
        long stepNanos = System.nanoTime() - t0;
        int tokens = 0;
        for (BatchDecoder.Work w : work) {
            tokens += w.tokens().length();
        }
        List<Sequence> ready = new ArrayList<>(in.size());
        List<float[]> readyLogits = new ArrayList<>(in.size());
        for (int i = 0; i < in.size(); i++) {
            Sequence s = in.get(i);
            BatchDecoder.Work w = work.get(i);
            boolean prefill = s.next == null;
            if (prefill) {
                s.prefillNanos += stepNanos;
            } else {
                s.decodeNanos += stepNanos;
            }
            RuntimeException failure = failures.get(i);
            if (failure != null) {
                fail(s, failure);
                continue;
            }
            s.length += w.tokens().length();
            if (prefill) {
                s.prefilled += w.tokens().length();
                if (s.prefilled < s.prompt.length()) {
                    continue;
                }
            }
            ready.add(s);
            readyLogits.add(logits.get(i));
        }
        int[][] chosen = sample(ready, readyLogits);
        for (int j = 0; j < ready.size(); j++) {
            Sequence s = ready.get(j);
            if (chosen[j] == null) {
                continue;   // failed in sample()
            }
            try {
                choose(s, chosen[j]);
            } catch (RuntimeException e) {
                fail(s, e);
            }
        }
        synchronized (lock) {
            steps++;
            lastStepNanos = System.nanoTime() - t0;
            lastBatch = work.size();
            lastBatchTokens = tokens;
        }
    }

    /**
     * Each ready sequence's next frame from its logits: on the fork-join pool where the batch is
     * large (each sequence has its own sampler, so they are independent; about 40 us each with
     * the default sampling), else on this thread. A sequence whose sampler fails is failed and
     * gets null.
     */
    private int[][] sample(List<Sequence> ready, List<float[]> logits) {
        int[][] frames = new int[ready.size()][];
        RuntimeException[] errors = new RuntimeException[ready.size()];
        java.util.function.IntConsumer one = j -> {
            Sequence s = ready.get(j);
            long s0 = System.nanoTime();
            try {
                frames[j] = s.sampler.next(logits.get(j));
            } catch (RuntimeException e) {
                errors[j] = e;
            }
            s.samplingNanos += System.nanoTime() - s0;
        };
        if (parallelSampling && ready.size() >= PARALLEL_SAMPLING_MIN) {
            java.util.stream.IntStream.range(0, ready.size()).parallel().forEach(one);
        } else {
            for (int j = 0; j < ready.size(); j++) {
                one.accept(j);
            }
        }
        for (int j = 0; j < ready.size(); j++) {
            if (errors[j] != null) {
                fail(ready.get(j), errors[j]);
            }
        }
        return frames;
    }

    /** The frame after a completed step, and the stop rules, as {@link Generator} has them. */
    private void choose(Sequence s, int[] frame) {
        s.frames.add(frame);
        synchronized (lock) {
            frames++;
        }
        s.listener.onFrame(new Frame(s.frames.size() - 1, frame));
        FinishReason finish = s.sampler.finished() ? FinishReason.STOP
                : s.frames.size() >= s.request.maxFrames() || s.length >= decoder.maxSequence() ? FinishReason.LENGTH : null;
        if (finish != null) {
            synchronized (lock) {
                end(s);
                completed++;
            }
            s.result.complete(s.result(finish));
        } else {
            s.next = TokenInput.audio(frame);
        }
    }

    private void fail(Sequence s, RuntimeException e) {
        synchronized (lock) {
            end(s);
            failed++;
        }
        s.result.completeExceptionally(e);
    }

    /** Positions [from, to) of a prompt: ids and the frames of the audio placeholders among them. */
    private TokenInput slice(TokenInput prompt, int from, int to) {
        if (from == 0 && to == prompt.length()) {
            return prompt;
        }
        int[] idsAll = prompt.inputIds();
        int before = 0;
        int inside = 0;
        for (int i = 0; i < to; i++) {
            if (idsAll[i] == ids.audioToken() || idsAll[i] == ids.delayToken()) {
                if (i < from) {
                    before++;
                } else {
                    inside++;
                }
            }
        }
        return new TokenInput(Arrays.copyOfRange(idsAll, from, to), Arrays.copyOfRange(prompt.audioFrames(), before, before + inside));
    }

    private void publishMetrics() {
        synchronized (lock) {
            metrics = new RuntimeMetrics(queue.size(), running.size(), options.maxRunning(), pool.used(), pool.total(), steps,
                    lastStepNanos, lastBatch, lastBatchTokens, frames, completed, cancelledCount, failed, rejected.get());
        }
    }

    /** One request's state; touched by the loop thread (and {@code cancelled} by any). */
    private static final class Sequence {
        final BatchRuntime runtime;
        final long id;
        final GenerationRequest request;
        final Generator.FrameListener listener;
        final FrameSampler sampler;
        final TokenInput prompt;
        final int blocksNeeded;
        final List<int[]> frames = new ArrayList<>();
        final CompletableFuture<GenerationResult> result = new CompletableFuture<>();
        volatile boolean cancelled;
        int[] blocks;
        int prefilled;
        int length;
        TokenInput next;
        long prefillNanos;
        long decodeNanos;
        long samplingNanos;

        Sequence(BatchRuntime runtime, long id, GenerationRequest request, Generator.FrameListener listener, int blocksNeeded) {
            this.runtime = runtime;
            this.id = id;
            this.request = request;
            this.listener = listener;
            this.blocksNeeded = blocksNeeded;
            this.prompt = request.prompt().input();
            this.sampler = new FrameSampler(runtime.ids, request.sampling(), request.prompt().ids(), request.prompt().frames());
        }

        GenerationResult result(FinishReason finish) {
            List<int[]> all = new ArrayList<>(request.prompt().frames());
            all.addAll(frames);
            int[][] codes = DelayPattern.codecCodes(all, runtime.ids.streamBos(), runtime.ids.streamEos());
            return new GenerationResult(frames, codes, finish, prompt.length(), prefillNanos, decodeNanos, samplingNanos);
        }
    }
}
