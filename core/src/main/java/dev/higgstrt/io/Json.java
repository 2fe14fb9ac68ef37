package dev.higgstrt.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;

/**
 * The project's JSON mappers, for its own parsers and writers. Internal: the library's API takes
 * and gives JSON as text or as its own types, never as Jackson trees.
 */
public final class Json {
    /**
     * Strict parsing for untrusted files: duplicate keys, trailing content and non-standard
     * JSON are errors.
     */
    public static final ObjectMapper STRICT = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .disable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .disable(JsonParser.Feature.AUTO_CLOSE_SOURCE)
            .build();

    /**
     * Lenient parsing for config files written by Python's {@code json} module, which may
     * contain {@code NaN} and {@code Infinity}; duplicate keys are still errors.
     */
    public static final ObjectMapper CONFIG = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .build();

    /** Pretty, deterministic output (keys in insertion order of ordered maps). */
    public static final ObjectMapper PRETTY = JsonMapper.builder()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
            .build();

    private Json() {
    }

    /**
     * Pretty JSON text of a tree.
     *
     * @param tree the tree
     * @return its text, indented, keys of maps in order
     */
    public static String pretty(com.fasterxml.jackson.databind.JsonNode tree) {
        try {
            return PRETTY.writeValueAsString(tree);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("a JSON tree did not serialize", e);
        }
    }

    /**
     * Parses JSON text that must be UTF-8 (RFC 8259): {@code mapper.readTree} of the bytes decoded
     * strictly, so that input in another encoding (which Jackson would otherwise detect, and fail
     * on with a {@link java.io.CharConversionException}) or with malformed bytes is refused as
     * invalid JSON, like any other syntax error.
     *
     * @param mapper the JSON mapper
     * @param bytes  the bytes
     * @return the tree
     * @throws com.fasterxml.jackson.core.JsonProcessingException for text that is not UTF-8 or not valid JSON
     */
    public static com.fasterxml.jackson.databind.JsonNode readUtf8(ObjectMapper mapper, byte[] bytes)
            throws com.fasterxml.jackson.core.JsonProcessingException {
        String text;
        try {
            text = java.nio.charset.StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                    .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(bytes)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new com.fasterxml.jackson.core.JsonParseException((JsonParser) null, "not UTF-8 text (" + e.getMessage() + ")");
        }
        return mapper.readTree(text);
    }
}
