package dev.higgstrt.generation;

import dev.higgstrt.model.SpeechTokens;
import dev.higgstrt.reference.ReferenceModel;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Greedy generation on the CPU reference equals transformers' {@code generate(do_sample=False,
 * ras_win_len=None)} on the same random models: every frame, the codes handed to the codec, the
 * text placeholders and the finish reason (fixtures from scripts/fixtures/make_generation_fixtures.py).
 */
class TransformersGenerationTest {
    static List<GenerationFixtures.Case> cases() throws IOException {
        return GenerationFixtures.all();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void greedyFramesEqualTransformers(GenerationFixtures.Case c) throws IOException {
        try (ReferenceModel model = ReferenceModel.load(c.model())) {
            SpeechTokens ids = SpeechTokens.read(c.model());
            Generator g = new Generator(ids, model::newSession);
            List<int[]> streamed = new ArrayList<>();
            GenerationResult r = g.generate(GenerationRequest.of(c.inputIds(), c.promptFrames(), Sampling.GREEDY, c.maxFrames()),
                    f -> streamed.add(f.codes()), () -> false);
            assertThat(r.frames()).as("frames of %s", c).containsExactlyElementsOf(c.frames());
            assertThat(streamed).as("frames handed out as they came").containsExactlyElementsOf(c.frames());
            assertThat(r.codes()).as("codec codes of %s", c).isDeepEqualTo(c.codes());
            assertThat(r.finish().id()).isEqualTo(c.finish());
            assertThat(r.promptPositions()).isEqualTo(c.inputIds().length);

            FrameSampler s = new FrameSampler(ids, Sampling.GREEDY, c.inputIds(), c.promptFrames());
            List<Integer> placeholders = new ArrayList<>();
            try (var session = model.newSession()) {
                float[] logits = session.forwardLast(GenerationRequest.of(c.inputIds(), c.promptFrames(), Sampling.GREEDY, 1)
                        .prompt().input());
                for (int i = 0; i < c.frames().size(); i++) {
                    int[] f = s.next(logits);
                    placeholders.add(s.lastText());
                    if (!s.finished()) {
                        logits = session.forwardLast(dev.higgstrt.decoding.TokenInput.audio(f));
                    }
                }
            }
            assertThat(placeholders).as("text placeholders of %s", c)
                    .containsExactly(java.util.Arrays.stream(c.placeholders()).boxed().toArray(Integer[]::new));
        }
    }
}
