package dev.higgstrt.trt.plugin;

import dev.higgstrt.trt.tensorrt.TrtException;

import com.sun.jna.Library;
import com.sun.jna.Native;
import org.bytedeco.tensorrt.global.nvinfer;
import org.bytedeco.tensorrt.nvinfer.IPluginCreatorV3One;
import org.bytedeco.tensorrt.nvinfer.IPluginV3;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * The linear TensorRT plugin ({@code HiggsLinear}, version 1, namespace {@code higgs_trt}), in the
 * same library as the {@link DualFfnPlugin}: {@code residual + RMSNorm(x) . W^T}, or one output per
 * weight for up to two weights that share the input (the paged engine passes q, k and v as one
 * stacked weight). Up to {@link #smallTokens()} tokens it runs one skinny kernel that reads each
 * weight row once for all tokens at close to the memory's read rate, the norm and the residual
 * inside it; from there on one cuBLAS GEMM per weight, the residual added by cuBLASLt where the
 * process has it. TensorRT's own GEMM, tuned for the profile's optimum token count, read
 * the attention projections at a third of that rate at one token.
 *
 * <p>Inputs: {@code x} [T, in], the weights [out_w, in], then the norm's inputs ({@link Norm}),
 * then the residual [T, out] where {@link Spec#residual()}; outputs [T, out_w]. Thread-safe.
 */
public final class LinearPlugin {
    static final String NAME = "HiggsLinear";

    /** The library's linear-plugin entry points. */
    interface Lib extends Library {
        com.sun.jna.Pointer higgs_linear_creator();

        int higgs_linear_last_error(byte[] message, int capacity);

        void higgs_linear_clear_error();

        long higgs_linear_live_plugins();

        long higgs_linear_enqueues();

        int higgs_linear_small_tokens();
    }

    /** How the input is normalised before the product. */
    public enum Norm {
        /** The input as it is. */
        NONE,
        /** RMSNorm with one weight [in] for every token (one input after the weights). */
        SHARED,
        /**
         * RMSNorm with each token's path's weight: inputs audio mask [T] or [T, 1] (BOOL or INT32),
         * text norm weight [in], audio norm weight [in].
         */
        PER_PATH
    }

    /**
     * What one plugin instance computes.
     *
     * @param inFeatures  the input width
     * @param outFeatures the rows of each weight, one or two (one output each)
     * @param norm        the input's normalisation
     * @param eps         the RMSNorm epsilon (ignored without a norm)
     * @param residual    whether a residual [T, out] is added (one weight only)
     */
    public record Spec(int inFeatures, List<Integer> outFeatures, Norm norm, float eps, boolean residual) {
        /** Checks the sizes and combinations; copies the list. */
        public Spec {
            outFeatures = List.copyOf(outFeatures);
            if (inFeatures <= 0 || outFeatures.isEmpty() || outFeatures.size() > 2 || outFeatures.stream().anyMatch(n -> n <= 0)) {
                throw new IllegalArgumentException("a linear plugin takes in_features > 0 and one or two out_features > 0, got "
                        + inFeatures + " and " + outFeatures);
            }
            if (residual && outFeatures.size() != 1) {
                throw new IllegalArgumentException("a residual needs exactly one weight, got " + outFeatures.size());
            }
            if (norm != Norm.NONE && !(eps > 0 && Float.isFinite(eps))) {
                throw new IllegalArgumentException("a normalised input needs eps > 0, got " + eps);
            }
        }

        /**
         * The inputs a layer of this spec takes: x, the weights, the norm's inputs, the residual.
         *
         * @return the count
         */
        public int inputCount() {
            return 1 + outFeatures.size() + switch (norm) {
                case NONE -> 0;
                case SHARED -> 1;
                case PER_PATH -> 3;
            } + (residual ? 1 : 0);
        }
    }

    private static LinearPlugin instance;

    private final Lib lib;
    private final IPluginCreatorV3One creator;

    private LinearPlugin(Lib lib, IPluginCreatorV3One creator) {
        this.lib = lib;
        this.creator = creator;
    }

    /**
     * The loaded and registered plugin.
     *
     * @return the plugin
     * @throws TrtException where the plugin library is unavailable ({@link DualFfnPlugin#unavailableReason()})
     *                      or TensorRT refuses the registration
     */
    public static synchronized LinearPlugin get() {
        if (instance == null) {
            Lib lib = Native.load(DualFfnPlugin.get().library().toString(), Lib.class);
            IPluginCreatorV3One creator = PluginFields.creatorAt(lib.higgs_linear_creator());
            if (creator.isNull() || !NAME.equals(creator.getPluginName())) {
                throw new TrtException("the plugin library carries no " + NAME + " plugin");
            }
            if (!nvinfer.getPluginRegistry().registerCreator(creator, DualFfnPlugin.NAMESPACE)) {
                throw new TrtException("TensorRT refused to register the plugin creator " + NAME);
            }
            instance = new LinearPlugin(lib, creator);
        }
        return instance;
    }

    /**
     * A plugin instance; the caller owns it (delete after the build).
     *
     * @param name the layer's name
     * @param spec what it computes
     * @return the instance
     * @throws TrtException naming what the plugin refused
     */
    public IPluginV3 create(String name, Spec spec) {
        try (Arena arena = Arena.ofConfined()) {
            int[] out = spec.outFeatures().stream().mapToInt(Integer::intValue).toArray();
            MemorySegment fields = PluginFields.of(arena,
                    PluginFields.field(arena, "in_features", arena.allocateFrom(ValueLayout.JAVA_INT, spec.inFeatures()), PluginFields.INT32),
                    PluginFields.field(arena, "out_features", arena.allocateFrom(ValueLayout.JAVA_INT, out), PluginFields.INT32, out.length),
                    PluginFields.field(arena, "norm", arena.allocateFrom(ValueLayout.JAVA_INT, spec.norm().ordinal()), PluginFields.INT32),
                    PluginFields.field(arena, "eps", arena.allocateFrom(ValueLayout.JAVA_FLOAT, spec.eps()), PluginFields.FLOAT32),
                    PluginFields.field(arena, "residual", arena.allocateFrom(ValueLayout.JAVA_INT, spec.residual() ? 1 : 0), PluginFields.INT32));
            lib.higgs_linear_clear_error();
            return PluginFields.create(creator, name, fields, "linear", this::lastError);
        }
    }

    /**
     * The token count up to which a call takes the skinny kernel.
     *
     * @return the count
     */
    public int smallTokens() {
        return lib.higgs_linear_small_tokens();
    }

    /**
     * The plugin's last error message, empty when none.
     *
     * @return the message
     */
    public String lastError() {
        return PluginFields.lastError(lib::higgs_linear_last_error);
    }

    /**
     * " (linear plugin: message)" when the loaded plugin has an error to report, else "".
     *
     * @return a note for messages
     */
    public static synchronized String errorNote() {
        return instance == null ? "" : PluginFields.errorNote("linear", instance.lastError());
    }

    /**
     * Plugin objects alive in this process.
     *
     * @return the count
     */
    public long livePlugins() {
        return lib.higgs_linear_live_plugins();
    }

    /**
     * Calls run in this process so far.
     *
     * @return the count
     */
    public long enqueues() {
        return lib.higgs_linear_enqueues();
    }
}
