package dev.higgstrt.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.higgstrt.decoding.DecoderSession;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.generation.GenerationRequest;
import dev.higgstrt.generation.Prompt;
import dev.higgstrt.generation.Sampling;
import dev.higgstrt.io.Json;
import dev.higgstrt.model.SpeechTokens;
import dev.higgstrt.reference.ReferenceModel;
import dev.higgstrt.text.HuggingFaceTextTokenizer;
import dev.higgstrt.text.TextTokenizer;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.function.Supplier;

/** The options of a generation (the prompt, sampling, limits and backend), shared by {@code generate} and {@code tts}. */
final class GenerationOptions {
    @Option(names = "--checkpoint", required = true, paramLabel = "DIR",
            description = "The checkpoint (any layout) with its tokenizer.json; with --engine, the converted checkpoint it was built from.")
    Path checkpoint;

    @Option(names = "--engine", paramLabel = "FILE", description = "A TensorRT engine file from higgs-trt build (GPU).")
    Path engine;

    static final class Input {
        @Option(names = "--text", description = "The text to speak.")
        String text;
        @Option(names = "--tokens", paramLabel = "FILE", description = "A token file (the reference command's JSON) as the whole prompt.")
        Path tokens;
    }

    @ArgGroup(multiplicity = "1")
    Input input;

    @Option(names = "--system", description = "The system message (default: \"" + Prompt.DEFAULT_SYSTEM + "\").")
    String system;

    @Option(names = "--scene", description = "A scene description.")
    String scene;

    @Option(names = "--voice-codes", paramLabel = "FILE",
            description = "Reference codes of a voice to clone: JSON {\"codes\": [[...] per codebook]} (a generate output works).")
    Path voiceCodes;

    @Option(names = "--voice-text", description = "The transcript of the voice reference.")
    String voiceText;

    @Option(names = "--tokenizer", paramLabel = "FILE", description = "The tokenizer.json (default: the checkpoint's).")
    Path tokenizer;

    @Option(names = "--greedy", description = "Take the most likely code (bit-reproducible; RAS off).")
    boolean greedy;

    @Option(names = "--temperature", defaultValue = "1.0", description = "Sampling temperature (default: ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--top-k", defaultValue = "50", description = "Keep the k most likely codes, 0 for all (default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--top-p", defaultValue = "1.0", description = "Keep the codes of this much probability (default: ${DEFAULT-VALUE}).")
    double topP;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the draws (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--ras-window", defaultValue = "7", description = "Repetition-aware sampling window, 0 for off (default: ${DEFAULT-VALUE}).")
    int rasWindow;

    @Option(names = "--ras-max-repeat", defaultValue = "2", description = "RAS repeats that trigger a new draw (default: ${DEFAULT-VALUE}).")
    int rasMaxRepeat;

    @Option(names = "--max-frames", defaultValue = "1500", description = "At most this many frames, 25 a second (default: ${DEFAULT-VALUE}).")
    int maxFrames;

    /**
     * Checks the options and reads the ids.
     *
     * @return the checkpoint's speech ids
     */
    SpeechTokens validate() throws Exception {
        CliPaths.folder(checkpoint, "a checkpoint folder");
        if (maxFrames <= 0) {
            throw new CliPaths.BadInput("--max-frames must be positive, got " + maxFrames);
        }
        if ((voiceCodes == null) != (voiceText == null)) {
            throw new CliPaths.BadInput("--voice-codes and --voice-text go together");
        }
        if (input.tokens != null && (system != null || scene != null || voiceCodes != null)) {
            throw new CliPaths.BadInput("--tokens is the whole prompt: --system, --scene and --voice-* go with --text");
        }
        sampling();
        return SpeechTokens.read(checkpoint);
    }

    /** The request these options describe. */
    GenerationRequest request(SpeechTokens ids) throws Exception {
        return new GenerationRequest(prompt(ids), sampling(), maxFrames);
    }

    Sampling sampling() {
        Optional<Sampling.Ras> ras = rasWindow > 0 ? Optional.of(new Sampling.Ras(rasWindow, rasMaxRepeat)) : Optional.empty();
        try {
            return greedy ? Sampling.GREEDY : new Sampling(false, temperature, topK, topP, ras, seed);
        } catch (IllegalArgumentException e) {
            throw new CliPaths.BadInput(e.getMessage());
        }
    }

    private Prompt.Tokens prompt(SpeechTokens ids) throws Exception {
        if (input.tokens != null) {
            CliPaths.file(input.tokens, "a token file (JSON)");
            TokenInput t = TokenInput.read(input.tokens);
            if (t.inputIds() == null || t.inputIds().length == 0) {
                throw new CliPaths.BadInput(input.tokens + ": no input_ids (the prompt needs its text ids)");
            }
            return new Prompt.Tokens(t.inputIds(), Arrays.asList(t.audioFrames()));
        }
        Prompt p = Prompt.of(input.text);
        if (system != null) {
            p = p.withSystem(system);
        }
        if (scene != null) {
            p = p.withScene(scene);
        }
        if (voiceCodes != null) {
            p = p.withVoice(new Prompt.VoiceReference(voiceText, voiceCodes(voiceCodes)));
        }
        Path tok = tokenizer != null ? tokenizer : checkpoint;
        try (TextTokenizer t = HuggingFaceTextTokenizer.open(tok)) {
            return p.tokenize(t, ids);
        } catch (IllegalArgumentException e) {
            throw new CliPaths.BadInput(e.getMessage());
        }
    }

    private static int[][] voiceCodes(Path file) throws Exception {
        int[][] codes = readCodes(file);
        try {
            return new Prompt.VoiceReference("", codes).codes();
        } catch (IllegalArgumentException e) {
            throw new CliPaths.BadInput(file + ": " + e.getMessage());
        }
    }

    /** Reads {@code {"codes": [[...] per codebook]}} (a generate output works), every row a non-empty list of integers. */
    static int[][] readCodes(Path file) throws Exception {
        CliPaths.file(file, "codes (JSON)");
        JsonNode root;
        try {
            root = Json.readUtf8(Json.STRICT, Files.readAllBytes(file));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new CliPaths.BadInput(file + ": not valid JSON: " + e.getOriginalMessage());
        }
        JsonNode codes = root.isObject() ? root.get("codes") : root;
        if (codes == null || !codes.isArray() || codes.isEmpty()) {
            throw new CliPaths.BadInput(file + ": expected {\"codes\": [[...] per codebook]}");
        }
        int[][] out = new int[codes.size()][];
        for (int k = 0; k < out.length; k++) {
            JsonNode row = codes.get(k);
            if (!row.isArray() || row.isEmpty()) {
                throw new CliPaths.BadInput(file + ": codes[" + k + "] is not a non-empty list of codes");
            }
            out[k] = new int[row.size()];
            for (int t = 0; t < out[k].length; t++) {
                if (!row.get(t).isIntegralNumber() || !row.get(t).canConvertToInt()) {
                    throw new CliPaths.BadInput(file + ": codes[" + k + "][" + t + "] = " + row.get(t) + " is not an integer");
                }
                out[k][t] = row.get(t).asInt();
            }
        }
        return out;
    }

    /**
     * A batch decoder and how a runtime over it may schedule.
     *
     * @param decoder the decoder (the runtime owns it)
     * @param options the runtime's options that fit it (the caller sets the queue's capacity)
     */
    record Batched(dev.higgstrt.runtime.BatchDecoder decoder, dev.higgstrt.runtime.BatchRuntime.Options options) {
    }

    /** Where the sessions come from: the CPU reference or an engine. */
    interface Backend extends AutoCloseable {
        Supplier<? extends DecoderSession> sessions();

        /** A runtime's decoder for up to {@code maxRunning} sequences: one session each, run in turn, by default. */
        default Batched batched(int maxRunning) {
            var sessions = new dev.higgstrt.runtime.SessionBatchDecoder(sessions());
            return new Batched(sessions, new dev.higgstrt.runtime.BatchRuntime.Options(maxRunning, 0, 256, 256 + maxRunning, 16,
                    Math.ceilDiv(sessions.maxSequence(), 16) * maxRunning));
        }

        String name();

        @Override
        void close() throws Exception;
    }

    Backend backend(String command) throws Exception {
        if (engine == null) {
            ReferenceModel model = ReferenceModel.load(checkpoint);
            return new Backend() {
                public Supplier<? extends DecoderSession> sessions() {
                    return model::newSession;
                }

                public String name() {
                    return "CPU reference";
                }

                public void close() {
                    model.close();
                }
            };
        }
        CliPaths.file(engine, "an engine file from higgs-trt build");
        GpuCheck.require(command + " --engine");
        if (dev.higgstrt.trt.engine.PagedEngine.isPagedEngineFile(engine)) {
            dev.higgstrt.trt.engine.PagedEngine paged = dev.higgstrt.trt.engine.PagedEngine.load(engine, checkpoint);
            return new Backend() {
                public Supplier<? extends DecoderSession> sessions() {
                    return paged::newSession;
                }

                public String name() {
                    return "paged TensorRT engine, " + paged.dtype().torchName();
                }

                public Batched batched(int maxRunning) {
                    var d = paged.newDecoder(paged.shape().blocksPerSequence() * Math.min(maxRunning, paged.shape().maxSequences()));
                    return new Batched(d, d.runtimeOptions(maxRunning, 0));
                }

                public void close() {
                    paged.close();
                }
            };
        }
        dev.higgstrt.trt.engine.HiggsEngine e = dev.higgstrt.trt.engine.HiggsEngine.load(engine, checkpoint);
        return new Backend() {
            public Supplier<? extends DecoderSession> sessions() {
                return e::newSession;
            }

            public String name() {
                return "TensorRT engine, " + e.dtype().torchName();
            }

            public void close() {
                e.close();
            }
        };
    }
}
