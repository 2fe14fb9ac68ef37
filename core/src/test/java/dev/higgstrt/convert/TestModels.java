package dev.higgstrt.convert;

import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.RopeParameters;
import dev.higgstrt.model.SourceLayout;
import dev.higgstrt.synth.SyntheticCheckpoint;
import dev.higgstrt.tensor.DType;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/** Small model configs that exercise the awkward cases, and checkpoints of them, for tests. */
public final class TestModels {
    private TestModels() {
    }

    /**
     * 8 heads over 2 kv heads (kv < tp for tp 4 and 8), 5 layers (uneven over pp 2, 3, 4), an
     * audio vocabulary of 3 x 7 = 21 rows and a text vocabulary of 100 (both padded for most tp).
     */
    public static HiggsAudioConfig awkward() {
        return new HiggsAudioConfig(SourceLayout.TRANSFORMERS, 100, 32, 64, 5, 8, 2, 4, 1e-5, 256,
                RopeParameters.llama3(10000, 8, 1, 4, 64), 3, 7, List.of(97, 98), 5, 6,
                HiggsAudioConfig.allLayers(5), false, Optional.of(DType.F32));
    }

    /** Writes a synthetic checkpoint of {@code c} in {@code format} to {@code dir}. */
    public static Path write(Path dir, HiggsAudioConfig c, SourceLayout format, boolean textHead, DType dtype)
            throws IOException {
        SyntheticCheckpoint.write(dir, SyntheticCheckpoint.Spec.of(c).withFormat(format).withSeed(42).withTextHead(textHead).withDtype(dtype), n -> { });
        return dir;
    }
}
