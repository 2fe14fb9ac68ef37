package dev.higgstrt.trt.plugin;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** What the GPU tests that build with the dual-FFN plugin share: the skip where its library cannot be used. */
public final class PluginTests {
    private PluginTests() {
    }

    /**
     * Skips the calling test where the dual-FFN plugin is unavailable, saying "{@code what} skipped: " and why.
     *
     * @param what what is skipped, for the message
     */
    public static void requireDualFfnPlugin(String what) {
        assumeTrue(DualFfnPlugin.isAvailable(), () -> what + " skipped: " + DualFfnPlugin.unavailableReason().orElse(""));
    }
}
