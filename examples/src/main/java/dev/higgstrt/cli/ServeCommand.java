package dev.higgstrt.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.higgstrt.audio.AudioDecoder;
import dev.higgstrt.generation.GenerationRequest;
import dev.higgstrt.generation.GenerationResult;
import dev.higgstrt.generation.Generator;
import dev.higgstrt.generation.Prompt;
import dev.higgstrt.generation.Sampling;
import dev.higgstrt.io.AtomicOutput;
import dev.higgstrt.io.FileTrees;
import dev.higgstrt.io.Json;
import dev.higgstrt.model.SpeechTokens;
import dev.higgstrt.runtime.BatchRuntime;
import dev.higgstrt.server.SpeechBackend;
import dev.higgstrt.server.SpeechServer;
import dev.higgstrt.server.VoiceLibrary;
import dev.higgstrt.synth.Presets;
import dev.higgstrt.synth.SyntheticCheckpoint;
import dev.higgstrt.synth.SyntheticCodec;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.text.HuggingFaceTextTokenizer;
import dev.higgstrt.text.TextTokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** {@code higgs-trt serve}: the OpenAI-compatible speech server (docs/server.md). */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serve text to speech over HTTP (OpenAI's /v1/audio/speech).",
                "With --demo, on the embedded synthetic model and codec with a demo voice, no set-up; otherwise on",
                "--checkpoint (the CPU reference, or --engine on a GPU) and --codec or --codec-engine. Runs until stopped",
                "(Ctrl-C or SIGTERM: running requests get --grace seconds to finish)."})
final class ServeCommand implements Callable<Integer> {
    /** Held so that the level stays: Helidon's start-up and shutdown lines are not the user's business. */
    private static final java.util.logging.Logger HELIDON = java.util.logging.Logger.getLogger("io.helidon");
    @Option(names = "--demo", description = "Serve the embedded synthetic model, codec and a demo voice.")
    boolean demo;

    @Option(names = "--checkpoint", paramLabel = "DIR", description = "The checkpoint with its tokenizer.json (with --engine: the converted one).")
    Path checkpoint;

    @Option(names = "--engine", paramLabel = "FILE", description = "A TensorRT engine from higgs-trt build (GPU).")
    Path engine;

    @Option(names = "--codec", paramLabel = "DIR", description = "The codec folder (CPU reference).")
    Path codec;

    @Option(names = "--codec-engine", paramLabel = "FILE", description = "A codec engine from higgs-trt build-codec (GPU).")
    Path codecEngine;

    @Option(names = "--voices", paramLabel = "DIR", description = "A folder of voice presets NAME.json: {\"transcript\": ..., \"codes\": [[...]]}.")
    Path voices;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "The address to listen on (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "8000", description = "The port, 0 for a free one (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--api-key-file", paramLabel = "FILE", description = "A file holding the bearer token every request must carry.")
    Path apiKeyFile;

    @Option(names = "--max-running", defaultValue = "4", description = "Generations that run together (default: ${DEFAULT-VALUE}).")
    int maxRunning;

    @Option(names = "--queue", defaultValue = "16", description = "Requests that may wait; beyond, 429 (default: ${DEFAULT-VALUE}).")
    int queue;

    @Option(names = "--grace", defaultValue = "10", description = "Seconds running requests get at shutdown (default: ${DEFAULT-VALUE}).")
    int grace;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        HELIDON.setLevel(java.util.logging.Level.WARNING);
        if (demo == (checkpoint != null)) {
            throw new CliPaths.BadInput("give --demo, or --checkpoint with --codec or --codec-engine");
        }
        if (!demo && (codec == null) == (codecEngine == null)) {
            throw new CliPaths.BadInput("give one of --codec and --codec-engine");
        }
        String key = null;
        if (apiKeyFile != null) {
            CliPaths.file(apiKeyFile, "a file with the API key");
            key = Files.readString(apiKeyFile).strip();
            if (key.isEmpty()) {
                throw new CliPaths.BadInput(apiKeyFile + ": empty; put the bearer token in it");
            }
        }
        Path work = demo ? Files.createTempDirectory("higgs-trt-serve") : null;
        try {
            if (demo) {
                checkpoint = work.resolve("model");
                SyntheticCheckpoint.write(checkpoint, SyntheticCheckpoint.Spec.of(Presets.tiny()).withSeed(7).withDtype(DType.F32), n -> { });
                codec = work.resolve("codec");
                SyntheticCodec.write(codec, SyntheticCodec.tiny(), 11);
            } else {
                CliPaths.folder(checkpoint, "a checkpoint folder");
            }
            SpeechTokens ids = SpeechTokens.read(checkpoint);
            CodecChoice choice = new CodecChoice();
            choice.folder = codec;
            choice.engine = codecEngine;
            GenerationOptions models = new GenerationOptions();
            models.checkpoint = checkpoint;
            models.engine = engine;
            try (TextTokenizer tokenizer = HuggingFaceTextTokenizer.open(checkpoint);
                 CodecChoice.Opened decoder = choice.open("serve");
                 GenerationOptions.Backend model = models.backend("serve")) {
                if (demo) {
                    voices = demoVoice(work.resolve("voices"), ids, tokenizer, model);
                }
                VoiceLibrary library;
                try {
                    library = voices == null ? VoiceLibrary.empty() : VoiceLibrary.read(voices, ids);
                } catch (IllegalArgumentException e) {
                    throw new CliPaths.BadInput(e.getMessage());
                }
                GenerationOptions.Batched batch = model.batched(maxRunning);
                BatchRuntime runtime = new BatchRuntime(ids, batch.decoder(), batch.options().withQueueCapacity(queue));
                AudioDecoder audio = decoder.decoder();
                SpeechServer.Config config = SpeechServer.Config.local(port).withHost(host);
                if (key != null) {
                    config = config.withApiKey(key);
                }
                SpeechServer server = SpeechServer.start(new SpeechBackend(demo ? "higgs-trt-demo" : checkpoint.getFileName().toString(),
                        ids, tokenizer, runtime, audio, library), config);
                CountDownLatch stopped = new CountDownLatch(1);
                Thread hook = new Thread(() -> {
                    server.close(Duration.ofSeconds(grace));
                    stopped.countDown();
                });
                Runtime.getRuntime().addShutdownHook(hook);
                var out = spec.commandLine().getOut();
                out.printf("listening on http://%s:%d (%s, %s; %s); voices: %s%n", host, server.port(), model.name(), decoder.name(),
                        demo ? "the embedded synthetic model" : checkpoint, library.all().isEmpty() ? "none" : String.join(", ", library.all().keySet()));
                out.flush();
                stopped.await();
            }
        } finally {
            if (work != null) {
                FileTrees.delete(work);
            }
        }
        return 0;
    }

    /** The demo's voice: the codes the model itself speaks "Hello." with, and that transcript. */
    static Path demoVoice(Path folder, SpeechTokens ids, TextTokenizer tokenizer, GenerationOptions.Backend model) throws Exception {
        Files.createDirectories(folder);
        Prompt.Tokens prompt = Prompt.of("Hello.").tokenize(tokenizer, ids);
        GenerationResult r = new Generator(ids, model.sessions()).generate(new GenerationRequest(prompt, Sampling.GREEDY, 60));
        ObjectNode voice = Json.STRICT.createObjectNode().put("transcript", "Hello.");
        ArrayNode codes = voice.putArray("codes");
        for (int[] row : r.codes()) {
            ArrayNode a = codes.addArray();
            Arrays.stream(row).forEach(a::add);
        }
        AtomicOutput.writeString(folder.resolve("demo.json"), Json.STRICT.writeValueAsString(voice));
        return folder;
    }
}
