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
        description = {"Write a checkpoint with random weights.",
                "A Higgs Audio v2 checkpoint of a preset or config geometry, sharded with an index above 2 GB."})
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

    @Option(names = "--codec", description = "Write an audio tokenizer (codec) instead: --preset tiny (fits the tiny model) or full (the published geometry).")
    boolean codec;

    @Option(names = "--force", description = "Write into a non-empty output folder, replacing the checkpoint files there.")
    boolean force;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (codec) {
            return writeCodec();
        }
        HiggsAudioConfig config = geometry.preset != null ? Presets.named(geometry.preset) : HiggsAudioConfig.read(geometry.config);
        if (dualFfnLayers != null) {
            config = config.withDualFfnLayers(dualFfnLayers);
        }
        SourceLayout layout = SourceLayout.fromId(format);
        CliPaths.outputFolder(output, "a folder for the checkpoint");
        prepareOutput(output, force);
        SyntheticCheckpoint.Spec what = SyntheticCheckpoint.Spec.of(config).withFormat(layout).withSeed(seed)
                .withTextHead(textHead).withDtype(DType.parse(dtype));
        long t0 = System.nanoTime();
        long bytes;
        long total = SyntheticCheckpoint.weights(what).byteSize();
        try (ProgressBar bar = new ProgressBar(spec.commandLine().getErr(), total)) {
            bytes = SyntheticCheckpoint.write(output, what, bar);
        }
        double s = (System.nanoTime() - t0) / 1e9;
        spec.commandLine().getOut().printf("wrote %s checkpoint to %s: %s in %.1f s%n", layout.id(), output, Sizes.bytes(bytes), s);
        return 0;
    }

    private int writeCodec() throws Exception {
        dev.higgstrt.audio.CodecConfig c;
        try {
            c = geometry.preset != null ? dev.higgstrt.synth.SyntheticCodec.named(geometry.preset)
                    : dev.higgstrt.audio.CodecConfig.read(geometry.config);
        } catch (IllegalArgumentException e) {
            throw new CliPaths.BadInput(e.getMessage());
        }
        CliPaths.outputFolder(output, "a folder for the codec");
        prepareOutput(output, force);
        long t0 = System.nanoTime();
        long bytes = dev.higgstrt.synth.SyntheticCodec.write(output, c, seed);
        spec.commandLine().getOut().printf("wrote a codec (%d quantizers of %d codes, %d Hz, %d samples a frame) to %s: %s in %.1f s%n",
                c.numQuantizers(), c.codebookSize(), c.sampleRate(), c.samplesPerFrame(), output, Sizes.bytes(bytes),
                (System.nanoTime() - t0) / 1e9);
        return 0;
    }

    /**
     * Refuses a non-empty folder unless {@code force}; with it, removes the checkpoint files there
     * (config, safetensors, their index, a tokenizer) so that nothing stale stays beside the new ones.
     */
    static void prepareOutput(Path output, boolean force) throws java.io.IOException {
        if (!java.nio.file.Files.isDirectory(output)) {
            return;
        }
        java.util.List<Path> present;
        try (var s = java.nio.file.Files.list(output)) {
            present = s.toList();
        }
        if (present.isEmpty()) {
            return;
        }
        if (!force) {
            throw new CliPaths.BadInput(output + ": not empty (" + present.size() + " entries); choose an empty or new folder, "
                    + "or add --force to replace the checkpoint there");
        }
        for (Path p : present) {
            String n = p.getFileName().toString();
            if (java.nio.file.Files.isRegularFile(p) && (n.endsWith(".safetensors") || n.equals("config.json")
                    || n.equals(dev.higgstrt.safetensors.ShardIndex.FILE_NAME) || n.equals("tokenizer.json")
                    || n.equals("generation_config.json"))) {
                java.nio.file.Files.delete(p);
            }
        }
    }
}
