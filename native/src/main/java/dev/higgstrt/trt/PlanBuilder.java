package dev.higgstrt.trt;

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
 * definition created, are deleted before it returns, whether the build succeeded or not.
 */
final class PlanBuilder {
    /** Defines the network; returns the plugin instances it created (deleted after the build). */
    interface Definition {
        List<IPluginV3> define(INetworkDefinition network);
    }

    /** Adds the optimization profiles to the builder config. */
    interface Profiles {
        void add(IBuilder builder, IBuilderConfig config);
    }

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
     */
    static MemorySegment build(String what, DType dtype, long workspace, DualFfnPlugin plugin, Definition definition,
                               Profiles profiles, Arena planArena) {
        TrtLogger logger = new TrtLogger();
        IBuilder builder = nvinfer.createInferBuilder(logger);
        if (builder == null || builder.isNull()) {
            logger.close();
            throw new TrtException("createInferBuilder failed: " + logger.drainErrors());
        }
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
            profiles.add(builder, config);
            if (plugin != null) {
                plugin.clearError();
            }
            serialized = builder.buildSerializedNetwork(network, config);
            if (serialized == null || serialized.isNull()) {
                String pluginError = plugin == null ? "" : plugin.lastError();
                throw new TrtException("building " + what + " failed: " + logger.drainErrors()
                        + (pluginError.isEmpty() ? "" : " (dual-FFN plugin: " + pluginError + ")"));
            }
            MemorySegment plan = planArena.allocate(serialized.size(), 64);
            MemorySegment.copy(MemorySegment.ofAddress(serialized.data().address()).reinterpret(serialized.size()), 0,
                    plan, 0, serialized.size());
            return plan;
        } finally {
            TrtObjects.delete(serialized);
            TrtObjects.delete(config);
            TrtObjects.delete(network);
            TrtObjects.delete(builder);
            for (IPluginV3 p : plugins) {
                plugin.destroy(p);
            }
            logger.close();
        }
    }
}
