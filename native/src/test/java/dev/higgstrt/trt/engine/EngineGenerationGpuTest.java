package dev.higgstrt.trt.engine;

import dev.higgstrt.convert.ConversionOptions;
import dev.higgstrt.convert.Converter;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.generation.GenerationRequest;
import dev.higgstrt.generation.GenerationResult;
import dev.higgstrt.generation.Generator;
import dev.higgstrt.generation.Sampling;
import dev.higgstrt.io.Json;
import dev.higgstrt.model.SpeechTokens;
import dev.higgstrt.reference.ReferenceModel;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.trt.cuda.GpuTests;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Greedy generation on tiny FP32 engines equals transformers' generate on the same models (the
 * fixtures of scripts/fixtures/make_generation_fixtures.py, which the CPU reference also equals),
 * and an engine's last-position logits equal the reference's. Skipped without a GPU.
 */
@Tag("gpu")
class EngineGenerationGpuTest {
    static final Path FIXTURES = Path.of("..", "core", "src", "test", "resources", "generation");

    @TempDir
    static Path tmp;

    @BeforeAll
    static void requireGpu() {
        GpuTests.requireGpu();
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
        a.forEach(r -> out.add(ints(r)));
        return out;
    }

    @Test
    void greedyFramesOnTheFp32EngineEqualTransformers() throws IOException {
        int cases = 0;
        try (Stream<Path> models = Files.list(FIXTURES)) {
            for (Path model : models.filter(Files::isDirectory).sorted().toList()) {
                Path converted = tmp.resolve(model.getFileName() + "-fp32");
                Converter.convert(model, converted, ConversionOptions.of(1, 1).withDtype(DType.F32), n -> { });
                SpeechTokens ids = SpeechTokens.read(converted);
                try (HiggsEngine engine = HiggsEngine.build(converted, DType.F32, 160);
                     ReferenceModel reference = ReferenceModel.load(converted)) {
                    for (String prompt : List.of("plain", "voice", "voice_short")) {
                        JsonNode f = Json.STRICT.readTree(Files.readString(model.resolve(prompt + ".json")));
                        GenerationRequest request = GenerationRequest.of(ints(f.get("input_ids")), rows(f.get("audio_input_ids")),
                                Sampling.GREEDY, f.get("max_new_tokens").asInt());
                        GenerationResult r = new Generator(ids, engine::newSession).generate(request);
                        assertThat(r.frames()).as("%s/%s", model.getFileName(), prompt).containsExactlyElementsOf(rows(f.get("frames")));
                        assertThat(r.codes()).isDeepEqualTo(rows(f.get("codes")).toArray(int[][]::new));
                        assertThat(r.finish().id()).isEqualTo(f.get("finish").asText());
                        try (var a = engine.newSession(); var b = reference.newSession()) {
                            TokenInput in = request.prompt().input();
                            float[] got = a.forwardLast(in);
                            float[] want = b.forwardLast(in);
                            assertThat(got).hasSameSizeAs(want);
                            float worst = 0;
                            for (int i = 0; i < got.length; i++) {
                                worst = Math.max(worst, Math.abs(got[i] - want[i]));
                            }
                            assertThat(worst).as("last-position logits of %s/%s", model.getFileName(), prompt)
                                    .isLessThanOrEqualTo(HiggsEngineGpuTest.FP32_BOUND);
                            System.out.printf("engine generation %s/%s: %d frames equal; last-row logit error %.2e%n",
                                    model.getFileName(), prompt, r.frames().size(), worst);
                        }
                        cases++;
                    }
                }
            }
        }
        assertThat(cases).isEqualTo(9);
    }
}
