package dev.higgstrt.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.higgstrt.audio.Pcm16;
import dev.higgstrt.audio.StreamingCodec;
import dev.higgstrt.audio.WavFile;
import dev.higgstrt.generation.DelayedCodes;
import dev.higgstrt.generation.Frame;
import dev.higgstrt.generation.GenerationRequest;
import dev.higgstrt.generation.GenerationResult;
import dev.higgstrt.generation.Prompt;
import dev.higgstrt.generation.Sampling;
import dev.higgstrt.io.Json;
import dev.higgstrt.runtime.BatchRuntime;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;

/**
 * An OpenAI-compatible text-to-speech server on Helidon SE: {@code POST /v1/audio/speech} (a WAV
 * or PCM16, whole or streamed as the codec decodes each chunk), {@code GET /v1/voices}, {@code GET
 * /health}, {@code GET /metrics}. Requests run on virtual threads and wait for their frames from
 * the {@link BatchRuntime}, which batches them on one decoder; the runtime's bounded queue is the
 * back-pressure (429 with {@code Retry-After} when full). A streaming client that disconnects
 * cancels its generation, which frees its KV blocks at once. Every error is a JSON body {@code
 * {"error": {"message", "type"}}}. Listens on 127.0.0.1 unless told otherwise.
 */
public final class SpeechServer implements AutoCloseable {
    /**
     * How the server listens and what it accepts.
     *
     * @param host          the address to bind (127.0.0.1 by default)
     * @param port          the port, 0 for a free one
     * @param apiKey        a bearer token every request must carry, if present
     * @param maxBodyBytes  the largest request body (413 beyond)
     * @param maxInputChars the longest {@code input} (413 beyond)
     * @param maxFrames     the most frames a request may ask for (and the default)
     * @param streaming     how streamed responses are cut into chunks
     */
    public record Config(String host, int port, Optional<String> apiKey, int maxBodyBytes, int maxInputChars, int maxFrames,
                         StreamingCodec.Options streaming) {
        /**
         * Loopback on {@code port}, no key, 64 kB bodies, 4,096 characters of input, 1,500 frames (60 s).
         *
         * @param port the port, 0 for a free one
         * @return the config
         */
        public static Config local(int port) {
            return new Config("127.0.0.1", port, Optional.empty(), 64 * 1024, 4096, 1500, StreamingCodec.Options.standard());
        }

        /**
         * This config with another host.
         *
         * @param address the address to bind
         * @return the config
         */
        public Config withHost(String address) {
            return new Config(address, port, apiKey, maxBodyBytes, maxInputChars, maxFrames, streaming);
        }

        /**
         * This config with a bearer token.
         *
         * @param key the token
         * @return the config
         */
        public Config withApiKey(String key) {
            return new Config(host, port, Optional.of(key), maxBodyBytes, maxInputChars, maxFrames, streaming);
        }
    }

    private static final Object END = new Object();
    private static final System.Logger LOG = System.getLogger(SpeechServer.class.getName());
    /** The status counted for a client that disconnected before its answer ended (nginx's convention). */
    static final int CLIENT_CLOSED = 499;

    /** Writing to a client failed: it disconnected. */
    private static final class ClientGone extends RuntimeException {
        ClientGone(Throwable cause) {
            super("the client disconnected", cause);
        }
    }
    private final SpeechBackend backend;
    private final Config config;
    private final ServerMetrics metrics = new ServerMetrics();
    private final WebServer server;
    private volatile boolean shuttingDown;

    private SpeechServer(SpeechBackend backend, Config config) {
        this.backend = backend;
        this.config = config;
        this.server = WebServer.builder().host(config.host()).port(config.port())
                .routing(r -> r.post("/v1/audio/speech", this::speech)
                        .get("/v1/voices", this::voices)
                        .get("/health", this::health)
                        .get("/metrics", this::prometheus)
                        .any((req, res) -> error(res, new ApiError(404, "not_found", "no such endpoint: " + req.prologue().method()
                                + " " + req.path().path()))))
                .build();
    }

    /**
     * Starts a server.
     *
     * @param backend what it serves (its runtime is closed with the server)
     * @param config  how it listens
     * @return the running server
     */
    public static SpeechServer start(SpeechBackend backend, Config config) {
        SpeechServer s = new SpeechServer(backend, config);
        s.server.start();
        return s;
    }

    /**
     * The port it listens on (the one picked, for port 0).
     *
     * @return the port
     */
    public int port() {
        return server.port();
    }

    /**
     * Requests being answered now.
     *
     * @return the count
     */
    public long inFlight() {
        return metrics.inFlight();
    }

    /** Stops at once: running generations are cancelled. */
    @Override
    public void close() {
        close(Duration.ZERO);
    }

    /**
     * Stops accepting speech requests (503 from now on), lets running ones finish within {@code
     * grace}, cancels the rest, then stops the listener.
     *
     * @param grace how long running requests may take
     * @return true when every request finished within the grace period
     */
    public boolean close(Duration grace) {
        shuttingDown = true;
        boolean drained = backend.runtime().close(grace);
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (metrics.inFlight() > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        server.stop();
        return drained;
    }

    private void health(ServerRequest req, ServerResponse res) {
        if (!authorized(req, res)) {
            return;
        }
        json(res, shuttingDown ? 503 : 200, Json.STRICT.createObjectNode().put("status", shuttingDown ? "shutting down" : "ok"));
    }

    private void prometheus(ServerRequest req, ServerResponse res) {
        if (!authorized(req, res)) {
            return;
        }
        res.header(HeaderNames.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
        res.send(metrics.prometheus(backend.runtime().metrics()).getBytes(StandardCharsets.UTF_8));
    }

    private void voices(ServerRequest req, ServerResponse res) {
        if (!authorized(req, res)) {
            return;
        }
        ObjectNode root = Json.STRICT.createObjectNode();
        ArrayNode list = root.putArray("voices");
        backend.voices().all().forEach((name, v) -> list.addObject().put("name", name).put("transcript", v.transcript())
                .put("frames", v.codes()[0].length));
        json(res, 200, root);
    }

    private boolean authorized(ServerRequest req, ServerResponse res) {
        if (config.apiKey().isEmpty()) {
            return true;
        }
        String header = req.headers().first(HeaderNames.AUTHORIZATION).orElse("");
        byte[] want = ("Bearer " + config.apiKey().get()).getBytes(StandardCharsets.UTF_8);
        if (!MessageDigest.isEqual(want, header.getBytes(StandardCharsets.UTF_8))) {
            error(res, new ApiError(401, "authentication_error", "a valid bearer token is needed (Authorization: Bearer ...)"));
            return false;
        }
        return true;
    }

    /** A parsed speech request. */
    private record Speech(GenerationRequest request, boolean wav, boolean stream) {
    }

    private void speech(ServerRequest req, ServerResponse res) {
        if (!authorized(req, res)) {
            return;
        }
        long t0 = System.nanoTime();
        metrics.started();
        int status = 200;
        BatchRuntime.Handle handle = null;
        boolean[] streaming = {false};
        try {
            if (shuttingDown) {
                throw new ApiError(503, "server_shutting_down", "the server is shutting down");
            }
            Speech s = parse(readBody(req));
            BlockingQueue<Object> frames = new LinkedBlockingQueue<>();
            try {
                handle = backend.runtime().submit(s.request(), frames::add);
            } catch (BatchRuntime.RejectedException e) {
                throw switch (e.reason()) {
                    case QUEUE_FULL -> new ApiError(429, "rate_limit_exceeded", e.getMessage() + ": retry later", "1");
                    case TOO_LARGE -> new ApiError(503, "insufficient_capacity", e.getMessage());
                    case CLOSED -> new ApiError(503, "server_shutting_down", e.getMessage());
                };
            } catch (IllegalArgumentException e) {
                throw ApiError.badRequest(e.getMessage());
            }
            handle.result().whenComplete((r, e) -> frames.add(END));
            if (s.stream()) {
                streaming[0] = true;
                stream(res, s, frames, handle, t0);
            } else {
                whole(res, s, handle, t0);
            }
        } catch (ApiError e) {
            status = e.status;
            error(res, e);
        } catch (ClientGone e) {
            status = CLIENT_CLOSED;
        } catch (RuntimeException e) {
            status = 500;
            LOG.log(System.Logger.Level.WARNING, "speech request failed", e);
            if (streaming[0] || res.isSent()) {
                throw e;   // mid-stream: Helidon drops the connection
            }
            error(res, new ApiError(500, "server_error", e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()));
        } catch (Error e) {
            status = 500;
            LOG.log(System.Logger.Level.ERROR, "speech request failed", e);
            throw e;
        } finally {
            if (handle != null && !handle.result().isDone()) {
                handle.cancel();   // however the handler ends, its sequence does not outlive it
            }
            metrics.ended(status);
        }
    }

    private void whole(ServerResponse res, Speech s, BatchRuntime.Handle handle, long t0) {
        GenerationResult r;
        try {
            r = handle.result().get();
        } catch (InterruptedException e) {
            handle.cancel();
            Thread.currentThread().interrupt();
            throw new ApiError(503, "server_error", "interrupted");
        } catch (ExecutionException e) {
            LOG.log(System.Logger.Level.WARNING, "generation failed", e.getCause());
            throw new ApiError(500, "server_error", "generation failed: " + e.getCause().getMessage());
        }
        float[] samples = r.codes()[0].length == 0 ? new float[0] : StreamingCodec.decodeAll(backend.codec(), r.codes());
        byte[] body;
        if (s.wav()) {
            ByteArrayOutputStream out = new ByteArrayOutputStream(44 + 2 * samples.length);
            try {
                WavFile.write(out, samples, backend.codec().config().sampleRate());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            body = out.toByteArray();
        } else {
            body = Pcm16.bytes(samples);
        }
        metrics.firstAudio(System.nanoTime() - t0);
        res.header(HeaderNames.CONTENT_TYPE, s.wav() ? "audio/wav" : "audio/pcm");
        res.header("X-Finish-Reason", r.finish().id());
        res.send(body);
    }

    private void stream(ServerResponse res, Speech s, BlockingQueue<Object> frames, BatchRuntime.Handle handle, long t0) {
        res.header(HeaderNames.CONTENT_TYPE, s.wav() ? "audio/wav" : "audio/pcm");
        int rate = backend.codec().config().sampleRate();
        boolean[] first = {true};
        OutputStream out = res.outputStream();
        try {
            if (s.wav()) {
                try {
                    out.write(streamingWavHeader(rate));
                } catch (IOException | RuntimeException e) {
                    throw new ClientGone(e);
                }
            }
            StreamingCodec codec = new StreamingCodec(backend.codec(), config.streaming(), samples -> {
                try {
                    out.write(Pcm16.bytes(samples));
                    out.flush();
                    if (first[0]) {
                        first[0] = false;
                        metrics.firstAudio(System.nanoTime() - t0);
                    }
                } catch (IOException | RuntimeException e) {
                    throw new ClientGone(e);
                }
            });
            DelayedCodes columns = new DelayedCodes(backend.ids().numCodebooks(), backend.ids().streamBos(), backend.ids().streamEos());
            while (true) {
                Object next = frames.take();
                if (next == END) {
                    break;
                }
                columns.push(((Frame) next).codes()).ifPresent(codec::push);
            }
            try {
                handle.result().join();
            } catch (java.util.concurrent.CompletionException e) {
                // the headers went out: the stream ends without its last chunk, so the client sees an error
                throw new IllegalStateException("generation failed mid-stream: " + e.getCause().getMessage(), e);
            }
            codec.finish();
            try {
                out.close();
            } catch (IOException | RuntimeException e) {
                throw new ClientGone(e);
            }
        } catch (ClientGone e) {
            handle.cancel();   // the client went away: free its sequence now
            throw e;
        } catch (InterruptedException e) {
            handle.cancel();
            Thread.currentThread().interrupt();
        }
    }

    /** A WAV header whose sizes say "unknown" (0xFFFFFFFF), as streaming WAV writers do. */
    static byte[] streamingWavHeader(int rate) {
        ByteBuffer b = ByteBuffer.allocate(44).order(ByteOrder.LITTLE_ENDIAN);
        b.put("RIFF".getBytes(StandardCharsets.US_ASCII)).putInt(-1).put("WAVE".getBytes(StandardCharsets.US_ASCII));
        b.put("fmt ".getBytes(StandardCharsets.US_ASCII)).putInt(16).putShort((short) 1).putShort((short) 1).putInt(rate)
                .putInt(rate * 2).putShort((short) 2).putShort((short) 16);
        b.put("data".getBytes(StandardCharsets.US_ASCII)).putInt(-1);
        return b.array();
    }

    private byte[] readBody(ServerRequest req) {
        Optional<String> length = req.headers().first(HeaderNames.CONTENT_LENGTH);
        if (length.isPresent()) {
            try {
                if (Long.parseLong(length.get().trim()) > config.maxBodyBytes()) {
                    throw new ApiError(413, "request_too_large", "the body is larger than " + config.maxBodyBytes() + " bytes");
                }
            } catch (NumberFormatException e) {
                throw ApiError.badRequest("Content-Length is not a number");
            }
        }
        try (InputStream in = req.content().inputStream()) {
            byte[] body = in.readNBytes(config.maxBodyBytes() + 1);
            if (body.length > config.maxBodyBytes()) {
                throw new ApiError(413, "request_too_large", "the body is larger than " + config.maxBodyBytes() + " bytes");
            }
            return body;
        } catch (IOException e) {
            throw ApiError.badRequest("the body could not be read: " + e.getMessage());
        }
    }

    private Speech parse(byte[] body) {
        JsonNode root;
        try {
            root = Json.readUtf8(Json.STRICT, body);
        } catch (IOException e) {
            throw ApiError.badRequest("the body is not valid JSON");
        }
        if (root == null || !root.isObject()) {
            throw ApiError.badRequest("the body must be a JSON object");
        }
        JsonNode model = root.get("model");
        if (model != null && !model.isTextual()) {
            throw ApiError.badRequest("'model' must be a string");
        }
        JsonNode input = root.get("input");
        if (input == null || !input.isTextual() || input.asText().isBlank()) {
            throw ApiError.badRequest("'input' must be a non-empty string");
        }
        if (input.asText().length() > config.maxInputChars()) {
            throw new ApiError(413, "request_too_large", "'input' is longer than " + config.maxInputChars() + " characters");
        }
        String format = text(root, "response_format", "wav");
        if (!format.equals("wav") && !format.equals("pcm")) {
            throw ApiError.badRequest("'response_format' must be wav or pcm, got " + format);
        }
        JsonNode streamNode = root.get("stream");
        if (streamNode != null && !streamNode.isBoolean()) {
            throw ApiError.badRequest("'stream' must be true or false");
        }
        Prompt prompt = Prompt.of(input.asText());
        String voice = text(root, "voice", null);
        if (voice != null) {
            prompt = prompt.withVoice(backend.voices().get(voice)
                    .orElseThrow(() -> new ApiError(404, "voice_not_found", "no voice '" + voice + "' (GET /v1/voices lists them)")));
        }
        Sampling sampling;
        try {
            sampling = new Sampling(false, number(root, "temperature", 1.0), (int) number(root, "top_k", 50),
                    number(root, "top_p", 1.0), Optional.of(Sampling.Ras.standard()),
                    root.has("seed") ? (long) number(root, "seed", 0) : ThreadLocalRandom.current().nextLong());
        } catch (IllegalArgumentException e) {
            throw ApiError.badRequest(e.getMessage());
        }
        int maxFrames = (int) number(root, "max_frames", config.maxFrames());
        if (maxFrames < 1 || maxFrames > config.maxFrames()) {
            throw ApiError.badRequest("'max_frames' must be in [1, " + config.maxFrames() + "], got " + maxFrames);
        }
        Prompt.Tokens tokens;
        try {
            synchronized (backend.tokenizer()) {
                tokens = prompt.tokenize(backend.tokenizer(), backend.ids());
            }
        } catch (IllegalArgumentException e) {
            throw ApiError.badRequest(e.getMessage());
        }
        return new Speech(new GenerationRequest(tokens, sampling, maxFrames), format.equals("wav"),
                streamNode != null && streamNode.asBoolean());
    }

    private static String text(JsonNode root, String field, String fallback) {
        JsonNode v = root.get(field);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isTextual()) {
            throw ApiError.badRequest("'" + field + "' must be a string");
        }
        return v.asText();
    }

    private static double number(JsonNode root, String field, double fallback) {
        JsonNode v = root.get(field);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isNumber()) {
            throw ApiError.badRequest("'" + field + "' must be a number");
        }
        return v.asDouble();
    }

    private static void json(ServerResponse res, int status, JsonNode body) {
        res.status(status);
        res.header(HeaderNames.CONTENT_TYPE, "application/json");
        try {
            res.send(Json.STRICT.writeValueAsBytes(body));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void error(ServerResponse res, ApiError e) {
        if (res.isSent()) {
            return;
        }
        if (e.retryAfter != null) {
            res.header(HeaderNames.RETRY_AFTER, e.retryAfter);
        }
        ObjectNode root = Json.STRICT.createObjectNode();
        root.putObject("error").put("message", e.getMessage()).put("type", e.type);
        json(res, e.status, root);
    }
}
