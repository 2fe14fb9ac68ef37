package dev.higgstrt.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.higgstrt.io.Json;
import dev.higgstrt.text.HuggingFaceTextTokenizer;
import dev.higgstrt.text.TextTokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/** {@code higgs-trt tokenize}: the token ids of a text. */
@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = {"Print the token ids of a text.",
                "Encodes with a tokenizer.json as Hugging Face tokenizers does: special tokens in the text are single",
                "ids, none are added, nothing is truncated."})
final class TokenizeCommand implements Callable<Integer> {
    @Option(names = "--tokenizer", required = true, paramLabel = "FILE", description = "A tokenizer.json, or a checkpoint folder holding one.")
    Path tokenizer;

    @Option(names = "--text", required = true, description = "The text.")
    String text;

    @Option(names = "--json", description = "Print {\"ids\": [...]}.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        CliPaths.existing(tokenizer, "a tokenizer.json or a checkpoint folder");
        try (TextTokenizer t = HuggingFaceTextTokenizer.open(tokenizer)) {
            int[] ids = t.encode(text);
            if (json) {
                ObjectNode n = Json.PRETTY.createObjectNode();
                var a = n.putArray("ids");
                Arrays.stream(ids).forEach(a::add);
                spec.commandLine().getOut().println(Json.pretty(n));
            } else {
                spec.commandLine().getOut().println(Arrays.stream(ids).mapToObj(Integer::toString).collect(Collectors.joining(" ")));
            }
        }
        return 0;
    }
}
