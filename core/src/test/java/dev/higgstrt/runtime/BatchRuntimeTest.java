package dev.higgstrt.runtime;

import dev.higgstrt.decoding.DecoderSession;
import dev.higgstrt.decoding.ForwardingSession;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.generation.FinishReason;
import dev.higgstrt.generation.GenerationRequest;
import dev.higgstrt.generation.GenerationResult;
import dev.higgstrt.generation.Generator;
import dev.higgstrt.generation.Sampling;
import dev.higgstrt.model.SpeechTokens;
import dev.higgstrt.reference.ReferenceModel;
import dev.higgstrt.synth.Presets;
import dev.higgstrt.synth.SyntheticCheckpoint;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The batched runtime on the CPU reference of the tiny synthetic model: each request of a mixed,
 * in-flight batch (prompts of different lengths in chunks, requests joining while others run,
 * one cancelled, one failing) gets the frames it gets alone from {@link Generator}; admission,
 * queueing, refusals, KV blocks and shutdown.
 */
class BatchRuntimeTest {
    @TempDir
    static Path dir;
    static ReferenceModel model;
    static SpeechTokens ids;

    @BeforeAll
    static void model() throws Exception {
        SyntheticCheckpoint.write(dir, SyntheticCheckpoint.Spec.of(Presets.tiny()).withSeed(7), n -> { });
        model = ReferenceModel.load(dir);
        ids = SpeechTokens.read(dir);
    }

    @AfterAll
    static void close() {
        model.close();
    }

    static GenerationRequest request(int promptLength, long seed, Sampling sampling, int maxFrames) {
        Random r = new Random(seed);
        int[] p = new int[promptLength];
        for (int i = 0; i < p.length - 1; i++) {
            p[i] = r.nextInt(300);
        }
        p[p.length - 1] = ids.audioOutBos();
        return GenerationRequest.of(p, List.of(), sampling, maxFrames);
    }

    static BatchRuntime.Options options(int maxRunning, int queue) {
        return new BatchRuntime.Options(maxRunning, queue, 16, 24, 16, 64);
    }

    static void assertSameFrames(GenerationResult got, GenerationResult alone) {
        assertThat(got.frames()).hasSameSizeAs(alone.frames());
        for (int i = 0; i < got.frames().size(); i++) {
            assertThat(got.frames().get(i)).as("frame %d", i).containsExactly(alone.frames().get(i));
        }
        assertThat(got.finish()).isEqualTo(alone.finish());
        assertThat(got.codes()).isDeepEqualTo(alone.codes());
        assertThat(got.promptPositions()).isEqualTo(alone.promptPositions());
    }

    @Test
    void everyRequestOfAMixedInFlightBatchGetsTheFramesItGetsAlone() throws Exception {
        Generator alone = new Generator(ids, model::newSession);
        int[] lengths = {5, 40, 17, 80, 9, 33, 61};
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < lengths.length; i++) {
            Sampling s = i % 2 == 0 ? Sampling.GREEDY : Sampling.sample(100 + i);
            requests.add(request(lengths[i], i, s, 40));
        }
        try (BatchRuntime runtime = new BatchRuntime(ids, new SessionBatchDecoder(model::newSession), options(4, 16))) {
            List<BatchRuntime.Handle> handles = new ArrayList<>();
            CountDownLatch started = new CountDownLatch(1);
            for (int i = 0; i < 3; i++) {
                handles.add(runtime.submit(requests.get(i), f -> started.countDown()));
            }
            assertThat(started.await(30, TimeUnit.SECONDS)).isTrue();
            // these join while the first three run; the queue holds what does not fit in 4 slots
            AtomicInteger cancelledFrames = new AtomicInteger();
            BatchRuntime.Handle[] toCancel = new BatchRuntime.Handle[1];
            for (int i = 3; i < requests.size(); i++) {
                if (i == 4) {
                    toCancel[0] = runtime.submit(requests.get(i), f -> {
                        if (cancelledFrames.incrementAndGet() == 3) {
                            toCancel[0].cancel();
                        }
                    });
                    handles.add(toCancel[0]);
                } else {
                    handles.add(runtime.submit(requests.get(i), f -> { }));
                }
            }
            for (int i = 0; i < requests.size(); i++) {
                GenerationResult r = handles.get(i).result().get(60, TimeUnit.SECONDS);
                if (i == 4) {
                    assertThat(r.finish()).isEqualTo(FinishReason.CANCELLED);
                    assertThat(r.frames().size()).isBetween(3, 4);
                    GenerationResult full = alone.generate(requests.get(i));
                    for (int f = 0; f < r.frames().size(); f++) {
                        assertThat(r.frames().get(f)).containsExactly(full.frames().get(f));
                    }
                } else {
                    assertSameFrames(r, alone.generate(requests.get(i)));
                }
            }
            RuntimeMetrics m = waitIdle(runtime);
            assertThat(m.kvBlocksUsed()).isZero();
            assertThat(m.queued()).isZero();
            assertThat(m.completed()).isEqualTo(6);
            assertThat(m.cancelled()).isEqualTo(1);
            assertThat(m.steps()).isPositive();
            assertThat(m.frames()).isGreaterThan(6);
        }
    }

    @Test
    void aBatchSampledOnTheForkJoinPoolGivesEachRequestItsFramesAlone() throws Exception {
        Generator alone = new Generator(ids, model::newSession);
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            requests.add(request(6 + i, 50 + i, Sampling.sample(500 + i), 20));
        }
        try (BatchRuntime runtime = new BatchRuntime(ids, new SessionBatchDecoder(model::newSession),
                new BatchRuntime.Options(12, 16, 16, 24, 16, 64))) {
            List<BatchRuntime.Handle> handles = new ArrayList<>();
            for (GenerationRequest q : requests) {
                handles.add(runtime.submit(q, f -> { }));
            }
            int largestBatch = 0;
            for (int i = 0; i < requests.size(); i++) {
                while (!handles.get(i).result().isDone()) {
                    largestBatch = Math.max(largestBatch, runtime.metrics().lastBatch());
                    Thread.sleep(1);
                }
                assertSameFrames(handles.get(i).result().get(), alone.generate(requests.get(i)));
            }
            assertThat(largestBatch).as("steps of 8 or more sequences sample in parallel").isGreaterThanOrEqualTo(8);
        }
    }

    static RuntimeMetrics waitIdle(BatchRuntime runtime) throws InterruptedException {
        for (int i = 0; i < 200; i++) {
            RuntimeMetrics m = runtime.metrics();
            if (m.running() == 0 && m.queued() == 0) {
                return m;
            }
            Thread.sleep(10);
        }
        return runtime.metrics();
    }

    @Test
    void aBurstIsTakenUpToTheRunningSlotsPlusTheQueueWhateverTheLoopHasAdmitted() throws Exception {
        CountDownLatch hold = new CountDownLatch(1);
        Supplier<DecoderSession> slow = () -> ForwardingSession.heldBy(model.newSession(), hold, 0);
        try (BatchRuntime runtime = new BatchRuntime(ids, new SessionBatchDecoder(slow), options(4, 2));
             AutoCloseable release = hold::countDown) {
            for (int i = 0; i < 6; i++) {
                runtime.submit(request(8, i, Sampling.GREEDY, 20), f -> { });
            }
            assertThatThrownBy(() -> runtime.submit(request(8, 7, Sampling.GREEDY, 20), f -> { }))
                    .isInstanceOfSatisfying(BatchRuntime.RejectedException.class,
                            e -> assertThat(e.reason()).isEqualTo(BatchRuntime.Rejection.QUEUE_FULL));
            RuntimeMetrics m = runtime.metrics();
            assertThat(m.queued() + m.running()).isEqualTo(6);
        }
    }

    @Test
    void requestsBeyondTheQueueOrTheCacheAreRefusedClearly() throws Exception {
        CountDownLatch hold = new CountDownLatch(1);
        Supplier<DecoderSession> slow = () -> ForwardingSession.heldBy(model.newSession(), hold, 0);
        try (BatchRuntime runtime = new BatchRuntime(ids, new SessionBatchDecoder(slow), options(1, 2));
             AutoCloseable release = hold::countDown) {
            runtime.submit(request(8, 1, Sampling.GREEDY, 20), f -> { });
            for (int i = 0; i < 500 && runtime.metrics().running() == 0; i++) {
                Thread.sleep(5);   // the first request runs (held) before the others queue: no race with admission
            }
            runtime.submit(request(8, 2, Sampling.GREEDY, 20), f -> { });
            runtime.submit(request(8, 3, Sampling.GREEDY, 20), f -> { });
            assertThatThrownBy(() -> runtime.submit(request(8, 4, Sampling.GREEDY, 20), f -> { }))
                    .isInstanceOfSatisfying(BatchRuntime.RejectedException.class,
                            e -> assertThat(e.reason()).isEqualTo(BatchRuntime.Rejection.QUEUE_FULL))
                    .hasMessage("the queue is full (2 waiting)");
            assertThat(runtime.metrics().rejected()).isEqualTo(1);
        }
        try (BatchRuntime small = new BatchRuntime(ids, new SessionBatchDecoder(model::newSession), options(2, 2).withKvBlocks(3))) {
            assertThatThrownBy(() -> small.submit(request(40, 1, Sampling.GREEDY, 20), f -> { }))
                    .isInstanceOfSatisfying(BatchRuntime.RejectedException.class,
                            e -> assertThat(e.reason()).isEqualTo(BatchRuntime.Rejection.TOO_LARGE))
                    .hasMessage("the request needs 4 KV blocks (60 positions), the runtime has 3 in all");
            assertThatThrownBy(() -> small.submit(request(600, 1, Sampling.GREEDY, 20), f -> { }))
                    .hasMessageContaining("leaves no room for audio in a sequence of 512 positions");
            // two requests of 2 blocks each: the second waits for the first's blocks, then runs
            var a = small.submit(request(20, 1, Sampling.GREEDY, 12), f -> { });
            var b = small.submit(request(20, 2, Sampling.GREEDY, 12), f -> { });
            assertThat(a.result().get(30, TimeUnit.SECONDS).frames()).isNotEmpty();
            assertThat(b.result().get(30, TimeUnit.SECONDS).frames()).isNotEmpty();
            assertThat(waitIdle(small).kvBlocksUsed()).isZero();
        }
    }

    @Test
    void aFailingSequenceFailsAloneAndTheOthersFinish() throws Exception {
        AtomicInteger opened = new AtomicInteger();
        Supplier<DecoderSession> sessions = () -> opened.incrementAndGet() == 3   // the second request's (the first is the probe)
                ? ForwardingSession.failingAt(model.newSession(), 4, "the device fell over") : model.newSession();
        Generator alone = new Generator(ids, model::newSession);
        try (BatchRuntime runtime = new BatchRuntime(ids, new SessionBatchDecoder(sessions), options(4, 4))) {
            var good1 = runtime.submit(request(12, 1, Sampling.GREEDY, 30), f -> { });
            var bad = runtime.submit(request(12, 2, Sampling.GREEDY, 30), f -> { });
            var good2 = runtime.submit(request(30, 3, Sampling.GREEDY, 30), f -> { });
            assertThatThrownBy(() -> bad.result().get(30, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                    .hasRootCauseMessage("the device fell over");
            assertSameFrames(good1.result().get(30, TimeUnit.SECONDS), alone.generate(request(12, 1, Sampling.GREEDY, 30)));
            assertSameFrames(good2.result().get(30, TimeUnit.SECONDS), alone.generate(request(30, 3, Sampling.GREEDY, 30)));
            RuntimeMetrics m = waitIdle(runtime);
            assertThat(m.failed()).isEqualTo(1);
            assertThat(m.kvBlocksUsed()).isZero();
        }
    }

    @Test
    void closingLetsRunningRequestsFinishWithinTheGraceThenRefuses() throws Exception {
        BatchRuntime runtime = new BatchRuntime(ids, new SessionBatchDecoder(model::newSession), options(2, 4));
        var a = runtime.submit(request(10, 1, Sampling.GREEDY, 25), f -> { });
        var b = runtime.submit(request(10, 2, Sampling.GREEDY, 25), f -> { });
        assertThat(runtime.close(Duration.ofSeconds(30))).isTrue();
        assertThat(a.result().get().finish()).isNotEqualTo(FinishReason.CANCELLED);
        assertThat(b.result().get().finish()).isNotEqualTo(FinishReason.CANCELLED);
        assertThatThrownBy(() -> runtime.submit(request(10, 3, Sampling.GREEDY, 25), f -> { }))
                .isInstanceOfSatisfying(BatchRuntime.RejectedException.class,
                        e -> assertThat(e.reason()).isEqualTo(BatchRuntime.Rejection.CLOSED));

        CountDownLatch never = new CountDownLatch(1);
        BatchRuntime stuck = new BatchRuntime(ids, new SessionBatchDecoder(() -> ForwardingSession.heldBy(model.newSession(), never, 2)), options(1, 4));
        var c = stuck.submit(request(10, 1, Sampling.GREEDY, 500), f -> { });
        var d = stuck.submit(request(10, 2, Sampling.GREEDY, 500), f -> { });
        Thread release = Thread.ofVirtual().start(() -> {
            try {
                Thread.sleep(300);
            } catch (InterruptedException ignored) {
            }
            never.countDown();
        });
        assertThat(stuck.close(Duration.ofMillis(100))).as("not drained within the grace").isFalse();
        release.join();
        assertThat(c.result().get(30, TimeUnit.SECONDS).finish()).isEqualTo(FinishReason.CANCELLED);
        assertThat(d.result().get(30, TimeUnit.SECONDS).finish()).isEqualTo(FinishReason.CANCELLED);
    }

    @Test
    void theBlockPoolHandsOutAndTakesBack() {
        KvBlockPool pool = new KvBlockPool(16, 4);
        assertThat(pool.blocksFor(1)).isEqualTo(1);
        assertThat(pool.blocksFor(16)).isEqualTo(1);
        assertThat(pool.blocksFor(17)).isEqualTo(2);
        int[] a = pool.allocate(3);
        assertThat(a).doesNotHaveDuplicates();
        assertThat(java.util.Arrays.stream(a).boxed().toList()).allMatch(b -> b >= 0 && b < 4);
        assertThat(pool.used()).isEqualTo(3);
        assertThatThrownBy(() -> pool.allocate(2)).hasMessage("2 KV blocks wanted, 1 free");
        pool.release(a);
        assertThat(pool.free()).isEqualTo(4);
        assertThatThrownBy(() -> pool.release(new int[]{0})).hasMessage("more KV blocks released than allocated");
    }

    @Test
    void aStepEntryWithoutNewPositionsOrWithNegativePastIsRefusedNamingItsSequence() {
        assertThatThrownBy(() -> new BatchDecoder.Work(42, TokenInput.text(), 0, new int[]{0}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("sequence 42: a step needs at least one new position");
        assertThatThrownBy(() -> new BatchDecoder.Work(7, TokenInput.text(5), -1, new int[]{0}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("sequence 7: -1 past positions");
        BatchDecoder.Work ok = new BatchDecoder.Work(7, TokenInput.text(5, 6), 3, new int[]{0});
        assertThat(ok.tokens().length()).isEqualTo(2);
        assertThat(ok.past()).isEqualTo(3);
    }
}
