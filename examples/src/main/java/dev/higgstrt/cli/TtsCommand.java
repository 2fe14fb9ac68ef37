package dev.higgstrt.cli;

import dev.higgstrt.audio.SpeechSynthesizer;
import dev.higgstrt.audio.StreamingCodec;
import dev.higgstrt.audio.WavFile;
import dev.higgstrt.generation.Generator;
import dev.higgstrt.model.SpeechTokens;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code higgs-trt tts}: text to a WAV file, through the generation loop and the codec decoder. */
@Command(name = "tts", mixinStandardHelpOptions = true,
        description = {"Speak text into a WAV file.",
                "Generates the codes as generate does, then decodes them with the codec of --codec (the CPU reference)",
                "or --codec-engine (TensorRT, from build-codec)",
                "into 16-bit mono PCM at the codec's rate (24 kHz for Higgs Audio v2)."})
final class TtsCommand implements Callable<Integer> {
    @Mixin
    GenerationOptions generation;

    @picocli.CommandLine.ArgGroup(multiplicity = "1")
    CodecChoice codec;

    @Option(names = "--stream", description = "Decode in chunks while generating (as a server would) and report the time to first audio.")
    boolean stream;

    @Option(names = "--output", required = true, paramLabel = "FILE",
            description = "The WAV file to write; a name ending in .pcm gets the raw 24 kHz mono PCM16 (little-endian) instead.")
    Path output;

    @Option(names = "--first-chunk", defaultValue = "5", paramLabel = "FRAMES",
            description = "With --stream: frames of the first chunk (default: ${DEFAULT-VALUE}); fewer start the audio sooner.")
    int firstChunk;

    @Spec
    CommandSpec spec;

    /** The standard chunking with the first chunk of {@code --first-chunk} frames (the cross-fade shorter than it). */
    private StreamingCodec.Options streaming() {
        if (firstChunk < 1) {
            throw new CliPaths.BadInput("--first-chunk must be at least 1, got " + firstChunk);
        }
        StreamingCodec.Options standard = StreamingCodec.Options.standard();
        return new StreamingCodec.Options(firstChunk, standard.chunkFrames(), standard.contextFrames(),
                Math.min(standard.fadeFrames(), firstChunk - 1));
    }

    @Override
    public Integer call() throws Exception {
        CliPaths.outputFile(output, "a .wav (or .pcm) file");
        SpeechTokens ids = generation.validate();
        var request = generation.request(ids);
        PrintWriter err = spec.commandLine().getErr();
        try (CodecChoice.Opened decoder = codec.open("tts"); GenerationOptions.Backend backend = generation.backend("tts")) {
            SpeechSynthesizer tts;
            try {
                tts = new SpeechSynthesizer(new Generator(ids, backend.sessions()), ids, decoder.decoder());
            } catch (IllegalArgumentException e) {
                throw new CliPaths.BadInput(codec.source() + ": " + e.getMessage());
            }
            Generator.FrameListener progress = GenerateCommand.progress(err);
            SpeechSynthesizer.Speech speech = stream
                    ? tts.stream(request, streaming(), s -> { }, progress, () -> false)
                    : tts.synthesize(request, progress, () -> false);
            if (speech.samples().length == 0) {
                throw new CliPaths.BadInput("the generation ended (" + speech.generation().finish().id() + ") before any codes: "
                        + "nothing to decode; no WAV written");
            }
            if (output.getFileName().toString().endsWith(".pcm")) {
                dev.higgstrt.io.AtomicOutput.writeBytes(output, dev.higgstrt.audio.Pcm16.bytes(speech.samples()));
            } else {
                WavFile.write(output, speech.samples(), speech.sampleRate());
            }
            var r = speech.generation();
            spec.commandLine().getOut().printf("%d prompt positions, %d frames, finish %s: prefill %.1f ms, %.1f frames/s (%s);"
                            + " %s %.2f s of audio in %.2f s (%.1fx real time)%s -> %s%n", r.promptPositions(), r.frames().size(),
                    r.finish().id(), r.prefillNanos() / 1e6, r.framesPerSecond(), backend.name(), decoder.name(), speech.seconds(),
                    speech.decodeNanos() / 1e9, speech.seconds() / (speech.decodeNanos() / 1e9),
                    stream ? String.format(", first audio after %.0f ms", speech.firstAudioNanos() / 1e6) : "", output);
        }
        return 0;
    }
}
