package dev.higgstrt.bench;

import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.tensor.DType;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What a decode step must read of a converted checkpoint's weights, for the memory-bandwidth
 * floor of the engine benchmarks: every weight but the two embedding tables (one row each is
 * read) and, where each position takes its own FFN path, not the other path's FFN.
 */
final class DecodeFloor {
    private DecodeFloor() {
    }

    /** The bytes of the checkpoint's safetensors files. */
    static long weightBytes(Path checkpoint) throws IOException {
        try (var files = Files.list(checkpoint)) {
            return files.filter(p -> p.toString().endsWith(".safetensors")).mapToLong(p -> p.toFile().length()).sum();
        }
    }

    /**
     * The weight bytes a decode step reads.
     *
     * @param weightBytes {@link #weightBytes} of the checkpoint
     * @param onePath     whether a position reads its own FFN path only (the dual-FFN plugin)
     */
    static long weightsRead(long weightBytes, HiggsAudioConfig c, DType dtype, boolean onePath) {
        long es = dtype.byteSize();
        long embeddings = ((long) c.vocabSize() + (long) c.numCodebooks() * c.codebookSize()) * c.hiddenSize() * es;
        long otherPath = onePath ? (long) c.dualFfnLayers().size() * 3L * c.hiddenSize() * c.intermediateSize() * es : 0;
        return weightBytes - embeddings - otherPath;
    }
}
