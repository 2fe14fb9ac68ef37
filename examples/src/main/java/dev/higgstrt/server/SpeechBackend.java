package dev.higgstrt.server;

import dev.higgstrt.audio.AudioDecoder;
import dev.higgstrt.model.SpeechTokens;
import dev.higgstrt.runtime.BatchRuntime;
import dev.higgstrt.text.TextTokenizer;

import java.util.Objects;

/**
 * What a server serves: the model's ids, its tokenizer, the runtime that generates, the codec
 * that decodes, and the voice presets. The server owns the runtime (closes it at shutdown); the
 * caller keeps the tokenizer, codec and model.
 *
 * @param name      the model's name, as {@code model} in requests may say it
 * @param ids       the model's speech ids
 * @param tokenizer the text tokenizer
 * @param runtime   the generation runtime
 * @param codec     the codec decoder
 * @param voices    the voice presets
 */
public record SpeechBackend(String name, SpeechTokens ids, TextTokenizer tokenizer, BatchRuntime runtime, AudioDecoder codec,
                            VoiceLibrary voices) {
    /** Checks that nothing is missing. */
    public SpeechBackend {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(ids, "ids");
        Objects.requireNonNull(tokenizer, "tokenizer");
        Objects.requireNonNull(runtime, "runtime");
        Objects.requireNonNull(codec, "codec");
        Objects.requireNonNull(voices, "voices");
    }
}
