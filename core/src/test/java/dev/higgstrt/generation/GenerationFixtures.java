package dev.higgstrt.generation;

import com.fasterxml.jackson.databind.JsonNode;
import dev.higgstrt.io.Json;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** The fixtures of scripts/fixtures/make_generation_fixtures.py (transformers 5.17 generate, greedy). */
public final class GenerationFixtures {
    private GenerationFixtures() {
    }

    /** One prompt of one model: what transformers generated. */
    public record Case(Path model, String prompt, int[] inputIds, List<int[]> promptFrames, List<int[]> frames, int[][] codes,
                       int[] placeholders, int maxFrames, String finish) {
        @Override
        public String toString() {
            return model.getFileName() + "/" + prompt;
        }
    }

    /**
     * The folder of the fixtures.
     *
     * @return core/src/test/resources/generation
     */
    public static Path root() {
        try {
            return Path.of(GenerationFixtures.class.getResource("/generation/index.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Every case.
     *
     * @return the cases, by model and prompt
     * @throws IOException when a fixture cannot be read
     */
    public static List<Case> all() throws IOException {
        List<Case> cases = new ArrayList<>();
        try (Stream<Path> models = Files.list(root())) {
            for (Path model : models.filter(Files::isDirectory).sorted().toList()) {
                try (Stream<Path> prompts = Files.list(model)) {
                    for (Path p : prompts.filter(f -> !f.getFileName().toString().contains("config")
                            && f.toString().endsWith(".json")).sorted().toList()) {
                        JsonNode n = Json.STRICT.readTree(Files.readString(p));
                        String name = p.getFileName().toString().replace(".json", "");
                        cases.add(new Case(model, name, ints(n.get("input_ids")), rows(n.get("audio_input_ids")),
                                rows(n.get("frames")), rows(n.get("codes")).toArray(int[][]::new), ints(n.get("text_placeholders")),
                                n.get("max_new_tokens").asInt(), n.get("finish").asText()));
                    }
                }
            }
        }
        return cases;
    }

    static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asInt();
        }
        return out;
    }

    static List<int[]> rows(JsonNode a) {
        List<int[]> out = new ArrayList<>();
        for (JsonNode r : a) {
            out.add(ints(r));
        }
        return out;
    }
}
