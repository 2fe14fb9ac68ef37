package dev.higgstrt.cli;

import dev.higgstrt.tensor.DType;
import dev.higgstrt.trt.codec.CodecEngine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code higgs-trt build-codec}: the TensorRT engine of a codec's decoder. */
@Command(name = "build-codec", mixinStandardHelpOptions = true,
        description = {"Build the TensorRT engine of an audio codec's decoder.",
                "From a codec folder (transformers' or Boson's names); the engine file records the codec's geometry.",
                "Needs an NVIDIA GPU and TensorRT 10 (docs/gpu.md)."})
final class BuildCodecCommand implements Callable<Integer> {
    @Option(names = "--codec", required = true, paramLabel = "DIR", description = "The codec folder.")
    Path codec;

    @Option(names = "--engine", required = true, paramLabel = "FILE", description = "The engine file to write.")
    Path engine;

    @Option(names = "--dtype", defaultValue = "float16", description = "float16, bfloat16 or float32 (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--max-frames", defaultValue = "1500", description = "Most frames one decode call takes, 25 a second (default: ${DEFAULT-VALUE}).")
    int maxFrames;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        CliPaths.folder(codec, "a codec folder");
        CliPaths.outputFile(engine, "an engine file");
        if (maxFrames <= 0) {
            throw new CliPaths.BadInput("--max-frames must be positive, got " + maxFrames);
        }
        DType d = DType.parse(dtype);
        GpuCheck.require("build-codec");
        long t0 = System.nanoTime();
        try (CodecEngine e = CodecEngine.build(codec, d, maxFrames)) {
            double s = (System.nanoTime() - t0) / 1e9;
            e.save(engine);
            spec.commandLine().getOut().printf("built %s codec engine (%d quantizers, %d Hz, at most %d frames a call) in %.1f s: %s%n",
                    d.torchName(), e.config().numQuantizers(), e.config().sampleRate(), maxFrames, s, engine);
        }
        return 0;
    }
}
