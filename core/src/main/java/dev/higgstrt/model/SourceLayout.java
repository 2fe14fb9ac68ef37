package dev.higgstrt.model;

/** The checkpoint layouts a Higgs Audio v2 model comes in. */
public enum SourceLayout {
    /**
     * Hugging Face transformers ({@code model_type} {@code higgs_audio_v2}, architecture
     * {@code HiggsAudioV2ForConditionalGeneration}): flat config, keys under {@code model.}.
     */
    TRANSFORMERS("transformers"),
    /** Boson AI's original release ({@code model_type} {@code higgs_audio}): nested {@code text_config}. */
    BOSON("boson"),
    /** A TensorRT-LLM checkpoint folder written by this library ({@code rank{N}.safetensors}). */
    TRTLLM("trtllm");

    private final String id;

    SourceLayout(String id) {
        this.id = id;
    }

    /**
     * The name used on the command line and in config files.
     *
     * @return the name used on the command line and in config files
     */
    public String id() {
        return id;
    }

    /**
     * The layout called {@code id} ({@code transformers}, {@code boson}, {@code trtllm}).
     *
     * @param id the identifier
     * @return the layout called {@code id} ({@code transformers}, {@code boson}, {@code trtllm})
     */
    public static SourceLayout fromId(String id) {
        for (SourceLayout l : values()) {
            if (l.id.equalsIgnoreCase(id)) {
                return l;
            }
        }
        throw new IllegalArgumentException("unknown layout '" + id + "' (expected transformers, boson or trtllm)");
    }
}
