package dev.higgstrt.generation;

import dev.higgstrt.decoding.DecoderSession;
import dev.higgstrt.decoding.Logits;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.model.SpeechTokens;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A started generation publishes its frames as they come, can be cancelled, and ends with the
 * finish reason and limits of its request, over a stand-in session whose logits never close the
 * stream.
 */
class GenerationStreamTest {
    static final SpeechTokens IDS = new SpeechTokens(90, 91, 92, 93, 4, 5, 3, 6);

    /** Logits that favour code 1 in every codebook, and a room of {@code capacity} positions. */
    static class OpenSession implements DecoderSession {
        final int capacity;
        final AtomicInteger closed;
        int length;

        OpenSession(int capacity, AtomicInteger closed) {
            this.capacity = capacity;
            this.closed = closed;
        }

        @Override
        public Logits forward(TokenInput chunk) {
            length += chunk.length();
            float[] l = new float[chunk.length() * 18];
            for (int i = 0; i < chunk.length(); i++) {
                for (int k = 0; k < 3; k++) {
                    l[i * 18 + k * 6 + 1] = 5;
                }
            }
            return new Logits(chunk.length(), l, 18, Optional.empty(), 100, new boolean[chunk.length()]);
        }

        @Override
        public int capacity() {
            return capacity;
        }

        @Override
        public int length() {
            return length;
        }

        @Override
        public void close() {
            closed.incrementAndGet();
        }
    }

    @Test
    void framesArePublishedAsTheyComeAndACancelStopsTheNextStep() throws Exception {
        AtomicInteger closed = new AtomicInteger();
        CountDownLatch three = new CountDownLatch(3);
        Generator g = new Generator(IDS, () -> new OpenSession(10_000, closed) {
            @Override
            public Logits forward(TokenInput chunk) {
                three.countDown();
                return super.forward(chunk);
            }
        });
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Frame> seen = new CopyOnWriteArrayList<>();
            CountDownLatch done = new CountDownLatch(1);
            Generator.Generation run = g.start(GenerationRequest.of(new int[]{6, 7, 92}, List.of(), Sampling.GREEDY, 100_000), pool,
                    new Flow.Subscriber<Frame>() {
                public void onSubscribe(Flow.Subscription s) {
                    s.request(Long.MAX_VALUE);
                }

                public void onNext(Frame f) {
                    seen.add(f);
                }

                public void onError(Throwable t) {
                    done.countDown();
                }

                public void onComplete() {
                    done.countDown();
                }
            });
            assertThat(three.await(10, TimeUnit.SECONDS)).isTrue();
            run.cancel();
            GenerationResult r = run.result().get(10, TimeUnit.SECONDS);
            assertThat(r.finish()).isEqualTo(FinishReason.CANCELLED);
            assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(seen).hasSize(r.frames().size());
            for (int i = 0; i < seen.size(); i++) {
                assertThat(seen.get(i).index()).isEqualTo(i);
                assertThat(seen.get(i).codes()).containsExactly(r.frames().get(i));
            }
            assertThat(r.frames().getFirst()).containsExactly(4, 4, 4);
            assertThat(closed.get()).as("the session is closed when the generation ends").isEqualTo(1);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void theFrameLimitAndTheSessionsRoomEndWithLength() {
        AtomicInteger closed = new AtomicInteger();
        GenerationResult limited = new Generator(IDS, () -> new OpenSession(10_000, closed))
                .generate(GenerationRequest.of(new int[]{7, 92}, List.of(), Sampling.GREEDY, 5));
        assertThat(limited.frames()).hasSize(5);
        assertThat(limited.finish()).isEqualTo(FinishReason.LENGTH);
        GenerationResult full = new Generator(IDS, () -> new OpenSession(8, closed))
                .generate(GenerationRequest.of(new int[]{7, 92}, List.of(), Sampling.GREEDY, 1000));
        assertThat(full.finish()).isEqualTo(FinishReason.LENGTH);
        assertThat(full.frames()).as("2 prompt positions, then frames until 8 positions are held").hasSize(7);
        assertThat(closed.get()).isEqualTo(2);
        assertThatThrownBy(() -> new Generator(IDS, () -> new OpenSession(2, closed))
                .generate(GenerationRequest.of(new int[]{7, 92}, List.of(), Sampling.GREEDY, 10)))
                .hasMessage("the prompt of 2 positions leaves no room for audio in a session of 2 positions");
        assertThatThrownBy(() -> GenerationRequest.of(new int[0], List.of(), Sampling.GREEDY, 10)).hasMessage("the prompt is empty");
        assertThatThrownBy(() -> GenerationRequest.of(new int[]{1}, List.of(), Sampling.GREEDY, 0))
                .hasMessage("max frames must be positive, got 0");
    }
}
