package dev.higgstrt.trt.plugin;

import dev.higgstrt.trt.engine.FfnMode;

import com.sun.jna.Native;
import org.junit.jupiter.api.Test;

import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The plugin library as the build produced it, without a GPU: it loads, and its C entry points answer. */
class DualFfnPluginLibraryTest {
    @Test
    void theBuiltLibraryLoadsAndExportsItsEntryPoints() throws Exception {
        URL url = DualFfnPlugin.class.getResource(DualFfnPlugin.RESOURCE);
        assumeTrue(url != null, "the plugin was not built here (no nvcc)");
        DualFfnPlugin.Lib lib = Native.load(Path.of(url.toURI()).toString(), DualFfnPlugin.Lib.class);
        assertThat(lib.higgs_dual_ffn_method_count()).isEqualTo(26);
        assertThat(lib.higgs_dual_ffn_method_name(0)).isEqualTo("IPluginCreatorV3One::createPlugin");
        assertThat(lib.higgs_dual_ffn_method_name(26)).isNull();
        assertThat(lib.higgs_dual_ffn_creator()).isNotNull();
        assertThat(lib.higgs_dual_ffn_live_plugins()).isZero();
        assertThat(lib.higgs_dual_ffn_small_tokens()).isEqualTo(2);
        byte[] message = new byte[1024];
        if (lib.higgs_dual_ffn_init(message, message.length) != 0) {
            assertThat(new String(message, StandardCharsets.UTF_8)).startsWith("cuBLAS 12 or 13 could not be loaded");
        }
    }

    @Test
    void ffnModesParseTheirIdsAndRefuseOthers() {
        for (FfnMode m : FfnMode.values()) {
            assertThat(FfnMode.parse(m.id())).isEqualTo(m);
        }
        assertThat(FfnMode.COMPUTE_BOTH.id()).isEqualTo("compute-both");
        assertThatThrownBy(() -> FfnMode.parse("both")).hasMessageContaining("unknown FFN mode 'both'");
    }
}
