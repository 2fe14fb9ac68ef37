package dev.higgstrt.cli;

import dev.higgstrt.audio.CodecDecoder;
import dev.higgstrt.audio.WavFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code higgs-trt decode-codes}: codec codes made elsewhere to a WAV file. */
@Command(name = "decode-codes", mixinStandardHelpOptions = true,
        description = {"Decode codec codes into a WAV file.",
                "Reads {\"codes\": [[...] per codebook]} (a generate output works) and decodes it with the codec of --codec",
                "(CPU reference) or --codec-engine (TensorRT)."})
final class DecodeCodesCommand implements Callable<Integer> {
    @picocli.CommandLine.ArgGroup(multiplicity = "1")
    CodecChoice codec;

    @Option(names = "--codes", required = true, paramLabel = "FILE", description = "The codes, JSON {\"codes\": [[...] per codebook]}.")
    Path codes;

    @Option(names = "--output", required = true, paramLabel = "FILE", description = "The WAV file to write.")
    Path output;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        CliPaths.outputFile(output, "a .wav file");
        int[][] c = GenerationOptions.readCodes(codes);
        try (CodecChoice.Opened opened = codec.open("decode-codes")) {
            var decoder = opened.decoder();
            try {
                CodecDecoder.check(decoder.config(), c);
            } catch (IllegalArgumentException e) {
                throw new CliPaths.BadInput(codes + ": " + e.getMessage());
            }
            long t0 = System.nanoTime();
            float[] samples = dev.higgstrt.audio.StreamingCodec.decodeAll(decoder, c);
            double s = (System.nanoTime() - t0) / 1e9;
            WavFile.write(output, samples, decoder.config().sampleRate());
            double audio = (double) samples.length / decoder.config().sampleRate();
            spec.commandLine().getOut().printf("%d frames -> %.2f s of audio at %d Hz in %.2f s (%.1fx real time, %s) -> %s%n",
                    c[0].length, audio, decoder.config().sampleRate(), s, audio / s, opened.name(), output);
        }
        return 0;
    }
}
