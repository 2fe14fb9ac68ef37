package dev.higgstrt.trt.plugin;

import dev.higgstrt.trt.tensorrt.TrtObjects;
import dev.higgstrt.trt.engine.HiggsNetwork;
import dev.higgstrt.trt.engine.PlanBuilder;

import dev.higgstrt.layout.SourceTensor;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.SourceLayout;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Tensor;
import dev.higgstrt.tensor.TensorSource;
import dev.higgstrt.weights.WeightMap;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.tensorrt.global.nvinfer.DataType;
import org.bytedeco.tensorrt.global.nvinfer.OptProfileSelector;
import org.bytedeco.tensorrt.nvinfer.IOptimizationProfile;
import org.bytedeco.tensorrt.nvinfer.IPluginV3;
import org.bytedeco.tensorrt.nvinfer.ITensor;
import org.bytedeco.tensorrt.nvinfer.Weights;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;

/** Networks around one plugin instance that a correct build must refuse. */
final class PluginNetworks {
    private PluginNetworks() {
    }

    /** The plugin told intermediate size I+1 while its FP32 weights have I. */
    static void buildWithWrongIntermediate(DualFfnPlugin plugin, HiggsAudioConfig c, WeightMap w) {
        build(plugin, c, w, DataType.kFLOAT, c.intermediateSize() + 1);
    }

    /** A hidden state of {@code type}, FP32 weights. */
    static void buildWithHiddenType(DualFfnPlugin plugin, HiggsAudioConfig c, WeightMap w, DataType type) {
        build(plugin, c, w, type, c.intermediateSize());
    }

    private static void build(DualFfnPlugin plugin, HiggsAudioConfig c, WeightMap w, DataType hiddenType, int claimedInter) {
        int h = c.hiddenSize();
        List<Object> keep = new ArrayList<>();
        try (Arena arena = Arena.ofShared()) {
            PlanBuilder.build("the probe network", DType.F32, 1L << 28, plugin, net -> {
                ITensor x = net.addInput("hidden", hiddenType, HiggsNetwork.dims(-1, h));
                ITensor mask = net.addInput("audio_mask", DataType.kBOOL, HiggsNetwork.dims(-1, 1));
                List<ITensor> in = new ArrayList<>(List.of(x, mask));
                SourceTensor[] order = {SourceTensor.POST_LN, SourceTensor.AUDIO_POST_LN, null, SourceTensor.DOWN,
                        SourceTensor.AUDIO_GATE, SourceTensor.AUDIO_UP, SourceTensor.AUDIO_DOWN};
                for (SourceTensor t : order) {
                    Tensor values = (t == null
                            ? TensorSource.concat(List.of(source(w, SourceTensor.GATE), source(w, SourceTensor.UP)), 0)
                            : source(w, t)).cast(DType.F32).materialize(arena);
                    var pointer = TrtObjects.address(values.data());
                    Weights wt = new Weights().type(DataType.kFLOAT).values(pointer).count(values.shape().elementCount());
                    keep.add(wt);
                    keep.add(pointer);
                    in.add(net.addConstant(HiggsNetwork.dims(values.shape().toArray()), wt).getOutput(0));
                }
                IPluginV3 instance = plugin.create("probe", h, claimedInter, 1e-5f, true);
                var layer = net.addPluginV3(new PointerPointer<ITensor>(in.toArray(new ITensor[0])), in.size(),
                        (PointerPointer<?>) null, 0, instance);
                net.markOutput(layer.getOutput(0));
                return List.of(instance);
            }, (builder, config) -> {
                IOptimizationProfile profile = builder.createOptimizationProfile();
                for (OptProfileSelector s : new OptProfileSelector[]{OptProfileSelector.kMIN, OptProfileSelector.kOPT, OptProfileSelector.kMAX}) {
                    profile.setDimensions("hidden", s, HiggsNetwork.dims(4, h));
                    profile.setDimensions("audio_mask", s, HiggsNetwork.dims(4, 1));
                }
                config.addOptimizationProfile(profile);
            }, arena);
        }
    }

    private static TensorSource source(WeightMap w, SourceTensor t) {
        return w.tensor(t.name(SourceLayout.TRANSFORMERS, 0));
    }
}
