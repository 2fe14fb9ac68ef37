package dev.higgstrt.generation;

import java.util.Locale;

/** Why a generation ended. */
public enum FinishReason {
    /** The stream closed: the last frame is all EOS. */
    STOP,
    /** The frame limit or the session's room was reached first. */
    LENGTH,
    /** The caller cancelled it. */
    CANCELLED;

    /**
     * The name in JSON and on the command line.
     *
     * @return {@code stop}, {@code length} or {@code cancelled}
     */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }
}
