package dev.higgstrt.synth;

import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.RopeParameters;
import dev.higgstrt.model.SourceLayout;
import dev.higgstrt.tensor.DType;

import java.util.List;
import java.util.Locale;
import java.util.Optional;

/** Model geometries for synthetic checkpoints. */
public final class Presets {
    private Presets() {
    }

    /**
     * A model of seconds: 4 layers of width 64, GQA 4/2, 4 codebooks of 34 codes.
     *
     * @return a model of seconds: 4 layers of width 64, GQA 4/2, 4 codebooks of 34 codes
     */
    public static HiggsAudioConfig tiny() {
        return new HiggsAudioConfig(SourceLayout.TRANSFORMERS, 384, 64, 160, 4, 4, 2, 16, 1e-5, 512,
                RopeParameters.llama3(10000, 8, 1, 4, 64), 4, 34, List.of(381, 382), 32, 33,
                HiggsAudioConfig.allLayers(4), false, Optional.of(DType.BF16));
    }

    /**
     * A model for quick engine and reference runs: 8 layers of width 512, 8 codebooks of 1026.
     *
     * @return a model for quick engine and reference runs: 8 layers of width 512, 8 codebooks of 1026
     */
    public static HiggsAudioConfig small() {
        return new HiggsAudioConfig(SourceLayout.TRANSFORMERS, 8192, 512, 1536, 8, 8, 2, 64, 1e-5, 4096,
                RopeParameters.llama3(500000, 32, 1, 4, 8192), 8, 1026, List.of(8190, 8191), 1024, 1025,
                HiggsAudioConfig.allLayers(8), false, Optional.of(DType.BF16));
    }

    /**
     * The real geometry: Llama-3.2-3B (28 layers, 3072 wide, 24/8 heads) with 8 codebooks of 1026.
     *
     * @return the real geometry: Llama-3.2-3B (28 layers, 3072 wide, 24/8 heads) with 8 codebooks of 1026
     */
    public static HiggsAudioConfig full() {
        return new HiggsAudioConfig(SourceLayout.TRANSFORMERS, 128256, 3072, 8192, 28, 24, 8, 128, 1e-5, 131072,
                RopeParameters.llama3(500000, 32, 1, 4, 8192), 8, 1026, List.of(128014, 128016), 1024, 1025,
                HiggsAudioConfig.allLayers(28), false, Optional.of(DType.BF16));
    }

    /**
     * The preset called {@code name} ({@code tiny}, {@code small}, {@code full}).
     *
     * @param name the name
     * @return the preset called {@code name} ({@code tiny}, {@code small}, {@code full})
     */
    public static HiggsAudioConfig named(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "tiny" -> tiny();
            case "small" -> small();
            case "full" -> full();
            default -> throw new IllegalArgumentException("unknown preset '" + name + "' (tiny, small or full)");
        };
    }
}
