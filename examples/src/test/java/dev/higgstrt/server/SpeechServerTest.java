package dev.higgstrt.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.higgstrt.audio.CodecDecoder;
import dev.higgstrt.audio.Pcm16;
import dev.higgstrt.audio.WavFile;
import dev.higgstrt.decoding.DecoderSession;
import dev.higgstrt.decoding.ForwardingSession;
import dev.higgstrt.decoding.Logits;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.generation.GenerationRequest;
import dev.higgstrt.generation.GenerationResult;
import dev.higgstrt.generation.Generator;
import dev.higgstrt.generation.Prompt;
import dev.higgstrt.generation.Sampling;
import dev.higgstrt.io.Json;
import dev.higgstrt.model.SpeechTokens;
import dev.higgstrt.reference.ReferenceModel;
import dev.higgstrt.runtime.BatchRuntime;
import dev.higgstrt.runtime.SessionBatchDecoder;
import dev.higgstrt.synth.Presets;
import dev.higgstrt.synth.SyntheticCheckpoint;
import dev.higgstrt.synth.SyntheticCodec;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.text.HuggingFaceTextTokenizer;
import dev.higgstrt.text.TextTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The speech server, started on a loopback port over the tiny synthetic model and codec and
 * talked to with the JDK's HttpClient: answers, streams, every error status, a load test, clients
 * that disconnect, a failing backend and a graceful shutdown.
 */
class SpeechServerTest {
    static final Logger HELIDON = Logger.getLogger("io.helidon");
    @TempDir
    static Path dir;
    static ReferenceModel model;
    static SpeechTokens ids;
    static TextTokenizer tokenizer;
    static CodecDecoder codec;
    static VoiceLibrary voices;
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    @BeforeAll
    static void setUp() throws Exception {
        HELIDON.setLevel(Level.WARNING);
        Path ck = dir.resolve("model");
        SyntheticCheckpoint.write(ck, SyntheticCheckpoint.Spec.of(Presets.tiny()).withSeed(7).withDtype(DType.F32), n -> { });
        model = ReferenceModel.load(ck);
        ids = SpeechTokens.read(ck);
        tokenizer = HuggingFaceTextTokenizer.open(ck);
        Path c = dir.resolve("codec");
        SyntheticCodec.write(c, SyntheticCodec.tiny(), 11);
        codec = CodecDecoder.load(c);
        Path v = Files.createDirectories(dir.resolve("voices"));
        GenerationResult hello = new Generator(ids, model::newSession)
                .generate(new GenerationRequest(Prompt.of("Hello.").tokenize(tokenizer, ids), Sampling.GREEDY, 60));
        Files.writeString(v.resolve("demo.json"), "{\"transcript\": \"Hello.\", \"codes\": " + Json.STRICT.writeValueAsString(hello.codes()) + "}");
        voices = VoiceLibrary.read(v, ids);
    }

    @AfterAll
    static void tearDown() {
        tokenizer.close();
        model.close();
    }

    static SpeechServer server(Supplier<? extends DecoderSession> sessions, BatchRuntime.Options options, SpeechServer.Config config) {
        BatchRuntime runtime = new BatchRuntime(ids, new SessionBatchDecoder(sessions), options);
        return SpeechServer.start(new SpeechBackend("test", ids, tokenizer, runtime, codec, voices), config);
    }

    static BatchRuntime.Options options(int running, int queue) {
        return new BatchRuntime.Options(running, queue, 256, 256 + running, 16, 32 * running);
    }

    static HttpResponse<byte[]> post(SpeechServer s, String body, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + "/v1/audio/speech"))
                .timeout(Duration.ofSeconds(60)).POST(HttpRequest.BodyPublishers.ofString(body));
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    static HttpResponse<String> get(SpeechServer s, String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + path)).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static void assertError(HttpResponse<byte[]> r, int status, String type, String message) throws Exception {
        assertThat(r.statusCode()).as(new String(r.body())).isEqualTo(status);
        JsonNode e = Json.STRICT.readTree(r.body()).get("error");
        assertThat(e.get("type").asText()).isEqualTo(type);
        assertThat(e.get("message").asText()).contains(message);
    }

    /** What the server should say for this request: the same generation and decode, here. */
    static float[] expected(String input, String voice, long seed, int maxFrames) {
        Prompt p = Prompt.of(input);
        if (voice != null) {
            p = p.withVoice(voices.get(voice).orElseThrow());
        }
        GenerationRequest r = new GenerationRequest(p.tokenize(tokenizer, ids),
                new Sampling(false, 1.0, 50, 1.0, Optional.of(Sampling.Ras.standard()), seed), maxFrames);
        GenerationResult g = new Generator(ids, model::newSession).generate(r);
        return g.codes()[0].length == 0 ? new float[0] : codec.decode(g.codes());
    }

    @Test
    void aWavIsTheDecodeOfTheGenerationAndAStreamHasItsLength() throws Exception {
        try (SpeechServer s = server(model::newSession, options(4, 16), SpeechServer.Config.local(0))) {
            HttpResponse<byte[]> r = post(s, "{\"model\": \"higgs\", \"input\": \"Hello there.\", \"voice\": \"demo\", \"seed\": 5}");
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.headers().firstValue("content-type")).contains("audio/wav");
            WavFile.Pcm pcm = WavFile.read(new ByteArrayInputStream(r.body()));
            float[] want = expected("Hello there.", "demo", 5, 1500);
            assertThat(pcm.sampleRate()).isEqualTo(24000);
            assertThat(pcm.values()).hasSize(want.length);
            assertThat(want.length % 960).isZero();
            for (int i = 0; i < want.length; i++) {
                assertThat(pcm.values()[i]).isEqualTo(Pcm16.of(want[i]));
            }

            HttpResponse<byte[]> raw = post(s, "{\"input\": \"Hello there.\", \"voice\": \"demo\", \"seed\": 5, \"response_format\": \"pcm\"}");
            assertThat(raw.body()).isEqualTo(Pcm16.bytes(want));

            HttpResponse<InputStream> streamed = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + "/v1/audio/speech"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"input\": \"Hello there.\", \"voice\": \"demo\", \"seed\": 5, \"stream\": true, \"response_format\": \"pcm\"}"))
                    .build(), HttpResponse.BodyHandlers.ofInputStream());
            assertThat(streamed.statusCode()).isEqualTo(200);
            byte[] all;
            try (InputStream in = streamed.body()) {
                all = in.readAllBytes();
            }
            assertThat(all).hasSize(2 * want.length);

            HttpResponse<byte[]> wavStream = post(s, "{\"input\": \"Hello there.\", \"seed\": 6, \"stream\": true}");
            assertThat(wavStream.statusCode()).isEqualTo(200);
            byte[] w = wavStream.body();
            assertThat(new String(w, 0, 4)).isEqualTo("RIFF");
            assertThat(new String(w, 8, 4)).isEqualTo("WAVE");
            assertThat((w.length - 44) % (2 * 960)).isZero();
            assertThat(w.length - 44).isEqualTo(2 * expected("Hello there.", null, 6, 1500).length);

            JsonNode list = Json.STRICT.readTree(get(s, "/v1/voices").body());
            assertThat(list.get("voices").get(0).get("name").asText()).isEqualTo("demo");
            assertThat(get(s, "/health").body()).isEqualTo("{\"status\":\"ok\"}");
            String metrics = get(s, "/metrics").body();
            assertThat(metrics).contains("higgs_requests_total{status=\"200\"} 4").contains("# TYPE higgs_frames_total counter")
                    .contains("higgs_kv_blocks_used 0").contains("higgs_time_to_first_audio_seconds_count 4");
        }
    }

    @Test
    void everyErrorIsJsonWithItsStatus() throws Exception {
        SpeechServer.Config config = SpeechServer.Config.local(0);
        try (SpeechServer s = server(model::newSession, options(2, 4), config)) {
            assertError(post(s, "{not json"), 400, "invalid_request_error", "not valid JSON");
            assertError(post(s, "{\"voice\": \"demo\"}"), 400, "invalid_request_error", "'input' must be a non-empty string");
            assertError(post(s, "{\"input\": \"Hi.\", \"response_format\": \"mp3\"}"), 400, "invalid_request_error", "wav or pcm");
            assertError(post(s, "{\"input\": \"Hi.\", \"temperature\": -1}"), 400, "invalid_request_error", "temperature must be positive");
            assertError(post(s, "{\"input\": \"Hi.\", \"max_frames\": 0}"), 400, "invalid_request_error", "'max_frames' must be in [1, 1500]");
            assertError(post(s, "{\"input\": \"Hi.\", \"stream\": \"yes\"}"), 400, "invalid_request_error", "'stream' must be true or false");
            assertError(post(s, "{\"input\": \"Hi.\", \"voice\": \"nobody\"}"), 404, "voice_not_found", "no voice 'nobody'");
            assertError(post(s, "{\"input\": \"Hi.\", \"voice\": \"../voices/demo\"}"), 404, "voice_not_found", "no voice '../voices/demo'");
            assertError(post(s, "{\"input\": \"" + "a".repeat(5000) + "\"}"), 413, "request_too_large", "longer than 4096 characters");
            assertError(post(s, "{\"input\": \"" + "a".repeat(70_000) + "\"}"), 413, "request_too_large", "larger than 65536 bytes");
        }
        try (SpeechServer s = server(model::newSession, options(2, 4), config.withApiKey("s3cret"))) {
            assertError(post(s, "{\"input\": \"Hi.\"}"), 401, "authentication_error", "bearer token");
            assertError(post(s, "{\"input\": \"Hi.\"}", "Authorization", "Bearer wrong"), 401, "authentication_error", "bearer token");
            assertThat(post(s, "{\"input\": \"Hi.\", \"max_frames\": 5}", "Authorization", "Bearer s3cret").statusCode()).isEqualTo(200);
        }
        // 429 when the queue is full; 503 when the KV cache can never hold the request, and when shutting down
        CountDownLatch hold = new CountDownLatch(1);
        try (SpeechServer s = server(() -> ForwardingSession.heldBy(model.newSession(), hold, 0), options(1, 1), config);
             AutoCloseable release = hold::countDown) {
            ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
            Future<HttpResponse<byte[]>> running = pool.submit(() -> post(s, "{\"input\": \"Hi.\", \"max_frames\": 5}"));
            awaitMetric(s, "higgs_running_sequences 1");
            Future<HttpResponse<byte[]>> queued = pool.submit(() -> post(s, "{\"input\": \"Hi.\", \"max_frames\": 5}"));
            awaitMetric(s, "higgs_queue_length 1");
            HttpResponse<byte[]> refused = post(s, "{\"input\": \"Hi.\", \"max_frames\": 5}");
            assertError(refused, 429, "rate_limit_exceeded", "the queue is full");
            assertThat(refused.headers().firstValue("retry-after")).contains("1");
            hold.countDown();
            assertThat(running.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
            assertThat(queued.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
            pool.shutdown();
        }
        try (SpeechServer s = server(model::newSession, new BatchRuntime.Options(1, 1, 256, 257, 16, 2), config)) {
            assertError(post(s, "{\"input\": \"Hi.\"}"), 503, "insufficient_capacity", "KV blocks");
        }
        CountDownLatch slow = new CountDownLatch(1);
        SpeechServer closing = server(() -> ForwardingSession.heldBy(model.newSession(), slow, 0), options(1, 1), config);
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
        pool.submit(() -> {
            Thread.sleep(20_000);   // a failed assertion below must not leave the runtime held forever
            slow.countDown();
            return null;
        });
        Future<HttpResponse<byte[]>> running = pool.submit(() -> post(closing, "{\"input\": \"Hi.\", \"max_frames\": 5}"));
        awaitMetric(closing, "higgs_running_sequences 1");
        Future<Boolean> closed = pool.submit(() -> closing.close(Duration.ofSeconds(30)));
        for (int i = 0; i < 500 && get(closing, "/health").statusCode() != 503; i++) {
            Thread.sleep(10);
        }
        assertThat(get(closing, "/health").statusCode()).isEqualTo(503);
        assertError(post(closing, "{\"input\": \"Hi.\"}"), 503, "server_shutting_down", "shutting down");
        slow.countDown();
        assertThat(running.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        assertThat(closed.get(30, TimeUnit.SECONDS)).isTrue();
        pool.shutdown();
    }

    static void awaitMetric(SpeechServer s, String line) throws Exception {
        awaitMetric(s, line, Duration.ofSeconds(10));
    }

    static void awaitMetric(SpeechServer s, String line, Duration patience) throws Exception {
        long deadline = System.nanoTime() + patience.toNanos();
        while (System.nanoTime() < deadline) {
            if (get(s, "/metrics").body().contains(line + "\n")) {
                return;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("metrics never showed " + line + " in " + patience + ":\n" + get(s, "/metrics").body());
    }

    @Test
    void underLoadEveryRequestGetsAWholeAnswerOrACleanRefusalAndCapacityReturns() throws Exception {
        try (SpeechServer s = server(model::newSession, options(4, 16), SpeechServer.Config.local(0))) {
            Runtime rt = Runtime.getRuntime();
            System.gc();
            long heapBefore = rt.totalMemory() - rt.freeMemory();
            ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
            List<Future<HttpResponse<byte[]>>> answers = new ArrayList<>();
            long t0 = System.nanoTime();
            for (int i = 0; i < 64; i++) {
                String body = "{\"input\": \"Request number " + i + ".\", \"seed\": " + i + ", \"max_frames\": 40"
                        + (i % 2 == 0 ? ", \"stream\": true, \"response_format\": \"pcm\"" : "") + "}";
                answers.add(pool.submit(() -> post(s, body)));
            }
            int ok = 0;
            int refused = 0;
            for (Future<HttpResponse<byte[]>> f : answers) {
                HttpResponse<byte[]> r = f.get(120, TimeUnit.SECONDS);
                if (r.statusCode() == 200) {
                    ok++;
                    boolean pcm = r.headers().firstValue("content-type").orElse("").equals("audio/pcm");
                    int samples = pcm ? r.body().length / 2 : WavFile.read(new ByteArrayInputStream(r.body())).values().length;
                    assertThat(samples % 960).isZero();
                } else {
                    assertError(r, 429, "rate_limit_exceeded", "the queue is full");
                    refused++;
                }
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            pool.shutdown();
            assertThat(ok + refused).isEqualTo(64);
            assertThat(ok).as("the 4 running and the 16 queued at least").isGreaterThanOrEqualTo(20);
            awaitMetric(s, "higgs_requests_in_flight 0");
            String m = get(s, "/metrics").body();
            assertThat(m).contains("higgs_queue_length 0\n").contains("higgs_running_sequences 0\n").contains("higgs_kv_blocks_used 0\n");
            System.gc();
            long heapAfter = rt.totalMemory() - rt.freeMemory();
            assertThat(heapAfter - heapBefore).as("the heap is flat").isLessThan(64L << 20);
            System.out.printf("load: 64 clients, %d answered, %d refused (429) in %.2f s; time to first audio p50 %s s, p99 %s s%n",
                    ok, refused, seconds, quantile(m, "0.5"), quantile(m, "0.99"));
        }
    }

    static String quantile(String metrics, String q) {
        return metrics.lines().filter(l -> l.startsWith("higgs_time_to_first_audio_seconds{quantile=\"" + q + "\"}"))
                .map(l -> l.substring(l.lastIndexOf(' ') + 1)).findFirst().orElse("?");
    }

    @Test
    void clientsThatDisconnectMidStreamFreeTheirCapacity() throws Exception {
        // a model that never closes its stream: only a disconnect ends these generations early
        Supplier<DecoderSession> endless = () -> new NoEos(model.newSession(), ids);
        try (SpeechServer s = server(endless, options(20, 20), SpeechServer.Config.local(0))) {
            ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
            AtomicInteger gotAudio = new AtomicInteger();
            List<Future<?>> clients = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                int seed = i;
                clients.add(pool.submit(() -> {
                    HttpResponse<InputStream> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + "/v1/audio/speech"))
                            .POST(HttpRequest.BodyPublishers.ofString("{\"input\": \"Keep talking.\", \"seed\": " + seed
                                    + ", \"max_frames\": 1500, \"stream\": true, \"response_format\": \"pcm\"}")).build(),
                            HttpResponse.BodyHandlers.ofInputStream());
                    try (InputStream in = r.body()) {
                        if (in.readNBytes(960 * 2).length == 960 * 2) {
                            gotAudio.incrementAndGet();
                        }
                    }   // closing mid-stream: the client is gone
                    return null;
                }));
            }
            for (Future<?> c : clients) {
                c.get(60, TimeUnit.SECONDS);
            }
            assertThat(gotAudio).hasValue(20);
            // a disconnect shows when a write to the client fails: at the second audio chunk after it, which on a
            // loaded 2-core machine (20 endless sequences, other test classes beside) can take many seconds
            awaitMetric(s, "higgs_running_sequences 0", Duration.ofSeconds(60));
            String m = get(s, "/metrics").body();
            assertThat(m).contains("higgs_kv_blocks_used 0\n").contains("higgs_generations_total{outcome=\"cancelled\"} 20\n")
                    .contains("higgs_requests_total{status=\"499\"} 20\n");
            pool.shutdown();
        }
    }

    @Test
    void aBackendThatFailsMidGenerationFailsThatRequestOnly() throws Exception {
        AtomicInteger opened = new AtomicInteger();
        Supplier<DecoderSession> sessions = () -> opened.incrementAndGet() == 3 ? ForwardingSession.failingAt(model.newSession(), 6, "the device fell over") : model.newSession();
        try (SpeechServer s = server(sessions, options(4, 8), SpeechServer.Config.local(0))) {
            ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
            List<Future<HttpResponse<byte[]>>> all = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                int seed = i;
                all.add(pool.submit(() -> post(s, "{\"input\": \"Number " + seed + ".\", \"seed\": " + seed + ", \"max_frames\": 30}")));
                Thread.sleep(50);   // admitted in order: the second request gets the failing session
            }
            int failed = 0;
            for (Future<HttpResponse<byte[]>> f : all) {
                HttpResponse<byte[]> r = f.get(60, TimeUnit.SECONDS);
                if (r.statusCode() == 500) {
                    assertError(r, 500, "server_error", "the device fell over");
                    failed++;
                } else {
                    assertThat(r.statusCode()).isEqualTo(200);
                }
            }
            assertThat(failed).isEqualTo(1);
            awaitMetric(s, "higgs_kv_blocks_used 0");
            pool.shutdown();
        }
    }

    @Test
    void aGracefulShutdownFinishesRunningRequests() throws Exception {
        // 2 ms a step and no EOS: each request runs its 60 frames, long enough to be seen running
        SpeechServer s = server(() -> new NoEos(model.newSession(), ids), options(2, 4), SpeechServer.Config.local(0));
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
        Future<HttpResponse<byte[]>> a = pool.submit(() -> post(s, "{\"input\": \"One.\", \"seed\": 1, \"max_frames\": 60}"));
        Future<HttpResponse<byte[]>> b = pool.submit(() -> post(s, "{\"input\": \"Two.\", \"seed\": 2, \"max_frames\": 60}"));
        // both admitted to the runtime, not only received: a request still on its way in is refused (503) by the close
        awaitMetric(s, "higgs_running_sequences 2");
        assertThat(s.close(Duration.ofSeconds(30))).isTrue();
        assertThat(a.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        assertThat(b.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        pool.shutdown();
    }

    /** Never lets a codebook choose EOS. */
    static final class NoEos extends ForwardingSession {
        final SpeechTokens ids;

        NoEos(DecoderSession inner, SpeechTokens ids) {
            super(inner);
            this.ids = ids;
        }

        @Override
        public Logits forward(TokenInput chunk) {
            try {
                Thread.sleep(2);   // slower than a disconnect is noticed
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            Logits l = inner.forward(chunk);
            float[] a = l.audio().clone();
            for (int t = 0; t < l.tokens(); t++) {
                for (int k = 0; k < ids.numCodebooks(); k++) {
                    a[t * l.audioWidth() + k * ids.codebookSize() + ids.streamEos()] = -1e9f;
                }
            }
            return new Logits(l.tokens(), a, l.audioWidth(), l.text(), l.textWidth(), l.audioMask());
        }
    }
}
