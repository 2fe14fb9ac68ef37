package dev.higgstrt.cli;

import dev.higgstrt.reference.Heads;

import dev.higgstrt.convert.ConversionOptions;
import dev.higgstrt.convert.Converter;
import dev.higgstrt.converted.ConvertedCheckpoint;
import dev.higgstrt.layout.Mapping;
import dev.higgstrt.io.FileTrees;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.SourceLayout;
import dev.higgstrt.decoding.Logits;
import dev.higgstrt.reference.ReferenceModel;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.safetensors.SafetensorsCheckpoint;
import dev.higgstrt.safetensors.SafetensorsReader;
import dev.higgstrt.synth.Presets;
import dev.higgstrt.synth.SyntheticCheckpoint;
import dev.higgstrt.weights.Weight;
import dev.higgstrt.weights.WeightMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code higgs-trt demo}: the whole path on an embedded synthetic model, in seconds. Writes a
 * tiny checkpoint in both source layouts, converts both at tp 2 x pp 2, checks every rank
 * against the layout spec, merges the ranks back into the source and compares, runs the CPU
 * reference on the source and on the converted checkpoint, then speaks: text to codes with the
 * generation loop, codes to a WAV file with a random codec (whole and streamed).
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Run the whole path on a small synthetic model.",
                "Writes, converts and runs an embedded model and reports each stage (seconds)."})
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--keep", paramLabel = "DIR", description = "Work in DIR and keep the files (default: a temporary folder, deleted).")
    Path keep;

    @Option(names = "--tp", defaultValue = "2", description = "Tensor-parallel size (default: ${DEFAULT-VALUE}).")
    int tp;

    @Option(names = "--pp", defaultValue = "2", description = "Pipeline-parallel size (default: ${DEFAULT-VALUE}).")
    int pp;

    @Spec
    CommandSpec spec;

    private final List<String> failures = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path work = keep != null ? Files.createDirectories(keep) : Files.createTempDirectory("higgs-trt-demo");
        long t0 = System.nanoTime();
        try {
            HiggsAudioConfig config = Presets.tiny();
            out.printf("higgs-trt demo: tiny synthetic Higgs Audio v2 (%d layers, hidden %d, %d/%d heads, %d codebooks x %d)%n",
                    config.numLayers(), config.hiddenSize(), config.numHeads(), config.numKvHeads(), config.numCodebooks(),
                    config.codebookSize());
            Path tf = work.resolve("source-transformers");
            Path boson = work.resolve("source-boson");
            long bytes = SyntheticCheckpoint.write(tf, SyntheticCheckpoint.Spec.of(config).withSeed(7).withTextHead(true), n -> { });
            SyntheticCheckpoint.write(boson, SyntheticCheckpoint.Spec.of(config).withFormat(SourceLayout.BOSON).withSeed(7).withTextHead(true), n -> { });
            out.printf("  1. wrote the checkpoint in both layouts (%.1f kB of weights each)%n", bytes / 1e3);

            ConversionOptions o = ConversionOptions.of(tp, pp);
            Converter.Report a = Converter.convert(tf, work.resolve("trtllm-from-transformers"), o, n -> { });
            Converter.Report b = Converter.convert(boson, work.resolve("trtllm-from-boson"), o, n -> { });
            out.printf("  2. converted both at tp %d x pp %d: %d tensors in %d ranks (%s)%n", tp, pp,
                    a.plan().tensorCount(), a.plan().ranks().size(), a.plan().dtype().torchName());

            checkAgainstPlan(a);
            boolean identical = true;
            for (Mapping m : Mapping.all(tp, pp)) {
                identical &= Arrays.equals(Files.readAllBytes(a.output().resolve(m.fileName())),
                        Files.readAllBytes(b.output().resolve(m.fileName())));
            }
            check(identical, "both layouts convert to byte-identical rank files");
            out.printf("  3. every rank matches the layout spec; both layouts give byte-identical ranks: %s%n", identical ? "yes" : "NO");

            int[] checked = mergeBack(tf, a.output());
            out.printf("  4. merged the %d ranks back: %d/%d source tensors identical to the last bit%n",
                    tp * pp, checked[0], checked[1]);
            check(checked[0] == checked[1], "merged ranks equal the source");

            reference(out, config, tf, boson, a.output());
            speak(out, tf, a.output());

            out.printf("demo %s in %.2f s%s%n", failures.isEmpty() ? "passed" : "FAILED", (System.nanoTime() - t0) / 1e9,
                    keep != null ? " (files in " + keep + ")" : "");
            failures.forEach(f -> spec.commandLine().getErr().println("error: demo check failed: " + f));
            return failures.isEmpty() ? 0 : 1;
        } finally {
            if (keep == null) {
                FileTrees.delete(work);
            }
        }
    }

    private void check(boolean ok, String what) {
        if (!ok) {
            failures.add(what);
        }
    }

    /**
     * Text to codes with the synthetic tokenizer and the generation loop on the CPU reference, on
     * the source and on its conversion (the same greedy frames from both).
     */
    private void speak(PrintWriter out, Path source, Path converted) throws Exception {
        String text = "Hello from the JVM.";
        dev.higgstrt.model.SpeechTokens ids = dev.higgstrt.model.SpeechTokens.read(source);
        dev.higgstrt.generation.Prompt.Tokens prompt;
        try (var tokenizer = dev.higgstrt.text.HuggingFaceTextTokenizer.open(source)) {
            prompt = dev.higgstrt.generation.Prompt.of(text).tokenize(tokenizer, ids);
        }
        var request = new dev.higgstrt.generation.GenerationRequest(prompt, dev.higgstrt.generation.Sampling.GREEDY, 100);
        dev.higgstrt.generation.GenerationResult a;
        dev.higgstrt.generation.GenerationResult b;
        try (ReferenceModel m = ReferenceModel.load(source); ReferenceModel c = ReferenceModel.load(converted)) {
            a = new dev.higgstrt.generation.Generator(ids, m::newSession).generate(request);
            b = new dev.higgstrt.generation.Generator(dev.higgstrt.model.SpeechTokens.read(converted), c::newSession).generate(request);
        }
        out.printf("  6. text to codes: \"%s\" is %d prompt positions; greedy generation gave %d frames (%s) at %.0f frames/s,"
                + " %d codes a codebook for the codec%n", text, prompt.ids().length, a.frames().size(), a.finish().id(),
                a.framesPerSecond(), a.codes()[0].length);
        boolean same = a.frames().size() == b.frames().size();
        for (int i = 0; same && i < a.frames().size(); i++) {
            same = Arrays.equals(a.frames().get(i), b.frames().get(i));
        }
        out.printf("     the converted checkpoint generates the same frames: %s%n", same ? "yes" : "NO");
        check(same, "the converted checkpoint generates the source's frames");
        hear(out, source.resolveSibling("codec"), ids, source, request);
    }

    /** Codes to sound: a tiny codec of the real frame geometry, the whole decode and a stream, and a WAV file. */
    private void hear(PrintWriter out, Path codecDir, dev.higgstrt.model.SpeechTokens ids, Path source,
                      dev.higgstrt.generation.GenerationRequest request) throws Exception {
        dev.higgstrt.synth.SyntheticCodec.write(codecDir, dev.higgstrt.synth.SyntheticCodec.tiny(), 11);
        dev.higgstrt.audio.CodecDecoder codec = dev.higgstrt.audio.CodecDecoder.load(codecDir);
        var c = codec.config();
        dev.higgstrt.audio.SpeechSynthesizer.Speech whole;
        dev.higgstrt.audio.SpeechSynthesizer.Speech streamed;
        try (ReferenceModel m = ReferenceModel.load(source)) {
            var tts = new dev.higgstrt.audio.SpeechSynthesizer(new dev.higgstrt.generation.Generator(ids, m::newSession), ids, codec);
            whole = tts.synthesize(request);
            streamed = tts.stream(request, dev.higgstrt.audio.StreamingCodec.Options.standard(), samples -> { }, () -> false);
        }
        int frames = whole.generation().codes()[0].length;
        out.printf("  7. codes to sound: a random codec (%d quantizers of %d codes, %d Hz, %d samples a frame): %d frames are"
                        + " %.2f s of audio, decoded in %.3f s (%.0fx real time)%n", c.numQuantizers(), c.codebookSize(), c.sampleRate(),
                c.samplesPerFrame(), frames, whole.seconds(), whole.decodeNanos() / 1e9, whole.seconds() / (whole.decodeNanos() / 1e9));
        check(whole.samples().length == frames * c.samplesPerFrame(), "the decode gives samplesPerFrame samples a frame");
        out.printf("     streamed while generating (chunks of %d frames after a first of %d): first audio after %.0f ms, %d samples%n",
                dev.higgstrt.audio.StreamingCodec.Options.standard().chunkFrames(),
                dev.higgstrt.audio.StreamingCodec.Options.standard().firstChunkFrames(), streamed.firstAudioNanos() / 1e6,
                streamed.samples().length);
        check(streamed.samples().length == whole.samples().length, "the stream has the whole decode's length");
        Path wav = codecDir.resolveSibling("speech.wav");
        dev.higgstrt.audio.WavFile.write(wav, whole.samples(), whole.sampleRate());
        dev.higgstrt.audio.WavFile.Pcm back;
        try (var in = Files.newInputStream(wav)) {
            back = dev.higgstrt.audio.WavFile.read(in);
        }
        out.printf("     wrote %s (%s): reads back as %d Hz mono PCM16, %d samples%n", wav.getFileName(),
                Sizes.bytes(Files.size(wav)), back.sampleRate(), back.values().length);
        check(back.sampleRate() == c.sampleRate() && back.values().length == whole.samples().length, "the WAV reads back");
    }

    /** The CPU reference on a mixed text/audio prompt, on both source layouts and the converted ranks. */
    private void reference(PrintWriter out, HiggsAudioConfig c, Path tf, Path boson, Path converted) throws Exception {
        int audioId = c.audioTokenIds().getLast();
        int[] ids = {1, 17, 42, audioId, audioId, audioId, 99, audioId, 5};
        java.util.Random r = new java.util.Random(5);
        int[][] frames = new int[4][c.numCodebooks()];
        for (int[] f : frames) {
            for (int k = 0; k < f.length; k++) {
                f[k] = r.nextInt(c.codebookSize());
            }
        }
        TokenInput prompt = new TokenInput(ids, frames);
        long t0 = System.nanoTime();
        Logits fromTf = ReferenceModel.load(tf).forward(prompt, Heads.AUDIO_AND_TEXT);
        double s = (System.nanoTime() - t0) / 1e9;
        Logits fromBoson = ReferenceModel.load(boson).forward(prompt, Heads.AUDIO_AND_TEXT);
        ReferenceModel convertedModel = ReferenceModel.load(converted);
        Logits fromConverted = convertedModel.forward(prompt, Heads.AUDIO_AND_TEXT);
        float dBoson = fromTf.maxAbsDiff(fromBoson);
        float dConverted = fromTf.maxAbsDiff(fromConverted);
        out.printf("  5. CPU reference on a %d-position prompt (%d audio frames): logits [%d,%d] in %.3f s%n",
                prompt.length(), frames.length, fromTf.tokens(), fromTf.audioWidth(), s);
        out.printf("     max |difference| transformers vs boson layout: %s, vs converted tp %d x pp %d (bf16): %s%n",
                dBoson, tp, pp, dConverted);
        check(dBoson == 0 && dConverted == 0, "the reference gives the same logits on every layout");
        ReferenceModel.Session session = convertedModel.newSession();
        session.forward(prompt);
        Logits step = session.forward(TokenInput.text(2));
        out.printf("     one decode step through the KV cache: position %d, %d audio logits%n", session.length() - 1, step.audio().length);
    }

    private void checkAgainstPlan(Converter.Report report) throws Exception {
        for (Converter.RankPlan rp : report.plan().ranks()) {
            try (SafetensorsReader r = SafetensorsReader.open(report.output().resolve(rp.mapping().fileName()))) {
                check(r.infos().keySet().equals(rp.tensors().keySet()), "rank " + rp.mapping().rank() + " names follow the spec");
                rp.tensors().forEach((name, spec) -> {
                    var info = r.infos().get(name);
                    check(info != null && info.shape().equals(spec.shape()) && info.dtype() == spec.dtype(),
                            "rank " + rp.mapping().rank() + " " + name + " is " + spec.dtype() + " " + spec.shape());
                });
            }
        }
    }

    private static int[] mergeBack(Path source, Path converted) throws Exception {
        try (SafetensorsCheckpoint src = SafetensorsCheckpoint.open(source); Arena arena = Arena.ofConfined();
             ConvertedCheckpoint back = ConvertedCheckpoint.open(converted)) {
            WeightMap merged = back.weights();
            int same = 0;
            for (Weight w : src.weights()) {
                if (merged.contains(w.name())
                        && merged.tensor(w.name()).materialize(arena).contentEquals(w.tensor().materialize(arena))) {
                    same++;
                }
            }
            return new int[]{same, src.weights().size()};
        }
    }

}
