package dev.higgstrt.cli;

import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.SourceLayout;
import dev.higgstrt.synth.Presets;
import dev.higgstrt.synth.SyntheticCheckpoint;
import dev.higgstrt.tensor.DType;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code higgs-trt synth}: writes a checkpoint with random weights. */
@Command(name = "synth", mixinStandardHelpOptions = true,
        description = "Write a synthetic Higgs Audio v2 checkpoint with random weights (sharded with an index above 2 GB).")
final class SynthCommand implements Callable<Integer> {
    static final class Geometry {
        @Option(names = "--preset", description = "tiny, small or full (the real geometry, ~11 GB in BF16).")
        String preset;
        @Option(names = "--config", paramLabel = "FILE", description = "A config.json (transformers or Boson flavour).")
        Path config;
    }

    @ArgGroup(multiplicity = "1")
    Geometry geometry;

    @Option(names = "--format", defaultValue = "transformers", description = "transformers or boson (default: ${DEFAULT-VALUE}).")
    String format;

    @Option(names = "--output", required = true, paramLabel = "DIR", description = "Output folder.")
    Path output;

    @Option(names = "--seed", defaultValue = "1", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--text-head", description = "Include a text LM head.")
    boolean textHead;

    @Option(names = "--dtype", defaultValue = "bfloat16", description = "bfloat16, float16 or float32 (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--dual-ffn-layers", split = ",", paramLabel = "L", description = "Layers with the audio path (default: all).")
    List<Integer> dualFfnLayers;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        HiggsAudioConfig config = geometry.preset != null ? Presets.named(geometry.preset) : HiggsAudioConfig.read(geometry.config);
        if (dualFfnLayers != null) {
            config = config.withDualFfnLayers(dualFfnLayers);
        }
        SourceLayout layout = SourceLayout.fromId(format);
        DType d = DType.parse(dtype);
        long t0 = System.nanoTime();
        long bytes;
        long total = SyntheticCheckpoint.weights(config, seed, textHead, d).byteSize();
        try (ProgressBar bar = new ProgressBar(spec.commandLine().getErr(), total)) {
            bytes = SyntheticCheckpoint.write(output, config, layout, seed, textHead, d, bar);
        }
        double s = (System.nanoTime() - t0) / 1e9;
        spec.commandLine().getOut().printf("wrote %s checkpoint to %s: %.2f GB in %.1f s%n", layout.id(), output, bytes / 1e9, s);
        return 0;
    }
}
