package dev.higgstrt.text;

import java.util.OptionalInt;

/**
 * A text tokenizer as the model was trained with: text to token ids and back. Special tokens
 * written in the text ({@code <|eot_id|>}) are single ids; nothing is added implicitly (no
 * beginning-of-text token) and nothing is truncated. Implementations are thread-safe.
 */
public interface TextTokenizer extends AutoCloseable {
    /**
     * The ids of {@code text}.
     *
     * @param text any text, also empty
     * @return its token ids, none added
     */
    int[] encode(String text);

    /**
     * The text of {@code ids}, special tokens included.
     *
     * @param ids token ids
     * @return the text
     */
    String decode(int[] ids);

    /**
     * The id of one added (special) token by its text.
     *
     * @param token for example {@code <|eot_id|>}
     * @return its id, or empty when the tokenizer has no such added token
     */
    OptionalInt specialTokenId(String token);

    /** Frees the native tokenizer. Idempotent. */
    @Override
    void close();
}
