package dev.higgstrt.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.higgstrt.generation.Prompt;
import dev.higgstrt.io.Json;
import dev.higgstrt.model.SpeechTokens;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Voice presets: a folder of {@code NAME.json} files, each {@code {"transcript": "...", "codes":
 * [[...] per codebook]}} (a {@code generate} output with a transcript added works), read and
 * checked at start-up. A request's voice is only ever looked up by name in this map: it never
 * becomes a path.
 */
public final class VoiceLibrary {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-]{1,64}");
    private final Map<String, Prompt.VoiceReference> voices;

    private VoiceLibrary(Map<String, Prompt.VoiceReference> voices) {
        this.voices = Collections.unmodifiableMap(voices);
    }

    /**
     * No presets.
     *
     * @return an empty library
     */
    public static VoiceLibrary empty() {
        return new VoiceLibrary(new TreeMap<>());
    }

    /**
     * Reads every {@code *.json} of a folder.
     *
     * @param folder the presets
     * @param ids    the model's ids (the codes' count and range are checked against them)
     * @return the library
     * @throws IOException              when a file cannot be read
     * @throws IllegalArgumentException naming the file that is not a valid preset
     */
    public static VoiceLibrary read(Path folder, SpeechTokens ids) throws IOException {
        if (!Files.isDirectory(folder)) {
            throw new IllegalArgumentException(folder + ": not a folder of voice presets");
        }
        Map<String, Prompt.VoiceReference> voices = new TreeMap<>();
        try (var files = Files.list(folder)) {
            for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".json")).sorted().toList()) {
                String name = f.getFileName().toString().replaceFirst("\\.json$", "");
                if (!NAME.matcher(name).matches()) {
                    throw new IllegalArgumentException(f + ": a voice name is 1 to 64 letters, digits, '-' or '_'");
                }
                voices.put(name, parse(f, ids));
            }
        }
        return new VoiceLibrary(voices);
    }

    private static Prompt.VoiceReference parse(Path f, SpeechTokens ids) throws IOException {
        JsonNode root;
        try {
            root = Json.readUtf8(Json.STRICT, Files.readAllBytes(f));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException(f + ": not valid JSON: " + e.getOriginalMessage());
        }
        JsonNode transcript = root.path("transcript");
        JsonNode codes = root.path("codes");
        if (!transcript.isTextual() || transcript.asText().isBlank()) {
            throw new IllegalArgumentException(f + ": needs a \"transcript\" (the text of the reference audio)");
        }
        if (!codes.isArray() || codes.isEmpty()) {
            throw new IllegalArgumentException(f + ": needs \"codes\": [[...] per codebook]");
        }
        int[][] c = new int[codes.size()][];
        for (int k = 0; k < c.length; k++) {
            JsonNode row = codes.get(k);
            if (!row.isArray() || row.isEmpty()) {
                throw new IllegalArgumentException(f + ": codes[" + k + "] is not a non-empty list of codes");
            }
            c[k] = new int[row.size()];
            for (int t = 0; t < c[k].length; t++) {
                if (!row.get(t).canConvertToInt()) {
                    throw new IllegalArgumentException(f + ": codes[" + k + "][" + t + "] is not an integer");
                }
                c[k][t] = row.get(t).asInt();
            }
        }
        if (c.length != ids.numCodebooks()) {
            throw new IllegalArgumentException(f + ": " + c.length + " codebooks, the model has " + ids.numCodebooks());
        }
        for (int k = 0; k < c.length; k++) {
            for (int t = 0; t < c[k].length; t++) {
                if (c[k][t] < 0 || c[k][t] >= ids.audioCodes()) {
                    throw new IllegalArgumentException(f + ": code " + c[k][t] + " of codebook " + k + " is out of range [0, "
                            + ids.audioCodes() + ")");
                }
            }
        }
        try {
            return new Prompt.VoiceReference(transcript.asText(), c);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(f + ": " + e.getMessage());
        }
    }

    /**
     * A preset by name.
     *
     * @param name the voice's name
     * @return its reference, or empty for an unknown name
     */
    public Optional<Prompt.VoiceReference> get(String name) {
        return Optional.ofNullable(voices.get(name));
    }

    /**
     * The presets by name.
     *
     * @return the names and references, sorted
     */
    public Map<String, Prompt.VoiceReference> all() {
        return voices;
    }
}
