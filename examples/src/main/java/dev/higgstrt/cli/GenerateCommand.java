package dev.higgstrt.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.higgstrt.generation.GenerationResult;
import dev.higgstrt.generation.Generator;
import dev.higgstrt.io.Json;
import dev.higgstrt.model.SpeechTokens;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;

/** {@code higgs-trt generate}: text to Higgs Audio codes, on the CPU reference or an engine. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Generate audio codes from text.",
                "Runs the prompt (chat format, optional scene and voice reference) and the delay-pattern generation loop",
                "on the CPU reference of --checkpoint, or on --engine (built from that checkpoint), and writes",
                "{\"frames\": [[one code per codebook]...], \"codes\": [[...] per codebook], \"finish\": ...} (docs/generation.md)."})
final class GenerateCommand implements Callable<Integer> {
    @Mixin
    GenerationOptions generation;

    @Option(names = "--output", required = true, paramLabel = "FILE", description = "The JSON file to write.")
    Path output;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        CliPaths.outputFile(output, "a .json file");
        SpeechTokens ids = generation.validate();
        var request = generation.request(ids);
        PrintWriter err = spec.commandLine().getErr();
        try (GenerationOptions.Backend backend = generation.backend("generate")) {
            GenerationResult r = new Generator(ids, backend.sessions()).generate(request, progress(err), () -> false);
            write(r);
            spec.commandLine().getOut().printf("%d prompt positions, %d frames (%.2f s of audio at 25 frames/s), finish %s:"
                            + " prefill %.1f ms, %.1f frames/s (%s) -> %s%n", r.promptPositions(), r.frames().size(),
                    r.codes()[0].length / 25.0, r.finish().id(), r.prefillNanos() / 1e6, r.framesPerSecond(), backend.name(), output);
        }
        return 0;
    }

    /** A progress line every 2 s: frames, seconds of audio, frames a second. */
    static Generator.FrameListener progress(PrintWriter err) {
        long t0 = System.nanoTime();
        long[] lastLine = {t0};
        return f -> {
            long now = System.nanoTime();
            if (now - lastLine[0] > 2_000_000_000L) {
                lastLine[0] = now;
                err.printf("%d frames (%.1f s of audio), %.1f frames/s%n", f.index() + 1, (f.index() + 1) / 25.0,
                        (f.index() + 1) / ((now - t0) / 1e9));
                err.flush();
            }
        };
    }

    private void write(GenerationResult r) throws Exception {
        ObjectNode n = Json.PRETTY.createObjectNode();
        ArrayNode frames = n.putArray("frames");
        for (int[] f : r.frames()) {
            ArrayNode a = frames.addArray();
            Arrays.stream(f).forEach(a::add);
        }
        ArrayNode codes = n.putArray("codes");
        for (int[] row : r.codes()) {
            ArrayNode a = codes.addArray();
            Arrays.stream(row).forEach(a::add);
        }
        n.put("finish", r.finish().id());
        n.put("prompt_positions", r.promptPositions());
        dev.higgstrt.io.AtomicOutput.writeString(output, Json.STRICT.writeValueAsString(n) + "\n");
    }
}
