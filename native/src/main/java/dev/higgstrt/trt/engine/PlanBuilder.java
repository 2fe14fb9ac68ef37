package dev.higgstrt.trt.engine;

import dev.higgstrt.trt.plugin.AllReducePlugin;
import dev.higgstrt.trt.plugin.PagedAttentionPlugin;
import dev.higgstrt.trt.plugin.LinearPlugin;
import dev.higgstrt.trt.plugin.DualFfnPlugin;
import dev.higgstrt.trt.plugin.PluginFields;
import dev.higgstrt.trt.tensorrt.TrtException;
import dev.higgstrt.trt.tensorrt.TrtLogger;
import dev.higgstrt.trt.tensorrt.TrtObjects;

import dev.higgstrt.tensor.DType;
import org.bytedeco.tensorrt.global.nvinfer;
import org.bytedeco.tensorrt.global.nvinfer.BuilderFlag;
import org.bytedeco.tensorrt.global.nvinfer.MemoryPoolType;
import org.bytedeco.tensorrt.global.nvinfer.NetworkDefinitionCreationFlag;
import org.bytedeco.tensorrt.nvinfer.IBuilder;
import org.bytedeco.tensorrt.nvinfer.IBuilderConfig;
import org.bytedeco.tensorrt.nvinfer.IHostMemory;
import org.bytedeco.tensorrt.nvinfer.INetworkDefinition;
import org.bytedeco.tensorrt.nvinfer.IPluginV3;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * One TensorRT build: a strongly typed network defined by the caller, built into a serialized
 * plan that is copied off-heap. Every TensorRT object of the build, and the plugin instances the
 * definition created, are deleted before it returns, whether the build succeeded or not; only the
 * builder itself is kept for the next build (see {@link #releaseBuilder()}).
 */
public final class PlanBuilder {
    /** Defines the network; returns the plugin instances it created (deleted after the build). */
    public interface Definition {
        /**
         * Adds the layers and inputs of a network.
         *
         * @param network the empty network
         * @return the plugin instances created, destroyed after the build
         */
        List<IPluginV3> define(INetworkDefinition network);
    }

    /** Adds the optimization profiles to the builder config. */
    public interface Profiles {
        /**
         * Adds the optimization profiles.
         *
         * @param builder creates the profiles
         * @param config  receives them
         */
        void add(IBuilder builder, IBuilderConfig config);
    }

    /**
     * System property: TensorRT's builder optimization level (0 to 5, TensorRT's default 3). 0
     * builds in a fraction of the time with slower kernels: for tests that build many engines.
     */
    static final String OPTIMIZATION_LEVEL_PROPERTY = "higgs.trt.builderOptimizationLevel";

    /** Time the last createInferBuilder and buildSerializedNetwork took (for the build-cycle measurements). */
    static volatile long lastCreateNanos;
    static volatile long lastBuildNanos;

    private PlanBuilder() {
    }

    /**
     * Builds the plan.
     *
     * @param what      what is built, for error messages ("the engine")
     * @param dtype     the compute dtype (FP32 turns TF32 off)
     * @param workspace TensorRT's workspace pool limit in bytes
     * @param plugin    the dual-FFN plugin the definition uses, or null; its error joins a failed build's message
     * @param planArena where the plan is copied
     * @param definition the definition
     * @param profiles   the profiles
     * @return the plan
     */
    public static MemorySegment build(String what, DType dtype, long workspace, DualFfnPlugin plugin, Definition definition,
                               Profiles profiles, Arena planArena) {
        synchronized (PlanBuilder.class) {
            return buildLocked(what, dtype, workspace, plugin, definition, profiles, planArena);
        }
    }

    /**
     * The process's TensorRT builder, created on first use and kept: creating one costs about 5 s
     * (TensorRT loads its builder resources each time), more than building a small engine. Builds
     * are serialized on it.
     */
    private static IBuilder builder;
    private static TrtLogger builderLogger;

    /** Deletes the kept builder (a later build creates a new one). */
    static synchronized void releaseBuilder() {
        if (builder != null) {
            TrtObjects.delete(builder);
            builderLogger.close();
            builder = null;
            builderLogger = null;
        }
    }

    private static MemorySegment buildLocked(String what, DType dtype, long workspace, DualFfnPlugin plugin, Definition definition,
                                             Profiles profiles, Arena planArena) {
        if (builder == null) {
            TrtLogger logger = new TrtLogger();
            long t0 = System.nanoTime();
            IBuilder created = nvinfer.createInferBuilder(logger);
            lastCreateNanos = System.nanoTime() - t0;
            if (created == null || created.isNull()) {
                String errors = logger.drainErrors();
                logger.close();
                throw new TrtException("createInferBuilder failed: " + errors);
            }
            builder = created;
            builderLogger = logger;
        } else {
            lastCreateNanos = 0;
        }
        TrtLogger logger = builderLogger;
        logger.drainErrors();
        INetworkDefinition network = null;
        IBuilderConfig config = null;
        IHostMemory serialized = null;
        List<IPluginV3> plugins = List.of();
        try {
            network = builder.createNetworkV2(1 << NetworkDefinitionCreationFlag.kSTRONGLY_TYPED.value);
            plugins = definition.define(network);
            config = builder.createBuilderConfig();
            config.setMemoryPoolLimit(MemoryPoolType.kWORKSPACE, workspace);
            if (dtype == DType.F32) {
                config.clearFlag(BuilderFlag.kTF32);
            }
            Integer level = Integer.getInteger(OPTIMIZATION_LEVEL_PROPERTY);
            if (level != null) {
                config.setBuilderOptimizationLevel(level);
            }
            profiles.add(builder, config);
            if (plugin != null) {
                plugin.clearError();
            }
            long t1 = System.nanoTime();
            serialized = builder.buildSerializedNetwork(network, config);
            lastBuildNanos = System.nanoTime() - t1;
            if (serialized == null || serialized.isNull()) {
                String pluginError = plugin == null ? "" : plugin.lastError();
                throw new TrtException("building " + what + " failed: " + logger.drainErrors()
                        + PluginFields.errorNote("dual-FFN", pluginError) + AllReducePlugin.errorNote()
                        + PagedAttentionPlugin.errorNote() + LinearPlugin.errorNote());
            }
            MemorySegment plan = planArena.allocate(serialized.size(), 64);
            MemorySegment.copy(MemorySegment.ofAddress(serialized.data().address()).reinterpret(serialized.size()), 0,
                    plan, 0, serialized.size());
            return plan;
        } finally {
            TrtObjects.delete(serialized);
            TrtObjects.delete(config);
            TrtObjects.delete(network);
            for (IPluginV3 p : plugins) {
                destroy(p);
            }
        }
    }

    /**
     * Deletes a plugin instance that a definition created, of either plugin of the library (both
     * are deleted through IPluginV3's virtual destructor).
     */
    static void destroy(IPluginV3 instance) {
        DualFfnPlugin.get().destroy(instance);
    }
}
