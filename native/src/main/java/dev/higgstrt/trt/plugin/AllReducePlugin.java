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

/**
 * The all-reduce TensorRT plugin ({@code HiggsAllReduce}, version 1, namespace {@code higgs_trt}),
 * in the same library as the {@link DualFfnPlugin}: the sum over a tensor-parallel group after
 * each partial product. Its group is bound per execution context ({@link ReduceGroup}), never
 * stored in a plan. Thread-safe.
 */
public final class AllReducePlugin {
    static final String NAME = "HiggsAllReduce";

    /** The library's all-reduce entry points. */
    interface Lib extends Library {
        com.sun.jna.Pointer higgs_all_reduce_creator();

        int higgs_all_reduce_max_world();

        com.sun.jna.Pointer higgs_all_reduce_local_group(int world, long timeoutMs);

        com.sun.jna.Pointer higgs_all_reduce_nccl_group(int world, com.sun.jna.Pointer[] comms);

        void higgs_all_reduce_group_free(com.sun.jna.Pointer group);

        int higgs_all_reduce_bind(com.sun.jna.Pointer group, int rank);

        void higgs_all_reduce_unbind();

        int higgs_all_reduce_load_nccl();

        long higgs_all_reduce_nccl_calls();

        long higgs_all_reduce_local_calls();

        long higgs_all_reduce_live_plugins();

        int higgs_all_reduce_last_error(byte[] message, int capacity);

        void higgs_all_reduce_clear_error();

        void higgs_all_reduce_destroy(com.sun.jna.Pointer plugin);
    }

    private static AllReducePlugin instance;

    final Lib lib;
    private final IPluginCreatorV3One creator;

    private AllReducePlugin(Lib lib, IPluginCreatorV3One creator) {
        this.lib = lib;
        this.creator = creator;
    }

    /**
     * The loaded and registered plugin.
     *
     * @throws TrtException where the plugin library is unavailable ({@link DualFfnPlugin#unavailableReason()})
     *                      or TensorRT refuses the registration
     * @return the loaded and registered plugin
     */
    public static synchronized AllReducePlugin get() {
        if (instance == null) {
            Lib lib = Native.load(DualFfnPlugin.get().library().toString(), Lib.class);
            IPluginCreatorV3One creator = PluginFields.creatorAt(lib.higgs_all_reduce_creator());
            if (creator.isNull() || !NAME.equals(creator.getPluginName())) {
                throw new TrtException("the plugin library carries no " + NAME + " plugin");
            }
            if (!nvinfer.getPluginRegistry().registerCreator(creator, DualFfnPlugin.NAMESPACE)) {
                throw new TrtException("TensorRT refused to register the plugin creator " + NAME);
            }
            instance = new AllReducePlugin(lib, creator);
        }
        return instance;
    }

    /**
     * A plugin instance summing over {@code world} ranks; the caller owns it ({@link #destroy}).
     *
     * @param name  the name
     * @param world the world
     * @return a plugin instance summing over {@code world} ranks; the caller owns it ({@link #destroy})
     */
    public IPluginV3 create(String name, int world) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment w = arena.allocateFrom(ValueLayout.JAVA_INT, world);
            MemorySegment fields = PluginFields.of(arena, PluginFields.field(arena, "world", w, PluginFields.INT32));
            lib.higgs_all_reduce_clear_error();
            return PluginFields.create(creator, name, fields, "all-reduce", this::lastError);
        }
    }

    void destroy(IPluginV3 plugin) {
        if (plugin != null && !plugin.isNull()) {
            lib.higgs_all_reduce_destroy(new com.sun.jna.Pointer(plugin.address()));
            plugin.setNull();
        }
    }

    /**
     * The plugin's last error message, empty when none.
     *
     * @return the plugin's last error message, empty when none
     */
    public String lastError() {
        return PluginFields.lastError(lib::higgs_all_reduce_last_error);
    }

    /**
     * " (all-reduce plugin: message)" when the loaded plugin has an error to report, else "".
     *
     * @return a note for messages, or "" without an error
     */
    public static synchronized String errorNote() {
        return instance == null ? "" : PluginFields.errorNote("all-reduce", instance.lastError());
    }

    /**
     * Sums run through NCCL in this process so far.
     *
     * @return sums run through NCCL in this process so far
     */
    public long ncclCalls() {
        return lib.higgs_all_reduce_nccl_calls();
    }

    /**
     * Sums run by in-process groups in this process so far (counted once per rank).
     *
     * @return sums run by in-process groups in this process so far (counted once per rank)
     */
    public long localCalls() {
        return lib.higgs_all_reduce_local_calls();
    }
}
