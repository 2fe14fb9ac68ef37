package dev.higgstrt.bench;

import dev.higgstrt.generation.GenerationRequest;
import dev.higgstrt.generation.Sampling;
import dev.higgstrt.model.SpeechTokens;
import dev.higgstrt.runtime.BatchDecoder;
import dev.higgstrt.runtime.BatchRuntime;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The batched runtime's own cost on the host: {@code BATCH} requests with the default sampling
 * over a decoder that answers every step at once with ready logits (8 x 1026 each), so that what
 * is measured is the scheduling, the sampling of every sequence and the bookkeeping of a step:
 * the ceiling of frames/s the host allows, to set beside a GPU step. With the sampling of a step
 * spread over the fork-join pool (the default) and, as the baseline, on the runtime's thread.
 * {@code RuntimeHostCost [BATCH] [FRAMES]}
 */
public final class RuntimeHostCost {
    private RuntimeHostCost() {
    }

    /** Answers each entry with one of 64 fixed random logit rows, at once. */
    private static final class InstantDecoder implements BatchDecoder {
        private final float[][] rows;
        private int next;

        InstantDecoder(float[][] rows) {
            this.rows = rows;
        }

        @Override
        public int maxSequence() {
            return 1 << 16;
        }

        @Override
        public List<float[]> step(List<Work> batch) {
            List<float[]> out = new ArrayList<>(batch.size());
            for (int i = 0; i < batch.size(); i++) {
                out.add(rows[next++ & (rows.length - 1)]);
            }
            return out;
        }

        @Override
        public void release(long sequence) {
        }

        @Override
        public void close() {
        }
    }

    private static double framesPerSecond(SpeechTokens ids, float[][] rows, int batch, int frames) throws Exception {
        BatchRuntime.Options options = new BatchRuntime.Options(batch, batch, 256, batch + 256, 32, batch * (frames / 32 + 2));
        try (BatchRuntime runtime = new BatchRuntime(ids, new InstantDecoder(rows), options)) {
            List<BatchRuntime.Handle> handles = new ArrayList<>();
            long t0 = System.nanoTime();
            for (int i = 0; i < batch; i++) {
                handles.add(runtime.submit(GenerationRequest.of(new int[]{1, 2, ids.audioOutBos()}, List.of(), Sampling.sample(i),
                        frames), f -> { }));
            }
            long total = 0;
            for (BatchRuntime.Handle h : handles) {
                total += h.result().get().frames().size();
            }
            return total / ((System.nanoTime() - t0) / 1e9);
        }
    }

    public static void main(String[] args) throws Exception {
        int batch = args.length > 0 ? Integer.parseInt(args[0]) : 256;
        int frames = args.length > 1 ? Integer.parseInt(args[1]) : 200;
        SpeechTokens ids = new SpeechTokens(128016, 128014, 128013, 128009, 1024, 1025, 8, 1026);
        Random r = new Random(1);
        float[][] rows = new float[64][8 * 1026];
        for (float[] l : rows) {
            for (int i = 0; i < l.length; i++) {
                l[i] = (float) (r.nextGaussian() * 3);
            }
            for (int k = 0; k < 8; k++) {
                l[k * 1026 + 1025] = -50;   // no EOS: every request runs its frames
            }
        }
        System.out.printf("runtime host cost, batch %d, %d frames each, default sampling, %d cores%n", batch, frames,
                Runtime.getRuntime().availableProcessors());
        System.out.println("| sampling of a step | frames/s (host ceiling) | host ms a step at this batch |");
        System.out.println("|---|---|---|");
        for (boolean parallel : new boolean[]{true, false, true, false}) {
            System.setProperty(BatchRuntime.PARALLEL_SAMPLING_PROPERTY, Boolean.toString(parallel));
            double fps = framesPerSecond(ids, rows, batch, frames);
            System.out.printf("| %s | %.0f | %.2f |%n", parallel ? "fork-join pool" : "runtime thread", fps, batch / fps * 1e3);
        }
    }
}
