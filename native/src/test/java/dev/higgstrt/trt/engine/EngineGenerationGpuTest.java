package dev.higgstrt.trt.engine;

import dev.higgstrt.convert.ConversionOptions;
import dev.higgstrt.convert.Converter;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.generation.GenerationRequest;
import dev.higgstrt.generation.GenerationResult;
import dev.higgstrt.generation.Generator;
import dev.higgstrt.generation.Sampling;
import dev.higgstrt.generation.GenerationFixtures;
import dev.higgstrt.model.SpeechTokens;
import dev.higgstrt.reference.ReferenceModel;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.trt.cuda.GpuTests;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Greedy generation on tiny FP32 engines equals transformers' generate on the same models (the
 * fixtures of scripts/fixtures/make_generation_fixtures.py, which the CPU reference also equals),
 * and an engine's last-position logits equal the reference's. Skipped without a GPU.
 */
@Tag("gpu")
class EngineGenerationGpuTest {
    @TempDir
    static Path tmp;

    @BeforeAll
    static void requireGpu() {
        GpuTests.requireGpu();
    }

    @Test
    void greedyFramesOnTheFp32EngineEqualTransformers() throws IOException {
        int cases = 0;
        Map<Path, List<GenerationFixtures.Case>> byModel = new TreeMap<>();
        for (GenerationFixtures.Case c : GenerationFixtures.all()) {
            byModel.computeIfAbsent(c.model(), m -> new ArrayList<>()).add(c);
        }
        for (var e : byModel.entrySet()) {
            Path model = e.getKey();
            Path converted = tmp.resolve(model.getFileName() + "-fp32");
            Converter.convert(model, converted, ConversionOptions.of(1, 1).withDtype(DType.F32), n -> { });
            SpeechTokens ids = SpeechTokens.read(converted);
            try (HiggsEngine engine = HiggsEngine.build(converted, DType.F32, 160);
                 ReferenceModel reference = ReferenceModel.load(converted)) {
                for (GenerationFixtures.Case c : e.getValue()) {
                    GenerationRequest request = GenerationRequest.of(c.inputIds(), c.promptFrames(), Sampling.GREEDY, c.maxFrames());
                    GenerationResult r = new Generator(ids, engine::newSession).generate(request);
                    assertThat(r.frames()).as("%s", c).containsExactlyElementsOf(c.frames());
                    assertThat(r.codes()).isDeepEqualTo(c.codes());
                    assertThat(r.finish().id()).isEqualTo(c.finish());
                    try (var a = engine.newSession(); var b = reference.newSession()) {
                        TokenInput in = request.prompt().input();
                        float[] got = a.forwardLast(in);
                        float[] want = b.forwardLast(in);
                        assertThat(got).hasSameSizeAs(want);
                        float worst = 0;
                        for (int i = 0; i < got.length; i++) {
                            worst = Math.max(worst, Math.abs(got[i] - want[i]));
                        }
                        assertThat(worst).as("last-position logits of %s", c).isLessThanOrEqualTo(HiggsEngineGpuTest.FP32_BOUND);
                        System.out.printf("engine generation %s: %d frames equal; last-row logit error %.2e%n", c,
                                r.frames().size(), worst);
                    }
                    cases++;
                }
            }
        }
        assertThat(cases).isEqualTo(9);
    }
}
