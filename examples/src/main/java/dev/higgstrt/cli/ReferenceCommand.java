package dev.higgstrt.cli;

import dev.higgstrt.reference.Heads;
import dev.higgstrt.decoding.Logits;
import dev.higgstrt.reference.ReferenceModel;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.safetensors.SafetensorsWriter;
import dev.higgstrt.tensor.TensorSource;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code higgs-trt reference}: the CPU reference forward of a checkpoint on a token file. */
@Command(name = "reference", mixinStandardHelpOptions = true,
        description = {"Run the float32 CPU reference forward on a token file.",
                "Reads a checkpoint of any layout (transformers, Boson or converted) and writes the logits as",
                "safetensors: logits F32 [T, num_codebooks*codebook_size], and with --text text_logits F32 [T, vocab_size]."})
final class ReferenceCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, paramLabel = "DIR", description = "Checkpoint folder of any layout.")
    Path checkpoint;

    @Option(names = "--tokens", required = true, paramLabel = "FILE",
            description = "JSON {\"input_ids\": [...], \"audio_input_ids\": [[c0..cK-1], ...]}; either key may be absent.")
    Path tokens;

    @Option(names = "--output", required = true, paramLabel = "FILE", description = "The .safetensors file to write.")
    Path output;

    @Option(names = "--text", description = "Also write text_logits (needs a text head, own or tied).")
    boolean text;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        CliPaths.folder(checkpoint, "a checkpoint folder");
        CliPaths.file(tokens, "a token file (JSON)");
        CliPaths.outputFile(output, "a .safetensors file");
        TokenInput input = TokenInput.read(tokens);
        if (input.length() == 0) {
            throw new CliPaths.BadInput(tokens + ": no positions (input_ids and audio_input_ids are empty)");
        }
        try (ReferenceModel model = ReferenceModel.load(checkpoint)) {
            if (text && !model.hasTextHead()) {
                throw new IllegalArgumentException(checkpoint + ": --text, but the model has no text head");
            }
            try {
                input.validate(model.config());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(tokens + ": " + e.getMessage(), e);
            }
            long t0 = System.nanoTime();
            Logits logits = model.forward(input, text ? Heads.AUDIO_AND_TEXT : Heads.AUDIO);
            double s = (System.nanoTime() - t0) / 1e9;
            try (Arena arena = Arena.ofConfined()) {
                Map<String, TensorSource> out = new LinkedHashMap<>();
                out.put("logits", logits.audioTensor(arena));
                logits.textTensor(arena).ifPresent(t -> out.put("text_logits", t));
                SafetensorsWriter.write(output, out, Map.of("format", "pt", "producer", "higgs-trt reference"), n -> { });
            }
            int audio = 0;
            for (boolean a : logits.audioMask()) {
                audio += a ? 1 : 0;
            }
            spec.commandLine().getOut().printf("%d positions (%d audio) -> %s: logits [%d,%d]%s in %.3f s%n", logits.tokens(), audio,
                    output, logits.tokens(), logits.audioWidth(),
                    text ? ", text_logits [" + logits.tokens() + "," + logits.textWidth() + "]" : "", s);
        }
        return 0;
    }
}
