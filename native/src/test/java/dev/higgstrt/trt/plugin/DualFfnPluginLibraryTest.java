package dev.higgstrt.trt.plugin;

import dev.higgstrt.trt.engine.FfnMode;

import com.sun.jna.Native;
import org.junit.jupiter.api.Test;

import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The plugin library as the build produced it, without a GPU: it loads, and its C entry points answer; the linear plugin's specs. */
class DualFfnPluginLibraryTest {
    @Test
    void theBuiltLibraryLoadsAndExportsItsEntryPoints() throws Exception {
        DualFfnPlugin.Lib lib = builtLibrary(DualFfnPlugin.Lib.class);
        assertThat(lib.higgs_dual_ffn_method_count()).isEqualTo(26);
        assertThat(lib.higgs_dual_ffn_method_name(0)).isEqualTo("IPluginCreatorV3One::createPlugin");
        assertThat(lib.higgs_dual_ffn_method_name(26)).isNull();
        assertThat(lib.higgs_dual_ffn_creator()).isNotNull();
        assertThat(lib.higgs_dual_ffn_live_plugins()).isZero();
        assertThat(lib.higgs_dual_ffn_small_tokens()).isEqualTo(2);
        assertThat(lib.higgs_dual_ffn_batched_gemms()).as("no GEMM without a GPU").isZero();
        byte[] message = new byte[1024];
        if (lib.higgs_dual_ffn_init(message, message.length) != 0) {
            assertThat(new String(message, StandardCharsets.UTF_8)).startsWith("cuBLAS 12 or 13 could not be loaded");
        }
    }

    @Test
    void theDependentLaunchMaskStartsWithTheDefaultKeepsItsBitsAndReturnsThePrevious() throws Exception {
        assumeTrue(System.getenv("HIGGS_TRT_PDL") == null, "HIGGS_TRT_PDL sets the starting mask");
        DualFfnPlugin.Lib lib = builtLibrary(DualFfnPlugin.Lib.class);
        int start = lib.higgs_set_dependent_launch(DualFfnPlugin.DEPENDENT_ATTENTION);
        try {
            assertThat(start).isEqualTo(DualFfnPlugin.DEPENDENT_DEFAULT);
            assertThat(start & (DualFfnPlugin.DEPENDENT_EARLY_ATTENTION | DualFfnPlugin.DEPENDENT_EARLY_WEIGHTS))
                    .as("the early bits are not measured to help: off by default").isZero();
            assertThat(lib.higgs_set_dependent_launch(0xff)).isEqualTo(DualFfnPlugin.DEPENDENT_ATTENTION);
            assertThat(lib.higgs_set_dependent_launch(0)).as("bits beyond the six kinds dropped")
                    .isEqualTo(DualFfnPlugin.DEPENDENT_ALL);
        } finally {
            lib.higgs_set_dependent_launch(start);
        }
    }

    @Test
    void theDecodeKernelSwitchStartsOnAndReturnsThePrevious() throws Exception {
        assumeTrue(System.getenv("HIGGS_TRT_DECODE_KERNEL") == null, "HIGGS_TRT_DECODE_KERNEL sets the start");
        PagedAttentionPlugin.Lib lib = builtLibrary(PagedAttentionPlugin.Lib.class);
        assertThat(lib.higgs_paged_attention_set_decode_kernel(0)).isEqualTo(1);
        assertThat(lib.higgs_paged_attention_set_decode_kernel(1)).isZero();
        assertThat(lib.higgs_paged_attention_set_decode_kernel(1)).isEqualTo(1);
    }

    @Test
    void theWideDecodeSwitchAndTheDecodeClusterCapReturnThePreviousAndStayInRange() throws Exception {
        assumeTrue(System.getenv("HIGGS_TRT_DECODE_WIDE") == null && System.getenv("HIGGS_TRT_DECODE_CLUSTER") == null,
                "the environment sets the starting values");
        PagedAttentionPlugin.Lib lib = builtLibrary(PagedAttentionPlugin.Lib.class);
        assertThat(lib.higgs_paged_attention_set_decode_wide(0)).isEqualTo(1);
        assertThat(lib.higgs_paged_attention_set_decode_wide(7)).isZero();
        assertThat(lib.higgs_paged_attention_set_decode_wide(1)).isEqualTo(1);
        assertThat(lib.higgs_paged_attention_set_decode_cluster(3)).as("the portable cluster size").isEqualTo(8);
        assertThat(lib.higgs_paged_attention_set_decode_cluster(99)).isEqualTo(3);
        assertThat(lib.higgs_paged_attention_set_decode_cluster(0)).as("99 kept as 8").isEqualTo(8);
        assertThat(lib.higgs_paged_attention_set_decode_cluster(8)).as("0 kept as 1").isEqualTo(1);
    }

    @Test
    void theLinearPluginsEntryPointsAnswerWithoutAGpu() throws Exception {
        LinearPlugin.Lib lib = builtLibrary(LinearPlugin.Lib.class);
        assertThat(lib.higgs_linear_creator()).isNotNull();
        assertThat(lib.higgs_linear_small_tokens()).isEqualTo(1);
        assertThat(lib.higgs_linear_live_plugins()).isZero();
    }

    @Test
    void linearSpecsRefuseWhatThePluginCannotRun() {
        var spec = new LinearPlugin.Spec(3072, List.of(3072, 2048), LinearPlugin.Norm.PER_PATH, 1e-5f, false);
        assertThat(spec.inputCount()).isEqualTo(1 + 2 + 3);
        assertThat(new LinearPlugin.Spec(3072, List.of(3072), LinearPlugin.Norm.NONE, 0f, true).inputCount()).isEqualTo(3);
        assertThat(new LinearPlugin.Spec(3072, List.of(8208), LinearPlugin.Norm.SHARED, 1e-5f, false).inputCount()).isEqualTo(3);
        assertThatThrownBy(() -> new LinearPlugin.Spec(3072, List.of(3072, 1024), LinearPlugin.Norm.NONE, 0f, true))
                .hasMessageContaining("a residual needs exactly one weight, got 2");
        assertThatThrownBy(() -> new LinearPlugin.Spec(3072, List.of(1, 2, 3), LinearPlugin.Norm.NONE, 0f, false))
                .hasMessageContaining("one or two out_features > 0");
        assertThatThrownBy(() -> new LinearPlugin.Spec(0, List.of(16), LinearPlugin.Norm.NONE, 0f, false))
                .hasMessageContaining("in_features > 0");
        assertThatThrownBy(() -> new LinearPlugin.Spec(16, List.of(16), LinearPlugin.Norm.SHARED, Float.NaN, false))
                .hasMessageContaining("needs eps > 0, got NaN");
    }

    @Test
    void ffnModesParseTheirIdsAndRefuseOthers() {
        for (FfnMode m : FfnMode.values()) {
            assertThat(FfnMode.parse(m.id())).isEqualTo(m);
        }
        assertThat(FfnMode.COMPUTE_BOTH.id()).isEqualTo("compute-both");
        assertThatThrownBy(() -> FfnMode.parse("both")).hasMessageContaining("unknown FFN mode 'both'");
    }

    /** The plugin library the build made, bound as {@code type}; the test is skipped where none was built. */
    private static <L extends com.sun.jna.Library> L builtLibrary(Class<L> type) throws Exception {
        URL url = DualFfnPlugin.class.getResource(DualFfnPlugin.RESOURCE);
        assumeTrue(url != null, "the plugin was not built here (no nvcc)");
        return Native.load(Path.of(url.toURI()).toString(), type);
    }
}
