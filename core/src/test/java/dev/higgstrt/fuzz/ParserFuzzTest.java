package dev.higgstrt.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.core.JacksonException;
import dev.higgstrt.model.ConfigException;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.safetensors.SafetensorsFormatException;
import dev.higgstrt.safetensors.SafetensorsReader;
import dev.higgstrt.safetensors.ShardIndex;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Fuzz tests of every parser of untrusted input. Each may only succeed or throw the documented
 * exception with a message; anything else (an IndexOutOfBounds, a NullPointerException, an
 * OutOfMemoryError) is a finding. {@code mvn verify} replays the committed inputs
 * (src/test/resources/dev/higgstrt/fuzz/ParserFuzzTestInputs) and then fuzzes each target for a
 * few seconds in its own execution ({@code core/pom.xml}); {@code mvn -pl core test -Dtest=ParserFuzzTest
 * -Dhiggs.fuzz.duration=1h} fuzzes each for an hour.
 */
class ParserFuzzTest {
    private static final Path DIR;

    static {
        try {
            DIR = Files.createTempDirectory("higgs-fuzz");
            DIR.toFile().deleteOnExit();
            String log = System.getProperty("higgs.fuzz.log");
            if (log != null && System.getenv("JAZZER_FUZZ") != null) {
                NativeStderr.redirectTo(Path.of(log));
            }
        } catch (IOException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static Path write(String name, byte[] data) throws IOException {
        Path f = DIR.resolve(name);
        Files.write(f, data);
        return f;
    }

    private static void requireMessage(Exception e) {
        if (e.getMessage() == null || e.getMessage().isBlank()) {
            throw new AssertionError("refused without a message", e);
        }
    }

    @FuzzTest(maxDuration = "10s")
    void safetensors(byte[] data) throws IOException {
        Path f = write("fuzz.safetensors", data);
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            for (String name : r.infos().keySet()) {
                r.tensor(name).data().byteSize();   // every tensor validated in range
            }
        } catch (SafetensorsFormatException e) {
            requireMessage(e);
            if (!e.getMessage().contains(f.toString()) && !e.getMessage().contains(f.getFileName().toString())) {
                throw new AssertionError("message does not name the file: " + e.getMessage(), e);
            }
        }
    }

    @FuzzTest(maxDuration = "10s")
    void shardIndex(byte[] data) throws IOException {
        Path dir = Files.createDirectories(DIR.resolve("index"));
        Path f = dir.resolve(ShardIndex.FILE_NAME);
        Files.write(f, data);
        try {
            ShardIndex.read(f);
        } catch (SafetensorsFormatException e) {
            requireMessage(e);
        }
    }

    @FuzzTest(maxDuration = "10s")
    void config(byte[] data) throws IOException {
        Path dir = Files.createDirectories(DIR.resolve("config"));
        Files.write(dir.resolve(HiggsAudioConfig.FILE_NAME), data);
        try {
            HiggsAudioConfig.read(dir);
        } catch (ConfigException | JacksonException e) {
            requireMessage(e);
        }
    }

    @FuzzTest(maxDuration = "10s")
    void tokenFile(byte[] data) throws IOException {
        Path f = write("tokens.json", data);
        try {
            TokenInput.read(f);
        } catch (IllegalArgumentException | JacksonException e) {
            requireMessage(e);
        }
    }
}
