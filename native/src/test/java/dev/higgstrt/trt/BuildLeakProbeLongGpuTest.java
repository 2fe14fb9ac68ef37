package dev.higgstrt.trt;

import org.bytedeco.tensorrt.global.nvinfer;
import org.bytedeco.tensorrt.global.nvinfer.DataType;
import org.bytedeco.tensorrt.global.nvinfer.ElementWiseOperation;
import org.bytedeco.tensorrt.global.nvinfer.NetworkDefinitionCreationFlag;
import org.bytedeco.tensorrt.nvinfer.IBuilder;
import org.bytedeco.tensorrt.nvinfer.IBuilderConfig;
import org.bytedeco.tensorrt.nvinfer.IHostMemory;
import org.bytedeco.tensorrt.nvinfer.INetworkDefinition;
import org.bytedeco.tensorrt.nvinfer.ITensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Where device memory goes in repeated builds: builder objects alone, a trivial network built by
 * a fresh builder each time, and the same by one reused builder. Prints the drift of each phase
 * (a diagnostic for docs/reliability; run with {@code scripts/gpu-test.sh run gpu-long}).
 */
@Tag("gpu-long")
class BuildLeakProbeLongGpuTest {
    private static final int CYCLES = 12;

    @Test
    void reportDriftPerPhase() {
        GpuEnvironment env = GpuEnvironment.probe();
        assumeTrue(env.usable(), () -> "GPU tests skipped: " + env.missing());
        TrtLogger logger = new TrtLogger();
        // warm-up: the first build loads kernel libraries once per process
        IBuilder warm = nvinfer.createInferBuilder(logger);
        buildTrivial(warm);
        TrtObjects.delete(warm);

        long start = DeviceMemory.free();
        for (int i = 0; i < CYCLES; i++) {
            IBuilder b = nvinfer.createInferBuilder(logger);
            TrtObjects.delete(b);
        }
        long afterBuilders = DeviceMemory.free();
        for (int i = 0; i < CYCLES; i++) {
            IBuilder b = nvinfer.createInferBuilder(logger);
            buildTrivial(b);
            TrtObjects.delete(b);
        }
        long afterFresh = DeviceMemory.free();
        IBuilder shared = nvinfer.createInferBuilder(logger);
        buildTrivial(shared);
        long sharedStart = DeviceMemory.free();
        for (int i = 0; i < CYCLES; i++) {
            buildTrivial(shared);
        }
        long afterShared = DeviceMemory.free();
        TrtObjects.delete(shared);
        System.out.printf("GPU drift over %d cycles (MB): builder create/delete %d; trivial build, fresh builder %d; "
                        + "trivial build, one reused builder %d%n", CYCLES, (start - afterBuilders) >> 20,
                (afterBuilders - afterFresh) >> 20, (sharedStart - afterShared) >> 20);
        logger.close();
    }

    private static void buildTrivial(IBuilder builder) {
        INetworkDefinition net = builder.createNetworkV2(1 << NetworkDefinitionCreationFlag.kSTRONGLY_TYPED.value);
        ITensor x = net.addInput("x", DataType.kFLOAT, HiggsNetwork.dims(4, 8));
        ITensor y = net.addElementWise(x, x, ElementWiseOperation.kSUM).getOutput(0);
        y.setName("y");
        net.markOutput(y);
        IBuilderConfig config = builder.createBuilderConfig();
        IHostMemory plan = builder.buildSerializedNetwork(net, config);
        if (plan == null || plan.isNull()) {
            throw new TrtException("trivial build failed");
        }
        TrtObjects.delete(plan);
        TrtObjects.delete(config);
        TrtObjects.delete(net);
    }
}
