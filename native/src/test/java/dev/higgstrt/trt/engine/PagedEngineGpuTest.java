package dev.higgstrt.trt.engine;

import dev.higgstrt.convert.ConversionOptions;
import dev.higgstrt.convert.Converter;
import dev.higgstrt.decoding.DecoderSession;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.generation.GenerationFixtures;
import dev.higgstrt.generation.GenerationRequest;
import dev.higgstrt.generation.GenerationResult;
import dev.higgstrt.generation.Sampling;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.SpeechTokens;
import dev.higgstrt.reference.ReferenceModel;
import dev.higgstrt.runtime.BatchDecoder;
import dev.higgstrt.runtime.BatchRuntime;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.trt.cuda.DeviceMemory;
import dev.higgstrt.trt.cuda.GpuTests;
import dev.higgstrt.trt.plugin.DualFfnPlugin;
import dev.higgstrt.trt.plugin.LinearPlugin;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The packed, paged engine (the attention plugin over a runtime-owned KV cache, in-flight
 * batches): every sequence of a mixed batch gets the logits it gets alone and the CPU
 * reference's; 16 concurrent greedy requests through the runtime get the frames each gets
 * alone, and with CUDA graphs beside another thread's legacy-stream copies the frames of the
 * runtime without them; bad entries fail alone; nothing leaks. Skipped without a GPU.
 */
@Tag("gpu")
class PagedEngineGpuTest {
    @TempDir
    static Path tmp;

    @BeforeAll
    static void requireGpu() {
        GpuTests.requireGpu();
    }

    /** A sequence of the mixed-batch test: its chunks in order, the step it joins at, its blocks. */
    private record Plan(List<TokenInput> chunks, int joins, int cancelAfter, int[] blocks) {
    }

    @Test
    void everySequenceOfAMixedBatchGetsItsLogitsAloneAndTheReferences() throws IOException {
        Path ckpt = fp32(GpuTests.GOLDEN, "golden-f32");
        HiggsAudioConfig c = HiggsAudioConfig.readFolder(ckpt);
        TokenInput mixed = TokenInput.read(GpuTests.GOLDEN.resolve("mixed.json"));
        Random r = new Random(5);
        int blockSize = 4;
        List<Integer> free = new ArrayList<>();
        for (int b = 0; b < 96; b++) {
            free.add(b);
        }
        java.util.Collections.shuffle(free, r);
        List<Plan> plans = new ArrayList<>();
        // A: the whole mixed prompt at once; B: a shorter prompt in two chunks; C joins at step 2; D joins at 3 and is cancelled
        int[][] prompts = {{0, mixed.length()}, {0, 9}, {2, 5}, {3, 11}};
        for (int p = 0; p < prompts.length; p++) {
            TokenInput prompt = mixed.slice(c, 0, prompts[p][1]);
            List<TokenInput> chunks = new ArrayList<>();
            if (p == 1) {
                chunks.add(prompt.slice(c, 0, 5));
                chunks.add(prompt.slice(c, 5, 9));
            } else {
                chunks.add(prompt);
            }
            for (int step = 0; step < 6; step++) {
                chunks.add(randomFrame(c, r));
            }
            int[] blocks = new int[(mixed.length() + 8 + blockSize - 1) / blockSize];
            for (int b = 0; b < blocks.length; b++) {
                blocks[b] = free.removeFirst();
            }
            plans.add(new Plan(chunks, prompts[p][0], p == 3 ? 2 : Integer.MAX_VALUE, blocks));
        }
        PagedEngine.Shape shape = new PagedEngine.Shape(32, 64, 8, blockSize);
        try (PagedEngine engine = PagedEngine.build(ckpt, DType.F32, shape, FfnMode.PLUGIN);
             ReferenceModel reference = ReferenceModel.load(ckpt);
             PagedDecoder together = engine.newDecoder(96);
             PagedDecoder alone = withGraphs(() -> engine.newDecoder(96))) {
            List<DecoderSession> references = new ArrayList<>();
            for (int p = 0; p < plans.size(); p++) {
                references.add(reference.newSession());
            }
            int[] next = new int[plans.size()];
            int[] past = new int[plans.size()];
            long linearBefore = LinearPlugin.get().enqueues();
            float worstReference = 0;
            float worstAlone = 0;
            int compared = 0;
            for (int step = 0; step < 8; step++) {
                List<BatchDecoder.Work> batch = new ArrayList<>();
                List<Integer> who = new ArrayList<>();
                for (int p = 0; p < plans.size(); p++) {
                    Plan plan = plans.get(p);
                    boolean cancelled = step - plan.joins() >= plan.cancelAfter();
                    if (step < plan.joins() || cancelled || next[p] >= plan.chunks().size()) {
                        continue;
                    }
                    batch.add(new BatchDecoder.Work(p, plan.chunks().get(next[p]), past[p], plan.blocks()));
                    who.add(p);
                }
                List<float[]> got = together.step(batch);
                for (int i = 0; i < batch.size(); i++) {
                    int p = who.get(i);
                    BatchDecoder.Work w = batch.get(i);
                    float[] want = references.get(p).forwardLast(w.tokens());
                    float[] single = alone.step(List.of(w)).getFirst();
                    worstReference = Math.max(worstReference, maxAbsDiff(got.get(i), want));
                    worstAlone = Math.max(worstAlone, maxAbsDiff(got.get(i), single));
                    compared++;
                    past[p] += w.tokens().length();
                    next[p]++;
                }
            }
            System.out.printf("paged engine, mixed batches of up to 4 sequences: %d rows; max |batch - reference| = %.3e, "
                    + "max |batch - alone| = %.3e%n", compared, worstReference, worstAlone);
            assertThat(compared).isGreaterThan(20);
            assertThat(worstReference).isLessThanOrEqualTo(HiggsEngineGpuTest.FP32_BOUND);
            assertThat(worstAlone).isLessThanOrEqualTo(1e-4f);
            assertThat(alone.graphLaunches()).as("one-token steps replayed as CUDA graphs").isPositive();
            assertThat(together.graphLaunches()).as("graphs are off by default").isZero();
            // the attention's two projections a layer and the audio head ran in the linear plugin at every call
            assertThat(LinearPlugin.get().enqueues() - linearBefore).isGreaterThanOrEqualTo(8L * (2L * c.numLayers() + 1));
            references.forEach(DecoderSession::close);

            // dependent launches change when a plugin kernel starts, not what it computes: one sequence's
            // prefill and decode steps give the same logits with them off, on, and on in replayed CUDA graphs
            int[] table = free.subList(0, 8).stream().mapToInt(Integer::intValue).toArray();
            List<TokenInput> frames = new ArrayList<>();
            for (int f = 0; f < 3; f++) {
                frames.add(randomFrame(c, r));
            }
            DualFfnPlugin plugin = DualFfnPlugin.get();
            int dependentBefore = plugin.setDependentLaunches(0);
            try {
                List<float[]> off = prefillAndDecode(together, mixed, frames, table);
                plugin.setDependentLaunches(DualFfnPlugin.DEPENDENT_ALL);
                List<float[]> on = prefillAndDecode(together, mixed, frames, table);
                long graphsBefore = alone.graphLaunches();
                List<float[]> graphed = prefillAndDecode(alone, mixed, frames, table);
                assertThat(alone.graphLaunches()).isGreaterThan(graphsBefore);
                // a one-token step of a shape seen before replays its graph; the decoder without graphs never does
                assertThat(alone.lastStepTiming().replayed()).isTrue();
                assertThat(together.lastStepTiming().replayed()).isFalse();
                assertThat(together.lastStepTiming().waitNanos()).isPositive();
                for (int i = 0; i < off.size(); i++) {
                    assertThat(on.get(i)).as("step %d, dependent launches on", i).containsExactly(off.get(i));
                    assertThat(graphed.get(i)).as("step %d, on, CUDA graph", i).containsExactly(off.get(i));
                }
            } finally {
                plugin.setDependentLaunches(dependentBefore);
            }

            // an entry with a block outside the cache fails alone; the other entry of the step completes
            BatchDecoder.Work good = new BatchDecoder.Work(10, mixed, 0, new int[]{0, 1, 2, 3, 4});
            BatchDecoder.Work bad = new BatchDecoder.Work(11, mixed, 0, new int[]{0, 1, 999, 3});
            assertThatThrownBy(() -> together.step(List.of(good, bad)))
                    .isInstanceOfSatisfying(BatchDecoder.StepFailure.class, f -> {
                        assertThat(f.failures()).containsOnlyKeys(1);
                        assertThat(f.failures().get(1)).hasMessageContaining("KV block 999");
                        assertThat(f.logits().get(0)).hasSize(c.audioVocabSize());
                    });
            assertThatThrownBy(() -> together.step(List.of(new BatchDecoder.Work(12, mixed, 30, new int[8]))))
                    .isInstanceOf(BatchDecoder.StepFailure.class).hasMessageContaining("exceed the engine's 32");

            // saved and loaded back, the engine (its three plugins' layers) gives the same logits
            Path file = tmp.resolve("mixed-paged.engine");
            engine.save(file);
            try (PagedEngine loaded = PagedEngine.load(file, ckpt); PagedDecoder d = loaded.newDecoder(96)) {
                float[] fromLoaded = d.step(List.of(good)).getFirst();
                float[] fromBuilt = together.step(List.of(good)).getFirst();
                assertThat(maxAbsDiff(fromLoaded, fromBuilt)).isZero();
            }
        }
    }

    /** Sequence 20's prompt in one step, then one step a frame; the logits of each step. */
    private static List<float[]> prefillAndDecode(PagedDecoder d, TokenInput prompt, List<TokenInput> frames, int[] table) {
        List<float[]> logits = new ArrayList<>();
        logits.add(d.step(List.of(new BatchDecoder.Work(20, prompt, 0, table))).getFirst());
        int past = prompt.length();
        for (TokenInput frame : frames) {
            logits.add(d.step(List.of(new BatchDecoder.Work(20, frame, past, table))).getFirst());
            past++;
        }
        return logits;
    }

    /** {@code model} converted to FP32 (tp 1, pp 1) under the test folder as {@code name}. */
    private static Path fp32(Path model, String name) throws IOException {
        Path out = tmp.resolve(name);
        Converter.convert(model, out, ConversionOptions.of(1, 1).withDtype(DType.F32), n -> { });
        return out;
    }

    private static Path generationModel;

    /** The first generation fixture's model in FP32, converted once for the tests that generate. */
    private static synchronized Path generationModel(GenerationFixtures.Case fixture) throws IOException {
        if (generationModel == null) {
            generationModel = fp32(fixture.model(), "generation-f32");
        }
        return generationModel;
    }

    /** One audio frame of random codes, a position of an audio token. */
    static TokenInput randomFrame(HiggsAudioConfig c, Random r) {
        int[] frame = new int[c.numCodebooks()];
        for (int k = 0; k < frame.length; k++) {
            frame[k] = r.nextInt(c.codebookSize());
        }
        return TokenInput.audio(frame);
    }

    /** n greedy requests for the fixture's prompt, request i with i random text tokens before it, of up to frames frames each. */
    private static List<GenerationRequest> greedyRequests(GenerationFixtures.Case fixture, HiggsAudioConfig c, int n, int frames) {
        Random r = new Random(9);
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int[] prompt = new int[fixture.inputIds().length + i];
            for (int j = 0; j < i; j++) {
                int id;
                do {
                    id = r.nextInt(Math.min(c.vocabSize(), 100));
                } while (c.audioTokenIds().contains(id));
                prompt[j] = id;
            }
            System.arraycopy(fixture.inputIds(), 0, prompt, i, fixture.inputIds().length);
            requests.add(GenerationRequest.of(prompt, fixture.promptFrames(), Sampling.GREEDY, frames));
        }
        return requests;
    }

    /** A decoder made with CUDA-graph replay on (off by default). */
    private static PagedDecoder withGraphs(java.util.function.Supplier<PagedDecoder> make) {
        String before = System.getProperty(PagedDecoder.GRAPHS_PROPERTY);
        System.setProperty(PagedDecoder.GRAPHS_PROPERTY, "true");
        try {
            return make.get();
        } finally {
            if (before == null) {
                System.clearProperty(PagedDecoder.GRAPHS_PROPERTY);
            } else {
                System.setProperty(PagedDecoder.GRAPHS_PROPERTY, before);
            }
        }
    }

    @Test
    void aShortCacheQueuesRequestsAndACancelMidGenerationEndsCleanly() throws Exception {
        GenerationFixtures.Case fixture = GenerationFixtures.all().getFirst();
        Path ckpt = generationModel(fixture);
        SpeechTokens ids = SpeechTokens.read(ckpt);
        int blockSize = 8;
        try (PagedEngine engine = PagedEngine.build(ckpt, DType.F32, new PagedEngine.Shape(160, 256, 8, blockSize), FfnMode.PLUGIN)) {
            int perRequest = Math.ceilDiv(fixture.inputIds().length + 30, blockSize);
            // blocks for two requests at a time: eight requests wait their turn and all complete
            BatchRuntime.Options options = new BatchRuntime.Options(8, 16, 32, 256, blockSize, 2 * perRequest);
            try (BatchRuntime runtime = new BatchRuntime(ids, engine.newDecoder(2 * perRequest), options)) {
                List<BatchRuntime.Handle> handles = new ArrayList<>();
                for (int i = 0; i < 8; i++) {
                    handles.add(runtime.submit(GenerationRequest.of(fixture.inputIds(), fixture.promptFrames(), Sampling.sample(i), 30),
                            f -> { }));
                }
                int peak = 0;
                for (BatchRuntime.Handle h : handles) {
                    while (!h.result().isDone()) {
                        peak = Math.max(peak, runtime.metrics().running());
                        Thread.sleep(1);
                    }
                    assertThat(h.result().get().frames()).isNotEmpty();
                }
                assertThat(peak).as("no more running than the cache holds").isLessThanOrEqualTo(2);
                try (BatchRuntime one = new BatchRuntime(ids, engine.newDecoder(1), new BatchRuntime.Options(1, 1, 32, 256, blockSize, 1))) {
                    assertThatThrownBy(() -> one.submit(GenerationRequest.of(fixture.inputIds(), fixture.promptFrames(),
                            Sampling.GREEDY, 30), f -> { }))
                            .isInstanceOfSatisfying(BatchRuntime.RejectedException.class,
                                    e -> assertThat(e.reason()).isEqualTo(BatchRuntime.Rejection.TOO_LARGE));
                }

                java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(3);
                BatchRuntime.Handle cancelled = runtime.submit(GenerationRequest.of(fixture.inputIds(), fixture.promptFrames(),
                        Sampling.sample(99), 30), f -> started.countDown());
                BatchRuntime.Handle other = runtime.submit(GenerationRequest.of(fixture.inputIds(), fixture.promptFrames(),
                        Sampling.sample(98), 30), f -> { });
                assertThat(started.await(30, TimeUnit.SECONDS)).isTrue();
                cancelled.cancel();
                GenerationResult r = cancelled.result().get(30, TimeUnit.SECONDS);
                assertThat(r.finish()).isEqualTo(dev.higgstrt.generation.FinishReason.CANCELLED);
                assertThat(other.result().get(30, TimeUnit.SECONDS).frames()).isNotEmpty();
                for (int i = 0; i < 200 && runtime.metrics().kvBlocksUsed() > 0; i++) {
                    Thread.sleep(5);
                }
                assertThat(runtime.metrics().kvBlocksUsed()).isZero();
                System.out.printf("paged runtime, cache of 2 requests: 8 queued requests completed, at most %d running; a request"
                        + " cancelled after %d frames ended cancelled, its blocks free%n", peak, r.frames().size());
            }
        }
    }

    private static float maxAbsDiff(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        float worst = 0;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs(a[i] - b[i]));
        }
        return worst;
    }

    @Test
    void cudaGraphsUnderTheRuntimeSurviveAnotherThreadsLegacyStreamCopies() throws Exception {
        // what a server does: the runtime's thread captures and replays decode steps while another thread
        // (the codec's, a client's upload) copies synchronously on the legacy stream, the pattern that once
        // broke a capture through one of TensorRT's auxiliary streams
        GenerationFixtures.Case fixture = GenerationFixtures.all().getFirst();
        Path ckpt = generationModel(fixture);
        SpeechTokens ids = SpeechTokens.read(ckpt);
        int blockSize = 8;
        List<GenerationRequest> requests = greedyRequests(fixture, HiggsAudioConfig.readFolder(ckpt), 8, 24);
        try (PagedEngine engine = PagedEngine.build(ckpt, DType.F32, new PagedEngine.Shape(160, 256, 8, blockSize), FfnMode.PLUGIN)) {
            BatchRuntime.Options options = new BatchRuntime.Options(8, 16, 32, 256, blockSize, 200);
            List<List<int[]>> plain = new ArrayList<>();
            try (BatchRuntime runtime = new BatchRuntime(ids, engine.newDecoder(200), options)) {
                for (GenerationRequest q : requests) {
                    plain.add(runtime.submit(q, f -> { }).result().get(60, TimeUnit.SECONDS).frames());
                }
            }
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            java.util.concurrent.atomic.AtomicLong copies = new java.util.concurrent.atomic.AtomicLong();
            PagedDecoder graphed = withGraphs(() -> engine.newDecoder(200));
            Thread copier = new Thread(() -> {
                try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined();
                     dev.higgstrt.trt.cuda.Cuda.DeviceBuffer buffer = new dev.higgstrt.trt.cuda.Cuda.DeviceBuffer(1 << 20)) {
                    java.lang.foreign.MemorySegment host = arena.allocate(1 << 20);
                    while (!stop.get()) {
                        buffer.upload(host);
                        buffer.download(host);
                        copies.incrementAndGet();
                    }
                }
            });
            copier.start();
            try (BatchRuntime runtime = new BatchRuntime(ids, graphed, options)) {
                // twice over, so that the repeated step shapes are captured during the first round and replayed
                for (int round = 0; round < 2; round++) {
                    List<BatchRuntime.Handle> handles = new ArrayList<>();
                    for (GenerationRequest q : requests) {
                        handles.add(runtime.submit(q, f -> { }));
                    }
                    for (int i = 0; i < handles.size(); i++) {
                        List<int[]> frames = handles.get(i).result().get(60, TimeUnit.SECONDS).frames();
                        assertThat(frames).as("round %d request %d", round, i).hasSameSizeAs(plain.get(i));
                        for (int f = 0; f < frames.size(); f++) {
                            assertThat(frames.get(f)).as("round %d request %d frame %d", round, i, f).containsExactly(plain.get(i).get(f));
                        }
                    }
                }
                assertThat(graphed.graphLaunches()).as("decode steps replayed as CUDA graphs").isPositive();
            } finally {
                stop.set(true);
                copier.join();
            }
            System.out.printf("paged runtime with CUDA graphs: 2 x 8 greedy requests equal to the runtime without graphs, %d steps"
                    + " replayed, while another thread made %d synchronous legacy-stream copies%n", graphed.graphLaunches(),
                    copies.get());
            assertThat(copies.get()).as("the copies ran beside the steps").isPositive();
        }
    }

    @Test
    void sixteenConcurrentGreedyRequestsGetTheFramesTheyGetAlone() throws Exception {
        GenerationFixtures.Case fixture = GenerationFixtures.all().getFirst();
        Path ckpt = generationModel(fixture);
        SpeechTokens ids = SpeechTokens.read(ckpt);
        List<GenerationRequest> requests = greedyRequests(fixture, HiggsAudioConfig.readFolder(ckpt), 16, 24);
        int blockSize = 8;
        PagedEngine.Shape shape = new PagedEngine.Shape(160, 256, 16, blockSize);
        try (PagedEngine engine = PagedEngine.build(ckpt, DType.F32, shape, FfnMode.PLUGIN)) {
            BatchRuntime.Options options = new BatchRuntime.Options(16, 64, 32, 256, blockSize, 400);
            List<List<int[]>> alone = new ArrayList<>();
            try (BatchRuntime runtime = new BatchRuntime(ids, engine.newDecoder(400), options)) {
                for (GenerationRequest q : requests) {
                    alone.add(runtime.submit(q, f -> { }).result().get(60, TimeUnit.SECONDS).frames());
                }
            }
            long freeBefore = DeviceMemory.free();
            try (BatchRuntime runtime = new BatchRuntime(ids, engine.newDecoder(400), options)) {
                List<BatchRuntime.Handle> handles = new ArrayList<>();
                for (GenerationRequest q : requests) {
                    handles.add(runtime.submit(q, f -> { }));
                }
                for (int i = 0; i < handles.size(); i++) {
                    GenerationResult together = handles.get(i).result().get(60, TimeUnit.SECONDS);
                    assertThat(together.frames()).as("request %d", i).hasSameSizeAs(alone.get(i));
                    for (int f = 0; f < together.frames().size(); f++) {
                        assertThat(together.frames().get(f)).as("request %d frame %d", i, f).containsExactly(alone.get(i).get(f));
                    }
                }
                assertThat(runtime.metrics().kvBlocksUsed()).isZero();
                // many short requests through the same runtime: the cache is the runtime's, nothing grows
                for (int round = 0; round < 63; round++) {
                    List<BatchRuntime.Handle> more = new ArrayList<>();
                    for (int i = 0; i < 16; i++) {
                        more.add(runtime.submit(GenerationRequest.of(requests.get(i).prompt().ids(), fixture.promptFrames(),
                                Sampling.sample(round * 16L + i), 3), f -> { }));
                    }
                    for (BatchRuntime.Handle h : more) {
                        h.result().get(60, TimeUnit.SECONDS);
                    }
                }
                assertThat(runtime.metrics().kvBlocksUsed()).isZero();
                assertThatThrownBy(() -> runtime.submit(GenerationRequest.of(new int[200], List.of(), Sampling.GREEDY, 4), f -> { }))
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("leaves no room");
            }
            long freeAfter = DeviceMemory.free();
            System.out.printf("paged runtime: 16 concurrent greedy requests equal alone; device memory free before %d MB, after"
                    + " 1,024 requests and close %d MB%n", freeBefore >> 20, freeAfter >> 20);
            assertThat(Math.abs(freeAfter - freeBefore)).isLessThan(64L << 20);
        }
    }
}
