package dev.higgstrt.synth;

import dev.higgstrt.convert.ConversionOptions;
import dev.higgstrt.convert.Converter;
import dev.higgstrt.model.SourceLayout;
import dev.higgstrt.model.SpeechTokens;
import dev.higgstrt.text.HuggingFaceTextTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** A synthetic checkpoint's tokenizer is a real tokenizer.json whose special ids the config and its conversion record. */
class SyntheticTokenizerTest {
    @TempDir
    Path tmp;

    @Test
    void bytesRoundTripAndTheSpecialIdsAgreeWithTheConfigAfterConversion() throws IOException {
        for (SourceLayout layout : new SourceLayout[]{SourceLayout.TRANSFORMERS, SourceLayout.BOSON}) {
            Path src = tmp.resolve(layout.id());
            SyntheticCheckpoint.write(src, SyntheticCheckpoint.Spec.of(Presets.tiny()).withFormat(layout), n -> { });
            SpeechTokens ids = SpeechTokens.read(src);
            try (HuggingFaceTextTokenizer t = HuggingFaceTextTokenizer.open(src)) {
                String text = "héllo, 世界 <|eot_id|>\t1234";
                int[] enc = t.encode(text);
                assertThat(t.decode(enc)).isEqualTo(text);
                assertThat(enc.length).as("a byte a token, the special token one id")
                        .isEqualTo(text.getBytes(StandardCharsets.UTF_8).length - "<|eot_id|>".length() + 1);
                assertThat(t.specialTokenId("<|audio_out_bos|>")).hasValue(ids.audioOutBos());
                assertThat(t.specialTokenId("<|eot_id|>")).hasValue(ids.eos());
                assertThat(t.specialTokenId("<|AUDIO_OUT|>")).hasValue(ids.audioToken());
                assertThat(ids.delayToken()).isEqualTo(Presets.tiny().audioTokenIds().getFirst());
            }
            Path out = tmp.resolve(layout.id() + "-converted");
            Converter.convert(src, out, ConversionOptions.of(1, 1), n -> { });
            assertThat(SpeechTokens.read(out)).isEqualTo(ids);
            assertThat(Files.readString(out.resolve("tokenizer.json"))).isEqualTo(Files.readString(src.resolve("tokenizer.json")));
        }
        assertThat(SyntheticTokenizer.fits(Presets.tiny())).isTrue();
        assertThat(SyntheticTokenizer.byteAlphabet()).hasSize(256).doesNotHaveDuplicates();
    }
}
