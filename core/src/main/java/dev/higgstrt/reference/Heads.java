package dev.higgstrt.reference;

/** Which output heads a reference forward computes. */
public enum Heads {
    /** The audio head only (every codebook's logits). */
    AUDIO,
    /** The audio head and, where the model has one (its own or tied), the text head. */
    AUDIO_AND_TEXT
}
