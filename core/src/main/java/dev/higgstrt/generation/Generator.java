package dev.higgstrt.generation;

import dev.higgstrt.decoding.DecoderSession;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.model.SpeechTokens;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.Flow;
import java.util.concurrent.SubmissionPublisher;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Text to audio codes over any {@link DecoderSession}, the CPU reference's or an engine's: the
 * prompt's prefill, then one frame a step. Each step feeds the last frame alone (an audio
 * position) and chooses the next frame from the last position's audio logits with the delay
 * pattern's masks and the request's sampling ({@link FrameSampler}), until a frame is all EOS
 * ({@link FinishReason#STOP}), the frame limit or the session's room is reached ({@link
 * FinishReason#LENGTH}), or the caller cancels. A generator is stateless and thread-safe; each
 * generation opens its own session.
 */
public final class Generator {
    private final SpeechTokens ids;
    private final Supplier<? extends DecoderSession> sessions;

    /**
     * A generator over sessions of one model.
     *
     * @param ids      the model's speech ids
     * @param sessions opens a new, empty session (for example {@code model::newSession})
     */
    public Generator(SpeechTokens ids, Supplier<? extends DecoderSession> sessions) {
        this.ids = Objects.requireNonNull(ids, "ids");
        this.sessions = Objects.requireNonNull(sessions, "sessions");
    }

    /** Receives each frame as it is produced, on the generating thread. */
    @FunctionalInterface
    public interface FrameListener {
        /**
         * A new frame.
         *
         * @param frame the frame
         */
        void onFrame(Frame frame);
    }

    /**
     * Generates to the end, on the calling thread.
     *
     * @param request what to generate
     * @return the frames, codes and counts
     * @throws IllegalArgumentException when the prompt does not fit the session's room
     */
    public GenerationResult generate(GenerationRequest request) {
        return generate(request, f -> { }, () -> false);
    }

    /**
     * Generates on the calling thread, handing each frame to {@code listener}; stops with {@link
     * FinishReason#CANCELLED} once {@code cancelled} answers true (checked before each step).
     *
     * @param request   what to generate
     * @param listener  receives each frame
     * @param cancelled asked before each step
     * @return the frames, codes and counts
     * @throws IllegalArgumentException when the prompt does not fit the session's room
     */
    public GenerationResult generate(GenerationRequest request, FrameListener listener, BooleanSupplier cancelled) {
        Prompt.Tokens prompt = request.prompt();
        TokenInput input = prompt.input();
        FrameSampler sampler = new FrameSampler(ids, request.sampling(), prompt.ids(), prompt.frames());
        List<int[]> frames = new ArrayList<>();
        long sampling = 0;
        long decode = 0;
        try (DecoderSession session = sessions.get()) {
            if (input.length() >= session.capacity()) {
                throw new IllegalArgumentException("the prompt of " + input.length() + " positions leaves no room for audio in a"
                        + " session of " + session.capacity() + " positions");
            }
            long t0 = System.nanoTime();
            float[] logits = session.forwardLast(input);
            long prefill = System.nanoTime() - t0;
            FinishReason finish = FinishReason.LENGTH;
            while (true) {
                if (cancelled.getAsBoolean()) {
                    finish = FinishReason.CANCELLED;
                    break;
                }
                long s0 = System.nanoTime();
                int[] frame = sampler.next(logits);
                sampling += System.nanoTime() - s0;
                frames.add(frame);
                listener.onFrame(new Frame(frames.size() - 1, frame));
                if (sampler.finished()) {
                    finish = FinishReason.STOP;
                    break;
                }
                if (frames.size() >= request.maxFrames() || session.length() >= session.capacity()) {
                    break;
                }
                long d0 = System.nanoTime();
                logits = session.forwardLast(TokenInput.audio(frame));
                decode += System.nanoTime() - d0;
            }
            List<int[]> all = new ArrayList<>(prompt.frames());
            all.addAll(frames);
            int[][] codes = DelayPattern.codecCodes(all, ids.streamBos(), ids.streamEos());
            return new GenerationResult(frames, codes, finish, input.length(), prefill, decode, sampling);
        }
    }

    /**
     * Starts a generation on {@code executor}, its frames published to {@code subscriber} as they
     * are produced (subscribed before the first frame, so none is missed); it can be cancelled.
     *
     * @param request    what to generate
     * @param executor   runs the generation and delivers the frames
     * @param subscriber receives the frames, then completion, or the error that ended the generation
     * @return the running generation
     */
    public Generation start(GenerationRequest request, Executor executor, Flow.Subscriber<? super Frame> subscriber) {
        Generation g = new Generation(executor);
        g.publisher.subscribe(subscriber);
        CompletableFuture.runAsync(() -> {
            try {
                GenerationResult r = generate(request, f -> g.publisher.submit(f), g.cancelled::get);
                g.publisher.close();
                g.result.complete(r);
            } catch (RuntimeException | Error e) {
                g.publisher.closeExceptionally(e);
                g.result.completeExceptionally(e);
            }
        }, executor);
        return g;
    }

    /** A running generation: its result, and a way to cancel it. */
    public static final class Generation {
        private final SubmissionPublisher<Frame> publisher;
        private final CompletableFuture<GenerationResult> result = new CompletableFuture<>();
        private final AtomicBoolean cancelled = new AtomicBoolean();

        private Generation(Executor executor) {
            this.publisher = new SubmissionPublisher<>(executor, Flow.defaultBufferSize());
        }

        /** Stops the generation before its next step; its result then says {@link FinishReason#CANCELLED}. */
        public void cancel() {
            cancelled.set(true);
        }

        /**
         * The result, when the generation ends.
         *
         * @return the result's future
         */
        public CompletableFuture<GenerationResult> result() {
            return result;
        }
    }
}
