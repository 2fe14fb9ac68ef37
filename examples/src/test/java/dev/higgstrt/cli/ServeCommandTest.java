package dev.higgstrt.cli;

import dev.higgstrt.audio.WavFile;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code serve --demo --port 0} at the shell: it prints its port, answers, and stops on SIGTERM. */
class ServeCommandTest {
    @Test
    void theDemoServerStartsWithNoSetUpAnswersAndStops() throws Exception {
        Process p = new ProcessBuilder(ChildCli.command(List.of(), "serve", "--demo", "--port", "0", "--grace", "5")).start();
        java.util.concurrent.CompletableFuture<String> errors = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try (var in = p.getErrorStream()) {
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            } catch (java.io.IOException e) {
                return "unreadable: " + e;
            }
        });
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String line = out.readLine();
            assertThat(line).as("the first line").startsWith("listening on http://127.0.0.1:").contains("voices: demo");
            Matcher m = Pattern.compile("127\\.0\\.0\\.1:(\\d+)").matcher(line);
            assertThat(m.find()).isTrue();
            String base = "http://127.0.0.1:" + m.group(1);
            HttpClient http = HttpClient.newHttpClient();
            HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/audio/speech"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"input\": \"Hello.\", \"voice\": \"demo\", \"seed\": 1}")).build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            assertThat(r.statusCode()).isEqualTo(200);
            WavFile.Pcm pcm = WavFile.read(new ByteArrayInputStream(r.body()));
            assertThat(pcm.sampleRate()).isEqualTo(24000);
            assertThat(pcm.values().length % 960).isZero();
        } finally {
            p.destroy();   // SIGTERM: the shutdown hook closes the server gracefully
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        }
        String err = errors.get(30, TimeUnit.SECONDS);
        assertThat(err.lines().filter(l -> l.contains("INFO")).toList()).as("quiet: " + err).isEmpty();
    }
}
