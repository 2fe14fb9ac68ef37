package dev.higgstrt.trt.codec;

import dev.higgstrt.audio.CodecConfig;
import dev.higgstrt.audio.CodecDecoder;
import dev.higgstrt.audio.CodecWeights;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.Tensor;
import dev.higgstrt.trt.engine.HiggsNetwork;
import dev.higgstrt.trt.tensorrt.TrtException;
import dev.higgstrt.trt.tensorrt.TrtObjects;
import org.bytedeco.tensorrt.global.nvinfer.DataType;
import org.bytedeco.tensorrt.global.nvinfer.ElementWiseOperation;
import org.bytedeco.tensorrt.global.nvinfer.ReduceOperation;
import org.bytedeco.tensorrt.global.nvinfer.UnaryOperation;
import org.bytedeco.tensorrt.nvinfer.Dims64;
import org.bytedeco.tensorrt.nvinfer.IConvolutionLayer;
import org.bytedeco.tensorrt.nvinfer.INetworkDefinition;
import org.bytedeco.tensorrt.nvinfer.IShuffleLayer;
import org.bytedeco.tensorrt.nvinfer.ITensor;
import org.bytedeco.tensorrt.nvinfer.Permutation;
import org.bytedeco.tensorrt.nvinfer.Weights;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;

/**
 * The codec decoder as a strongly typed network: {@code codes} INT32 [K, T] in, {@code audio}
 * FLOAT [1, 1, 1, T * samplesPerFrame] out. The quantizer lookups and {@code fc2} are linear, so
 * they are folded on the host into one table a quantizer ({@code fc2(project_out(embed))},
 * [codebookSize, acoustic]), gathered and summed in FP32; the convolutions run in the compute
 * dtype as 2-D convolutions of height 1, Snake as elementwise layers, and each transposed
 * convolution as a 3-wide convolution of its output phases, interleaved (exactly {@code stride}
 * samples a sample, as transformers' output padding of {@code stride mod 2} gives).
 */
final class CodecNetwork {
    static final String CODES = "codes";
    static final String AUDIO = "audio";

    private final INetworkDefinition net;
    private final CodecWeights w;
    private final CodecConfig c;
    private final DType dtype;
    private final DataType type;
    private final Arena arena;
    private final List<Object> keepAlive = new ArrayList<>();

    private CodecNetwork(INetworkDefinition net, CodecWeights w, DType dtype, Arena arena) {
        this.net = net;
        this.w = w;
        this.c = w.config();
        this.dtype = dtype;
        this.type = switch (dtype) {
            case F32 -> DataType.kFLOAT;
            case F16 -> DataType.kHALF;
            case BF16 -> DataType.kBF16;
            default -> throw new IllegalArgumentException("codec engine dtype must be float32, float16 or bfloat16, got " + dtype);
        };
        this.arena = arena;
    }

    /** Defines the network; weights are copied into {@code arena}, which must stay open until the build ends. */
    static void define(INetworkDefinition net, CodecWeights w, DType dtype, Arena arena) {
        new CodecNetwork(net, w, dtype, arena).define();
    }

    private void define() {
        int k = c.numQuantizers();
        int acoustic = c.acousticHiddenSize();
        ITensor codes = net.addInput(CODES, DataType.kINT32, HiggsNetwork.dims(k, -1));
        int[] offsets = new int[k];
        for (int q = 0; q < k; q++) {
            offsets[q] = q * c.codebookSize();
        }
        ITensor rows = op(codes, intConstant(offsets, HiggsNetwork.dims(k, 1)), ElementWiseOperation.kSUM);
        ITensor perQuantizer = net.addGather(floatConstant(foldedTables(), DataType.kFLOAT,
                (long) k * c.codebookSize(), acoustic), rows, 0).getOutput(0);               // [K, T, acoustic]
        ITensor latent = net.addReduce(perQuantizer, ReduceOperation.kSUM, 1, false).getOutput(0);   // [T, acoustic]
        latent = op(latent, floatConstant(w.fc2().bias(), DataType.kFLOAT, 1, acoustic), ElementWiseOperation.kSUM);
        IShuffleLayer nchw = net.addShuffle(latent);
        nchw.setFirstTranspose(permutation(1, 0));
        nchw.setReshapeDimensions(HiggsNetwork.dims(1, acoustic, 1, -1));
        ITensor x = cast(nchw.getOutput(0), type);
        x = conv(x, w.conv1(), 1, 3);
        for (CodecWeights.Block b : w.blocks()) {
            x = snake(x, b.snake());
            x = convTranspose(x, b.convT(), b.stride());
            for (CodecWeights.ResidualUnit u : b.units()) {
                ITensor y = conv(snake(x, u.snake1()), u.conv1(), u.dilation(), 3 * u.dilation());
                y = conv(snake(y, u.snake2()), u.conv2(), 1, 0);
                x = op(x, y, ElementWiseOperation.kSUM);
            }
        }
        x = conv(snake(x, w.finalSnake()), w.conv2(), 1, 3);
        ITensor out = cast(x, DataType.kFLOAT);
        out.setName(AUDIO);
        net.markOutput(out);
    }

    /** Per quantizer q and code i: fc2.W (project_out.W embed_q[i] + project_out.b), in double, as floats [K * codes, acoustic]. */
    private float[] foldedTables() {
        int k = c.numQuantizers();
        int codes = c.codebookSize();
        int dim = c.codebookDim();
        int hidden = c.hiddenSize();
        int acoustic = c.acousticHiddenSize();
        float[] out = new float[k * codes * acoustic];
        float[] w2 = w.fc2().weight();
        java.util.stream.IntStream.range(0, k * codes).parallel().forEach(row -> {
            int q = row / codes;
            int code = row % codes;
            CodecWeights.Quantizer quantizer = w.quantizers().get(q);
            float[] e = quantizer.embed();
            float[] pw = quantizer.projectOut().weight();
            float[] pb = quantizer.projectOut().bias();
            double[] h = new double[hidden];
            for (int o = 0; o < hidden; o++) {
                double s = pb[o];
                for (int i = 0; i < dim; i++) {
                    s += (double) pw[o * dim + i] * e[code * dim + i];
                }
                h[o] = s;
            }
            for (int a = 0; a < acoustic; a++) {
                double s = 0;
                for (int o = 0; o < hidden; o++) {
                    s += w2[a * hidden + o] * h[o];
                }
                out[row * acoustic + a] = (float) s;
            }
        });
        return out;
    }

    private ITensor snake(ITensor x, CodecWeights.Snake s) {
        float[] alpha = s.alpha();
        float[] inv = new float[alpha.length];
        for (int i = 0; i < alpha.length; i++) {
            inv[i] = 1f / (alpha[i] + 1e-9f);
        }
        ITensor a = floatConstant(alpha, type, 1, alpha.length, 1, 1);
        ITensor sin = net.addUnary(op(x, a, ElementWiseOperation.kPROD), UnaryOperation.kSIN).getOutput(0);
        ITensor sq = op(sin, sin, ElementWiseOperation.kPROD);
        return op(x, op(sq, floatConstant(inv, type, 1, inv.length, 1, 1), ElementWiseOperation.kPROD), ElementWiseOperation.kSUM);
    }

    private ITensor conv(ITensor x, CodecWeights.Conv cw, int dilation, int pad) {
        IConvolutionLayer layer = net.addConvolutionNd(x, cw.out(), HiggsNetwork.dims(1, cw.kernel()),
                weights(cw.weight(), type), weights(cw.bias(), type));
        if (layer == null || layer.isNull()) {
            throw new TrtException("adding a convolution of " + cw.in() + " -> " + cw.out() + " channels failed");
        }
        layer.setPaddingNd(HiggsNetwork.dims(0, pad));
        layer.setDilationNd(HiggsNetwork.dims(1, dilation));
        return layer.getOutput(0);
    }

    /**
     * The transposed convolution as a 3-wide convolution of its phases ({@link
     * CodecDecoder#polyphase}), then the phases interleaved: TensorRT 10.6 has no BF16
     * deconvolution, and one formulation serves every dtype.
     */
    private ITensor convTranspose(ITensor x, CodecWeights.Conv cw, int stride) {
        ITensor phases = conv(x, CodecDecoder.polyphase(cw, stride), 1, 1);     // [1, out * s, 1, T]
        IShuffleLayer split = net.addShuffle(phases);
        split.setReshapeDimensions(HiggsNetwork.dims(1, cw.out(), stride, -1));   // [1, out, s, T]
        split.setSecondTranspose(permutation(0, 1, 3, 2));                        // [1, out, T, s]
        IShuffleLayer joined = net.addShuffle(split.getOutput(0));
        joined.setReshapeDimensions(HiggsNetwork.dims(1, cw.out(), 1, -1));
        return joined.getOutput(0);
    }

    private Weights weights(float[] values, DataType t) {
        DType d = t == DataType.kFLOAT ? DType.F32 : dtype;
        Tensor tensor = Tensor.fromFloats(d, Shape.of(values.length), values, arena);
        var pointer = TrtObjects.address(tensor.data());
        Weights wt = new Weights().type(t).values(pointer).count(values.length);
        keepAlive.add(pointer);
        keepAlive.add(wt);
        keepAlive.add(tensor);
        return wt;
    }

    private ITensor floatConstant(float[] values, DataType t, long... dims) {
        return net.addConstant(HiggsNetwork.dims(dims), weights(values, t)).getOutput(0);
    }

    private ITensor intConstant(int[] values, Dims64 d) {
        Tensor t = Tensor.allocate(DType.I32, Shape.of(values.length), arena);
        for (int i = 0; i < values.length; i++) {
            t.data().set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, i * 4L, values[i]);
        }
        var pointer = TrtObjects.address(t.data());
        Weights wt = new Weights().type(DataType.kINT32).values(pointer).count(values.length);
        keepAlive.add(pointer);
        keepAlive.add(wt);
        keepAlive.add(t);
        return net.addConstant(d, wt).getOutput(0);
    }

    private ITensor op(ITensor a, ITensor b, ElementWiseOperation o) {
        return net.addElementWise(a, b, o).getOutput(0);
    }

    private ITensor cast(ITensor t, DataType to) {
        return t.getType() == to ? t : net.addCast(t, to).getOutput(0);
    }

    private static Permutation permutation(int... order) {
        Permutation p = new Permutation();
        for (int i = 0; i < order.length; i++) {
            p.order(i, order[i]);
        }
        return p;
    }
}
