package dev.higgstrt.cli;

import dev.higgstrt.tensor.DType;
import dev.higgstrt.trt.engine.FfnMode;
import dev.higgstrt.trt.engine.HiggsEngine;
import dev.higgstrt.trt.engine.PagedEngine;
import dev.higgstrt.trt.parallel.ParallelEngine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code higgs-trt build}: a TensorRT engine from a converted checkpoint. */
@Command(name = "build", mixinStandardHelpOptions = true,
        description = {"Build the TensorRT engine of a converted checkpoint.",
                "A tp 1, pp 1 checkpoint gives one engine file; a checkpoint of tp x pp > 1 gives a folder of one",
                "engine per rank. Each records the checkpoint it was built from. Needs an NVIDIA GPU and TensorRT 10",
                "(docs/gpu.md)."})
final class BuildCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, paramLabel = "DIR", description = "A converted checkpoint folder.")
    Path checkpoint;

    @Option(names = "--engine", required = true, paramLabel = "PATH",
            description = "The engine file to write; for a checkpoint of tp x pp > 1, a new folder of one engine per rank.")
    Path engine;

    @Option(names = "--dtype", defaultValue = "bfloat16", description = "bfloat16, float16 or float32 (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--max-seq", defaultValue = "2048", description = "Longest sequence (default: ${DEFAULT-VALUE}).")
    int maxSeq;

    @Option(names = "--ffn", defaultValue = "auto", paramLabel = "MODE",
            description = "Dual FFN: plugin (each position its own path), compute-both (both paths, then select), "
                    + "auto (the plugin where it loads; default).")
    String ffn;

    @Option(names = "--paged", description = "Build the packed, batched engine over a paged KV cache (checkpoints of one rank): "
            + "many sequences a call, for serve and tts.")
    boolean paged;

    @Option(names = "--max-tokens", defaultValue = "1024", description = "Paged engine: the most tokens of a call, all sequences "
            + "together (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--max-batch", defaultValue = "64", description = "Paged engine: the most sequences of a call (default: "
            + "${DEFAULT-VALUE}).")
    int maxBatch;

    @Option(names = "--block-size", defaultValue = "32", description = "Paged engine: positions a KV block holds (default: "
            + "${DEFAULT-VALUE}).")
    int blockSize;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        FfnMode mode = FfnMode.parse(ffn);
        GpuCheck.require("build");
        long t0 = System.nanoTime();
        var layout = dev.higgstrt.converted.ConvertedCheckpoint.stored(checkpoint);
        int[] tpPp = {layout.tp(), layout.pp()};
        if (paged) {
            PagedEngine.Shape shape;
            try {
                shape = new PagedEngine.Shape(maxSeq, maxTokens, maxBatch, blockSize);
            } catch (IllegalArgumentException e) {
                throw new CliPaths.BadInput(e.getMessage());
            }
            try (PagedEngine e = PagedEngine.build(checkpoint, DType.parse(dtype), shape, mode)) {
                double s = (System.nanoTime() - t0) / 1e9;
                e.save(engine);
                spec.commandLine().getOut().printf("built paged %s engine (max %d positions, %d tokens and %d sequences a call, KV"
                                + " blocks of %d, dual FFN %s) in %.1f s: %s%n", e.dtype().torchName(), maxSeq, maxTokens, maxBatch,
                        blockSize, e.ffnMode().id(), s, engine);
            }
            return 0;
        }
        if (tpPp[0] * tpPp[1] > 1) {
            try (ParallelEngine e = ParallelEngine.build(checkpoint, DType.parse(dtype), maxSeq, mode, ParallelEngine.Options.allDevices())) {
                double s = (System.nanoTime() - t0) / 1e9;
                e.save(engine);
                spec.commandLine().getOut().printf("built %d %s rank engines (tp %d x pp %d, sums %s, max %d positions, dual FFN %s) in %.1f s: %s%n",
                        tpPp[0] * tpPp[1], e.dtype().torchName(), e.tp(), e.pp(), e.reduceKinds(), maxSeq, e.ffnMode().id(), s, engine);
            }
            return 0;
        }
        try (HiggsEngine e = HiggsEngine.build(checkpoint, DType.parse(dtype), maxSeq, mode)) {
            double s = (System.nanoTime() - t0) / 1e9;
            e.save(engine);
            spec.commandLine().getOut().printf("built %s engine (max %d positions, dual FFN %s) in %.1f s: %s, %.1f MB%n",
                    e.dtype().torchName(), maxSeq, e.ffnMode().id(), s, engine, e.planBytes() / 1e6);
        }
        return 0;
    }
}
