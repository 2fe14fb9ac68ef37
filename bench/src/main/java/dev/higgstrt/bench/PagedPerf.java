package dev.higgstrt.bench;

import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.runtime.BatchDecoder;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.trt.cuda.Cuda;
import dev.higgstrt.trt.cuda.DeviceMemory;
import dev.higgstrt.trt.engine.FfnMode;
import dev.higgstrt.trt.engine.PagedDecoder;
import dev.higgstrt.trt.engine.PagedEngine;
import dev.higgstrt.trt.plugin.DualFfnPlugin;
import dev.higgstrt.trt.plugin.PagedAttentionPlugin;
import dev.higgstrt.trt.smoke.SmokeRun;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The packed, paged engine on the GPU: for each batch size, that many sequences of a
 * {@code PROMPT}-position prompt (prefilled in packed steps of up to the engine's token budget)
 * each decode {@code FRAMES} audio frames together, one position a sequence a step; frames/s, the
 * mean step, the KV memory. Beside it, in the same run: the device-to-device copy bandwidth, the
 * batch-1 floor (the weights on the taken path plus the KV cache a step reads, over that
 * bandwidth), the prefill of one prompt alone, and the time to first frame of a request joining a
 * batch of 64 decoding sequences (its whole prefill in the step).
 * {@code PagedPerf CONVERTED_DIR DTYPE PROMPT FRAMES BATCH...}; {@code -Dhiggs.bench.saveEngine=FILE} also saves the engine;
 * {@code -Dhiggs.bench.profileSteps=N} runs instead N batch-1 decode steps in a CUDA profiler range
 * (with {@code -Dhiggs.bench.profilePrefill=true}, N prefills of the prompt);
 * {@code -Dhiggs.bench.graphs=false} leaves CUDA graphs out; {@code -Dhiggs.bench.prefillOnly=true} stops after the prefill. Batches of up to 8 run again, twice
 * over, with each of decode attention's two kernels (decodeKernel, the per-token kernel) without and
 * with the plugins' dependent launches ({@code -Dhiggs.bench.decodeBaselines=false} leaves those out).
 */
public final class PagedPerf {
    private static final int BLOCK = 32;
    private static final int MAX_TOKENS = 2048;

    private PagedPerf() {
    }

    public static void main(String[] args) throws Exception {
        Path ckpt = Path.of(args[0]);
        DType dtype = DType.parse(args[1]);
        int prompt = Integer.parseInt(args[2]);
        int frames = Integer.parseInt(args[3]);
        int[] batches = Arrays.stream(args, 4, args.length).mapToInt(Integer::parseInt).toArray();
        int maxBatch = Arrays.stream(batches).max().orElse(1);
        long weightBytes = DecodeFloor.weightBytes(ckpt);
        int maxSequence = prompt + frames + 8;
        PagedEngine.Shape shape = new PagedEngine.Shape(maxSequence, MAX_TOKENS, Math.max(maxBatch, 65), BLOCK);
        long t0 = System.nanoTime();
        try (PagedEngine engine = PagedEngine.build(ckpt, dtype, shape, FfnMode.PLUGIN)) {
            System.out.printf("paged engine %s, build %.1f s, blocks of %d positions, %.2f MB a block (all layers)%n",
                    dtype.torchName(), (System.nanoTime() - t0) / 1e9, BLOCK, engine.bytesPerBlock() / 1e6);
            String save = System.getProperty("higgs.bench.saveEngine");
            if (save != null) {
                engine.save(Path.of(save));   // for the time-to-first-audio run that follows
            }
            HiggsAudioConfig c = engine.config();
            double bandwidth = Cuda.copyBandwidth(2L << 30, 20);
            System.out.printf("copy bandwidth of this GPU, measured now: %.2f TB/s (bytes read + written)%n", bandwidth / 1e12);
            long weightsRead = DecodeFloor.weightsRead(weightBytes, c, dtype, true);
            long kvPerPosition = engine.bytesPerBlock() / BLOCK;
            TokenInput promptTokens = SmokeRun.prompt(c, prompt, 1);
            int blocksPerSequence = shape.blocksPerSequence();
            int profileSteps = Integer.getInteger("higgs.bench.profileSteps", 0);
            if (profileSteps > 0) {
                profile(engine, promptTokens, prompt, profileSteps, blocksPerSequence, c.numCodebooks());
                return;
            }

            // untimed: in three runs of the table on the H200 its first row took about 0.1 ms a step more than the
            // same row run later (clocks, the JIT), and the first prefills' host packing ran before the JIT had
            // compiled it, so a batch-1 decode runs first
            try (PagedDecoder d = engine.newDecoder(blocksPerSequence)) {
                prefill(d, promptTokens, 1, blocksPerSequence);
                TokenInput audio = TokenInput.audio(new int[c.numCodebooks()]);
                for (int f = 0; f < Math.min(frames, 300); f++) {
                    d.step(List.of(new BatchDecoder.Work(0, audio, prompt + f, table(0, blocksPerSequence))));
                }
            }
            // one prompt alone, and its first frame, each time after 6 untimed prefills (on the H200 the first 6
            // took 0.4-1.4 ms a prefill more than the next 6): stream launches with the many-token kernels'
            // dependent launches as by default and toggled, twice over, then the same replayed as a CUDA graph,
            // which leaves out the host's enqueue and most of the gaps between launches
            String graphsBefore = System.getProperty(PagedDecoder.GRAPHS_PROPERTY);
            int dependentDefault = DualFfnPlugin.get().setDependentLaunches(0);
            int manyToggled = dependentDefault ^ DualFfnPlugin.DEPENDENT_MANY_TOKENS;
            int[][] prefillRuns = {{0, dependentDefault}, {0, manyToggled}, {0, dependentDefault}, {0, manyToggled},
                {1, dependentDefault}, {1, manyToggled}};
            for (int[] prefillRun : prefillRuns) {
                boolean replay = prefillRun[0] == 1;
                System.setProperty(PagedDecoder.GRAPHS_PROPERTY, Boolean.toString(replay));
                DualFfnPlugin.get().setDependentLaunches(prefillRun[1]);
                try (PagedDecoder d = engine.newDecoder(blocksPerSequence)) {
                    double[] ms = new double[6];
                    double[][] phases = new double[3][ms.length];
                    for (int round = 0; round < 2; round++) {
                        for (int run = 0; run < ms.length; run++) {
                            long a = System.nanoTime();
                            d.step(List.of(new BatchDecoder.Work(run, promptTokens, 0, table(0, blocksPerSequence))));
                            ms[run] = (System.nanoTime() - a) / 1e6;
                            PagedDecoder.StepTiming timing = d.lastStepTiming();
                            phases[0][run] = timing.prepareNanos() / 1e6;
                            phases[1][run] = timing.enqueueNanos() / 1e6;
                            phases[2][run] = timing.waitNanos() / 1e6;
                        }
                    }
                    if (replay && d.graphLaunches() < ms.length) {
                        System.out.println("prefill as a CUDA graph: not replayed (" + d.graphLaunches() + " launches)");
                        continue;
                    }
                    System.out.printf("prefill of %d positions alone%s%s: %.2f ms median of 6 -> %.0f positions/s"
                                    + " (host: prepare %.2f, enqueue %.2f, wait %.2f ms, medians)%n",
                            prompt, replay ? ", replayed as a CUDA graph" : " (= time to first frame at batch 1)",
                            prefillRun[1] == dependentDefault ? "" : ", dependent launches " + prefillRun[1], median(ms),
                            prompt / (median(ms) / 1e3), median(phases[0]), median(phases[1]), median(phases[2]));
                }
            }
            DualFfnPlugin.get().setDependentLaunches(dependentDefault);
            if (graphsBefore == null) {
                System.clearProperty(PagedDecoder.GRAPHS_PROPERTY);
            } else {
                System.setProperty(PagedDecoder.GRAPHS_PROPERTY, graphsBefore);
            }
            if (Boolean.getBoolean("higgs.bench.prefillOnly")) {
                return;
            }
            System.out.println("| batch | frames/s | mean step ms | batch-1 floor ms | KV memory GB | prefill of all s |"
                    + " host ms a step: prepare / enqueue / wait |");
            System.out.println("|---|---|---|---|---|---|---|");
            List<int[]> runs = new ArrayList<>();
            boolean graphs = Boolean.parseBoolean(System.getProperty("higgs.bench.graphs", "true"));
            // {batch, CUDA graphs, dependent-launch mask, decodeKernel}
            int decodeDefault = PagedAttentionPlugin.get().setDecodeKernel(true) ? 1 : 0;
            for (int batch : batches) {
                if (graphs) {
                    runs.add(new int[]{batch, 1, dependentDefault, decodeDefault});
                }
                if (batch <= 8 || !graphs) {   // the baseline: the same steps enqueued without CUDA graphs
                    runs.add(new int[]{batch, 0, dependentDefault, decodeDefault});
                }
                if (batch > 1) {
                    // the many-token kernels' dependent launches toggled, then the default again: in one run a
                    // second batch-64 row with them off read 10,430 frames/s against 8,995 for the first row with
                    // them on, where the first rows of four runs, on or off, read 8,736-9,093
                    runs.add(new int[]{batch, graphs ? 1 : 0, manyToggled, decodeDefault});
                    runs.add(new int[]{batch, graphs ? 1 : 0, dependentDefault, decodeDefault});
                }
            }
            if (Boolean.parseBoolean(System.getProperty("higgs.bench.decodeBaselines", "true"))) {
                // decode attention's two kernels, each without and with every dependent launch, twice over, so
                // that a drift within the run shows as a difference between the two rounds
                for (int batch : batches) {
                    if (batch > 8) {
                        continue;
                    }
                    for (int round = 0; round < 2; round++) {
                        for (int decodeKernel : new int[]{decodeDefault, 1 - decodeDefault}) {
                            for (int mask : new int[]{dependentDefault, dependentDefault == 0 ? DualFfnPlugin.DEPENDENT_ALL : 0}) {
                                runs.add(new int[]{batch, graphs ? 1 : 0, mask, decodeKernel});
                            }
                        }
                    }
                }
            }
            for (int[] run : runs) {
                int batch = run[0];
                System.setProperty(PagedDecoder.GRAPHS_PROPERTY, Boolean.toString(run[1] == 1));
                DualFfnPlugin.get().setDependentLaunches(run[2]);
                PagedAttentionPlugin.get().setDecodeKernel(run[3] == 1);
                long freeBefore = DeviceMemory.free();
                try (PagedDecoder d = engine.newDecoder(batch * blocksPerSequence + (batch == 64 ? 3 * blocksPerSequence : 0))) {
                    long p0 = System.nanoTime();
                    prefill(d, promptTokens, batch, blocksPerSequence);
                    double prefillS = (System.nanoTime() - p0) / 1e9;
                    int[] frame = new int[c.numCodebooks()];
                    TokenInput audio = TokenInput.audio(frame);
                    List<BatchDecoder.Work> step = new ArrayList<>(batch);
                    long[] host = new long[3];
                    long s0 = System.nanoTime();
                    for (int f = 0; f < frames; f++) {
                        step.clear();
                        for (int s = 0; s < batch; s++) {
                            step.add(new BatchDecoder.Work(s, audio, prompt + f, table(s * blocksPerSequence, blocksPerSequence)));
                        }
                        d.step(step);
                        PagedDecoder.StepTiming timing = d.lastStepTiming();
                        host[0] += timing.prepareNanos();
                        host[1] += timing.enqueueNanos();
                        host[2] += timing.waitNanos();
                    }
                    double seconds = (System.nanoTime() - s0) / 1e9;
                    double floor = batch == 1
                            ? (weightsRead + kvPerPosition * (prompt + frames / 2.0)) / bandwidth * 1e3 : Double.NaN;
                    System.out.printf("| %s | %.0f | %.2f | %s | %.2f | %.2f | %.3f / %.3f / %.3f |%n",
                            batch + (run[1] == 1 ? "" : " (no CUDA graphs)")
                                    + (run[2] == dependentDefault ? "" : " (dependent launches " + run[2] + ")")
                                    + (run[3] == decodeDefault ? "" : run[3] == 1 ? " (decodeKernel)" : " (per-token decode kernel)"),
                            batch * frames / seconds, seconds / frames * 1e3,
                            batch == 1 ? String.format("%.2f (%.2fx)", floor, seconds / frames * 1e3 / floor) : "",
                            (double) d.kvBytes() / 1e9, prefillS, host[0] / 1e6 / frames, host[1] / 1e6 / frames,
                            host[2] / 1e6 / frames);
                    if (batch == 64 && run[2] == dependentDefault && run[3] == decodeDefault && (run[1] == 1 || !graphs)) {
                        // three joins: the first is the first call of its shape (TensorRT sets the shape up), so
                        // one sample of it alone once read 45 ms where the next read 32
                        double[] joins = new double[3];
                        for (int j = 0; j < joins.length; j++) {
                            step.clear();
                            for (int s = 0; s < batch; s++) {
                                step.add(new BatchDecoder.Work(s, audio, prompt + frames + j,
                                        table(s * blocksPerSequence, blocksPerSequence)));
                            }
                            step.add(new BatchDecoder.Work(batch + j, promptTokens, 0,
                                    table((batch + j) * blocksPerSequence, blocksPerSequence)));
                            long j0 = System.nanoTime();
                            d.step(step);
                            joins[j] = (System.nanoTime() - j0) / 1e6;
                        }
                        System.out.printf("time to first frame of a request joining a batch of 64 (its %d-position prefill in the step): "
                                + "%.2f ms the first time, then %.2f and %.2f ms%n", prompt, joins[0], joins[1], joins[2]);
                    }
                }
                System.out.printf("  device memory after batch %d: %d MB free (before %d MB)%n", batch, DeviceMemory.free() >> 20,
                        freeBefore >> 20);
            }
        }
    }

    /**
     * One sequence: its prefill, 20 decode steps to warm up, then {@code steps} decode steps inside a
     * CUDA profiler range (for {@code ncu --profile-from-start off}), and the step time without it.
     */
    private static void profile(PagedEngine engine, TokenInput promptTokens, int prompt, int steps, int blocksPerSequence,
                                int codebooks) {
        try (PagedDecoder d = engine.newDecoder(blocksPerSequence)) {
            int[] table = table(0, blocksPerSequence);
            d.step(List.of(new BatchDecoder.Work(0, promptTokens, 0, table)));
            TokenInput audio = TokenInput.audio(new int[codebooks]);
            int position = prompt;
            long a = System.nanoTime();
            for (int i = 0; i < 20; i++) {
                d.step(List.of(new BatchDecoder.Work(0, audio, position++, table)));
            }
            System.out.printf("batch-1 decode step outside the profiler: %.3f ms (mean of 20)%n", (System.nanoTime() - a) / 20e6);
            if (Boolean.getBoolean("higgs.bench.profilePrefill")) {
                // the prompt's prefill again, over the same blocks
                try (CudaProfilerRange range = CudaProfilerRange.open()) {
                    for (int i = 0; i < steps; i++) {
                        d.step(List.of(new BatchDecoder.Work(0, promptTokens, 0, table)));
                    }
                }
                System.out.printf("profiled %d prefills of %d positions%n", steps, prompt);
                return;
            }
            try (CudaProfilerRange range = CudaProfilerRange.open()) {
                for (int i = 0; i < steps; i++) {
                    d.step(List.of(new BatchDecoder.Work(0, audio, position++, table)));
                }
            }
            System.out.printf("profiled %d batch-1 decode steps at positions %d..%d%n", steps, prompt + 20, position - 1);
        }
    }

    /** Prefills {@code batch} sequences, as many whole prompts a step as the token budget takes. */
    private static void prefill(PagedDecoder d, TokenInput prompt, int batch, int blocksPerSequence) {
        int perStep = Math.max(1, MAX_TOKENS / prompt.length());
        for (int s = 0; s < batch; s += perStep) {
            List<BatchDecoder.Work> step = new ArrayList<>();
            for (int i = s; i < Math.min(batch, s + perStep); i++) {
                step.add(new BatchDecoder.Work(i, prompt, 0, table(i * blocksPerSequence, blocksPerSequence)));
            }
            d.step(step);
        }
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    private static int[] table(int first, int n) {
        int[] t = new int[n];
        Arrays.setAll(t, i -> first + i);
        return t;
    }
}
