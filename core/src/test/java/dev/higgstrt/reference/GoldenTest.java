package dev.higgstrt.reference;

import dev.higgstrt.decoding.Logits;
import dev.higgstrt.decoding.TokenInput;
import com.fasterxml.jackson.databind.JsonNode;
import dev.higgstrt.convert.ConversionOptions;
import dev.higgstrt.convert.Converter;
import dev.higgstrt.layout.HiggsAudioLayout;
import dev.higgstrt.io.Json;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.SourceLayout;
import dev.higgstrt.safetensors.SafetensorsCheckpoint;
import dev.higgstrt.safetensors.SafetensorsReader;
import dev.higgstrt.safetensors.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The reference forward against logits computed by transformers' independent
 * HiggsAudioV2ForConditionalGeneration (scripts/golden/make_goldens.py, run on the device).
 */
class GoldenTest {
    static final float TOLERANCE = 1e-4f;

    @TempDir
    Path tmp;

    static Stream<Arguments> cases() throws IOException {
        JsonNode index = Json.STRICT.readTree(Files.readString(Goldens.path("index.json")));
        List<Arguments> out = new ArrayList<>();
        index.properties().forEach(e -> e.getValue().forEach(in -> out.add(Arguments.of(e.getKey(), in.asText()))));
        return out.stream();
    }

    static float[] expected(String model, String input, String tensor) throws IOException {
        try (SafetensorsReader r = SafetensorsReader.open(Goldens.path(model).resolve(input + ".expected.safetensors"))) {
            return r.contains(tensor) ? r.tensor(tensor).toFloatArray() : null;
        }
    }

    @ParameterizedTest(name = "{0} / {1}")
    @MethodSource("cases")
    void logitsEqualTransformersWithin1e4(String model, String input) throws IOException {
        ReferenceModel m = ReferenceModel.load(Goldens.path(model));
        TokenInput tokens = TokenInput.read(Goldens.path(model).resolve(input + ".json"));
        Logits logits = m.forward(tokens, Heads.AUDIO_AND_TEXT);
        float[] expected = expected(model, input, "logits");
        assertThat(logits.audio()).hasSameSizeAs(expected);
        assertThat(Logits.maxAbsDiff(logits.audio(), expected)).as("audio logits").isLessThanOrEqualTo(TOLERANCE);
        float[] text = expected(model, input, "text_logits");
        assertThat(m.hasTextHead()).isEqualTo(text != null);
        if (text != null) {
            assertThat(Logits.maxAbsDiff(logits.text().orElseThrow(), text)).as("text logits").isLessThanOrEqualTo(TOLERANCE);
        }
    }

    @ParameterizedTest(name = "{0} / {1}")
    @MethodSource("cases")
    void convertedTp2Pp2AndBosonLayoutsGiveTheSameBits(String model, String input) throws IOException {
        Path src = Goldens.path(model);
        TokenInput tokens = TokenInput.read(src.resolve(input + ".json"));
        Logits source = ReferenceModel.load(src).forward(tokens, Heads.AUDIO_AND_TEXT);

        HiggsAudioConfig c = HiggsAudioConfig.read(src);
        int tp = c.numKvHeads() >= 2 || c.numHeads() % 2 == 0 ? 2 : 1;
        Path converted = tmp.resolve("trtllm");
        Converter.convert(src, converted, ConversionOptions.of(tp, 2), n -> { });
        Logits fromConverted = ReferenceModel.load(converted).forward(tokens, Heads.AUDIO_AND_TEXT);
        assertThat(fromConverted.audio()).as("converted at tp %d x pp 2", tp).isEqualTo(source.audio());
        assertThat(fromConverted.text().isPresent()).isEqualTo(source.text().isPresent());
        source.text().ifPresent(t -> assertThat(fromConverted.text().orElseThrow()).isEqualTo(t));

        Path boson = Files.createDirectories(tmp.resolve("boson"));
        Files.writeString(boson.resolve("config.json"), c.toBosonJson());
        try (SafetensorsCheckpoint ck = SafetensorsCheckpoint.open(src)) {
            SafetensorsWriter.write(boson.resolve("model.safetensors"), HiggsAudioLayout.renameTo(ck.weights(), SourceLayout.BOSON), Map.of());
        }
        Logits fromBoson = ReferenceModel.load(boson).forward(tokens, Heads.AUDIO_AND_TEXT);
        assertThat(fromBoson.audio()).as("boson layout").isEqualTo(source.audio());
    }

    @ParameterizedTest(name = "{0} / {1}")
    @MethodSource("cases")
    void theReferenceSessionAsADecoderSessionGivesTheWholeForwardStepByStep(String model, String input) throws IOException {
        try (ReferenceModel m = ReferenceModel.load(Goldens.path(model))) {
            TokenInput tokens = TokenInput.read(Goldens.path(model).resolve(input + ".json"));
            Logits full = m.forward(tokens);
            int a = full.audioWidth();
            try (dev.higgstrt.decoding.DecoderSession session = m.newSession()) {
                Logits first = session.forward(tokens.slice(m.config(), 0, 1));
                assertThat(java.util.Arrays.copyOfRange(full.audio(), 0, a)).isEqualTo(first.audio());
                for (int i = 1; i < tokens.length(); i++) {
                    Logits step = session.forward(tokens.slice(m.config(), i, i + 1));
                    assertThat(step.tokens()).isEqualTo(1);
                    assertThat(step.audio()).as("position %d", i).isEqualTo(java.util.Arrays.copyOfRange(full.audio(), i * a, (i + 1) * a));
                    assertThat(session.length()).isEqualTo(i + 1);
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} / {1}")
    @MethodSource("cases")
    void incrementalDecodingWithTheKvCacheEqualsTheFullForward(String model, String input) throws IOException {
        ReferenceModel m = ReferenceModel.load(Goldens.path(model));
        TokenInput tokens = TokenInput.read(Goldens.path(model).resolve(input + ".json"));
        Logits full = m.forward(tokens, Heads.AUDIO_AND_TEXT);
        ReferenceModel.Session s = m.newSession();
        int prefill = tokens.length() / 2;
        List<Logits> parts = new ArrayList<>();
        parts.add(s.forward(tokens.slice(m.config(), 0, prefill), Heads.AUDIO_AND_TEXT));
        for (int i = prefill; i < tokens.length(); i++) {
            parts.add(s.forward(tokens.slice(m.config(), i, i + 1), Heads.AUDIO_AND_TEXT));
        }
        assertThat(s.length()).isEqualTo(tokens.length());
        int a = full.audioWidth();
        float[] joined = new float[full.audio().length];
        int at = 0;
        for (Logits p : parts) {
            System.arraycopy(p.audio(), 0, joined, at, p.tokens() * a);
            at += p.tokens() * a;
        }
        assertThat(joined).isEqualTo(full.audio());
    }

    @Test
    void theAudioMaskRoutesExactlyThePlaceholderPositions() throws IOException {
        ReferenceModel m = ReferenceModel.load(Goldens.path("gqa_llama3_texthead"));
        TokenInput mixed = TokenInput.read(Goldens.path("gqa_llama3_texthead").resolve("mixed.json"));
        Logits l = m.forward(mixed);
        for (int i = 0; i < mixed.length(); i++) {
            int id = mixed.inputIds()[i];
            assertThat(l.audioMask()[i]).as("position %d (id %d)", i, id).isEqualTo(id == 290 || id == 291);
        }
        assertThat(l.text()).isEmpty();
        Logits audioOnly = m.forward(TokenInput.read(Goldens.path("gqa_llama3_texthead").resolve("audio_only.json")));
        assertThat(audioOnly.audioMask()).containsOnly(true);
    }

    @Test
    void routingChangesTheResult() throws IOException {
        // the same frames as audio positions vs the same ids treated as text give different logits:
        // proves the audio path is taken (and differs) rather than ignored
        ReferenceModel m = ReferenceModel.load(Goldens.path("gqa_llama3_texthead"));
        Logits asAudio = m.forward(TokenInput.audio(new int[]{1, 2, 3, 4}, new int[]{5, 6, 7, 8}));
        Logits asText = m.forward(TokenInput.text(290 - 10, 290 - 11));
        assertThat(asAudio.maxAbsDiff(asText)).isGreaterThan(0.01f);
    }

    @Test
    void logitsPrintASummaryNotArrayAddresses() {
        Logits l = new Logits(3, new float[3 * 8], 8, java.util.Optional.of(new float[3 * 5]), 5, new boolean[]{false, true, false});
        assertThat(l.toString()).isEqualTo("Logits[3 positions (1 audio), audio 3x8, text 3x5]");
        Logits audioOnly = new Logits(1, new float[8], 8, java.util.Optional.empty(), 5, new boolean[]{true});
        assertThat(audioOnly).hasToString("Logits[1 positions (1 audio), audio 1x8]");
    }
}
