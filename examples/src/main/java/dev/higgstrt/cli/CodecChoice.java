package dev.higgstrt.cli;

import dev.higgstrt.audio.AudioDecoder;
import dev.higgstrt.audio.CodecDecoder;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** {@code --codec DIR} (the CPU reference) or {@code --codec-engine FILE} (TensorRT), for {@code tts} and {@code decode-codes}. */
final class CodecChoice {
    @Option(names = "--codec", paramLabel = "DIR",
            description = "The audio tokenizer (codec) folder: config.json and safetensors, transformers' or Boson's names (CPU reference).")
    Path folder;

    @Option(names = "--codec-engine", paramLabel = "FILE", description = "A codec engine from higgs-trt build-codec (GPU).")
    Path engine;

    /** A decoder that the caller closes (the engine's native memory) through the returned handle. */
    record Opened(AudioDecoder decoder, AutoCloseable owner, String name) implements AutoCloseable {
        @Override
        public void close() throws Exception {
            if (owner != null) {
                owner.close();
            }
        }
    }

    Opened open(String command) throws Exception {
        if (folder != null) {
            CliPaths.folder(folder, "a codec folder");
            return new Opened(CodecDecoder.load(folder), null, "CPU reference codec");
        }
        CliPaths.file(engine, "a codec engine file from higgs-trt build-codec");
        GpuCheck.require(command + " --codec-engine");
        dev.higgstrt.trt.codec.CodecEngine e = dev.higgstrt.trt.codec.CodecEngine.load(engine);
        return new Opened(e, e, "codec engine, " + e.dtype().torchName());
    }

    Path source() {
        return folder != null ? folder : engine;
    }
}
