package dev.higgstrt.audio;

import dev.higgstrt.audio.CodecWeights.Block;
import dev.higgstrt.audio.CodecWeights.Conv;
import dev.higgstrt.audio.CodecWeights.Linear;
import dev.higgstrt.audio.CodecWeights.ResidualUnit;
import dev.higgstrt.audio.CodecWeights.Snake;
import dev.higgstrt.model.ConfigException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.stream.IntStream;

/**
 * The codec's decoder on the CPU, in float32: the numerics oracle for the codec engine, and a
 * decoder in its own right. For codes [K][T]: per frame the sum over quantizers of the codebook
 * entry's projection, {@code fc2}, then the DAC decoder (a 7-wide convolution; per block Snake,
 * a transposed convolution upsampling by its ratio and three residual units; Snake and a 7-wide
 * convolution to one channel), as transformers' {@code HiggsAudioV2TokenizerModel.decode} with
 * no final tanh: T frames give {@code T * samplesPerFrame} samples, not clamped. Thread-safe:
 * a decoder holds only its weights; the convolutions run on the common fork-join pool.
 */
public final class CodecDecoder implements AudioDecoder {
    /** Work (multiply-adds) below which a convolution runs on the calling thread. */
    private static final long PARALLEL_WORK = 1 << 20;
    private final CodecWeights weights;
    private final CodecConfig config;

    /**
     * A decoder of these weights.
     *
     * @param weights the codec's decode weights
     */
    public CodecDecoder(CodecWeights weights) {
        this.weights = weights;
        this.config = weights.config();
    }

    /**
     * Reads a codec folder (config.json and its safetensors) into a decoder.
     *
     * @param folder the codec folder
     * @return the decoder
     * @throws IOException     when a file cannot be read
     * @throws ConfigException when the config or a weight is wrong, naming it
     */
    public static CodecDecoder load(Path folder) throws IOException {
        return new CodecDecoder(CodecWeights.load(folder, CodecConfig.read(folder)));
    }

    /**
     * The codec's geometry.
     *
     * @return the config
     */
    @Override
    public CodecConfig config() {
        return config;
    }

    /**
     * Checks codes for decoding: one row per quantizer, every row as long and at least one
     * frame, every code in [0, codebookSize).
     *
     * @param codes codes [K][T]
     * @throws IllegalArgumentException naming the codebook, frame and code that are wrong
     */
    public void check(int[][] codes) {
        check(config, codes);
    }

    /**
     * Checks codes for a codec of this geometry (see {@link #check(int[][])}).
     *
     * @param config the codec's geometry
     * @param codes  codes [K][T]
     * @throws IllegalArgumentException naming the codebook, frame and code that are wrong
     */
    public static void check(CodecConfig config, int[][] codes) {
        if (codes.length != config.numQuantizers()) {
            throw new IllegalArgumentException("codes have " + codes.length + " codebooks, the codec has "
                    + config.numQuantizers());
        }
        int frames = codes[0].length;
        if (frames == 0) {
            throw new IllegalArgumentException("codes have no frames: nothing to decode");
        }
        for (int q = 0; q < codes.length; q++) {
            if (codes[q].length != frames) {
                throw new IllegalArgumentException("codebook " + q + " has " + codes[q].length + " frames, codebook 0 has " + frames);
            }
            for (int t = 0; t < frames; t++) {
                int c = codes[q][t];
                if (c < 0 || c >= config.codebookSize()) {
                    throw new IllegalArgumentException("code " + c + " of codebook " + q + " at frame " + t + " is out of range [0, "
                            + config.codebookSize() + ")");
                }
            }
        }
    }

    /**
     * Decodes codes to samples.
     *
     * @param codes codes [K][T], checked by {@link #check}
     * @return {@code T * samplesPerFrame} samples at the codec's sample rate, not clamped
     */
    @Override
    public float[] decode(int[][] codes) {
        check(codes);
        int frames = codes[0].length;
        float[][] x = latent(codes, frames);
        x = conv(x, weights.conv1(), 1, 3);
        for (Block b : weights.blocks()) {
            x = snake(x, b.snake());
            x = convTranspose(x, b.convT(), b.stride());
            for (ResidualUnit u : b.units()) {
                x = residual(x, u);
            }
        }
        x = snake(x, weights.finalSnake());
        return conv(x, weights.conv2(), 1, 3)[0];
    }

    /** The summed quantizer projections through fc2: [acoustic][T]. */
    private float[][] latent(int[][] codes, int frames) {
        int hidden = config.hiddenSize();
        int dim = config.codebookDim();
        float[][] summed = new float[hidden][frames];
        for (int q = 0; q < codes.length; q++) {
            CodecWeights.Quantizer quantizer = weights.quantizers().get(q);
            Linear p = quantizer.projectOut();
            for (int t = 0; t < frames; t++) {
                int base = codes[q][t] * dim;
                for (int o = 0; o < hidden; o++) {
                    float s = p.bias()[o];
                    for (int i = 0; i < dim; i++) {
                        s += p.weight()[o * dim + i] * quantizer.embed()[base + i];
                    }
                    summed[o][t] += s;
                }
            }
        }
        Linear fc2 = weights.fc2();
        float[][] out = new float[fc2.out()][frames];
        for (int o = 0; o < fc2.out(); o++) {
            for (int t = 0; t < frames; t++) {
                float s = fc2.bias()[o];
                for (int i = 0; i < hidden; i++) {
                    s += fc2.weight()[o * hidden + i] * summed[i][t];
                }
                out[o][t] = s;
            }
        }
        return out;
    }

    /** x + sin²(αx) / (α + 1e-9), per channel; a new array. */
    static float[][] snake(float[][] x, Snake snake) {
        float[][] y = new float[x.length][];
        for (int c = 0; c < x.length; c++) {
            float a = snake.alpha()[c];
            float inv = 1f / (a + 1e-9f);
            float[] row = x[c];
            float[] out = new float[row.length];
            for (int t = 0; t < row.length; t++) {
                float s = (float) Math.sin(a * row[t]);
                out[t] = row[t] + inv * (s * s);
            }
            y[c] = out;
        }
        return y;
    }

    /** Snake, 7-wide dilated convolution, Snake, 1-wide convolution, plus the input. */
    private static float[][] residual(float[][] x, ResidualUnit u) {
        float[][] y = conv(snake(x, u.snake1()), u.conv1(), u.dilation(), 3 * u.dilation());
        y = conv(snake(y, u.snake2()), u.conv2(), 1, 0);
        for (int c = 0; c < y.length; c++) {
            float[] row = y[c];
            float[] in = x[c];
            for (int t = 0; t < row.length; t++) {
                row[t] = in[t] + row[t];
            }
        }
        return y;
    }

    /**
     * A 1-D convolution of stride 1 with zero padding {@code pad} on both sides: the output is
     * {@code L + 2 pad - dilation (kernel - 1)} long.
     */
    static float[][] conv(float[][] x, Conv w, int dilation, int pad) {
        int length = x[0].length;
        int outLength = length + 2 * pad - dilation * (w.kernel() - 1);
        return perOutputChannel(w, (long) w.in() * w.out() * w.kernel() * outLength, o -> {
            float[] row = new float[outLength];
            java.util.Arrays.fill(row, w.bias()[o]);
            for (int i = 0; i < w.in(); i++) {
                float[] in = x[i];
                int base = (o * w.in() + i) * w.kernel();
                for (int k = 0; k < w.kernel(); k++) {
                    float wk = w.weight()[base + k];
                    int shift = k * dilation - pad;      // out[t] += wk * in[t + shift]
                    int from = Math.max(0, -shift);
                    int to = Math.min(outLength, length - shift);
                    for (int t = from; t < to; t++) {
                        row[t] += wk * in[t + shift];
                    }
                }
            }
            return row;
        });
    }

    /**
     * The output channels of a convolution, each computed by {@code row} (on the fork-join pool
     * where the work, in multiply-adds, is worth it).
     */
    private static float[][] perOutputChannel(Conv w, long work, java.util.function.IntFunction<float[]> row) {
        float[][] out = new float[w.out()][];
        IntStream channels = IntStream.range(0, w.out());
        if (work >= PARALLEL_WORK) {
            channels = channels.parallel();
        }
        channels.forEach(o -> out[o] = row.apply(o));
        return out;
    }

    /**
     * A transposed convolution of kernel 2·stride, padding ceil(stride/2) and output padding
     * stride mod 2, as transformers' adjusted DAC decoder has it: L frames in, exactly
     * {@code L * stride} out.
     */
    static float[][] convTranspose(float[][] x, Conv w, int stride) {
        int length = x[0].length;
        int pad = (stride + 1) / 2;
        int outLength = (length - 1) * stride - 2 * pad + w.kernel() + stride % 2;
        return perOutputChannel(w, (long) w.in() * w.out() * w.kernel() * length, o -> {
            float[] row = new float[outLength];
            java.util.Arrays.fill(row, w.bias()[o]);
            for (int i = 0; i < w.in(); i++) {
                float[] in = x[i];
                int base = (i * w.out() + o) * w.kernel();
                for (int k = 0; k < w.kernel(); k++) {
                    float wk = w.weight()[base + k];
                    // out[t * stride + k - pad] += wk * in[t]
                    int from = Math.max(0, Math.ceilDiv(pad - k, stride));
                    int to = Math.min(length, Math.ceilDiv(outLength + pad - k, stride));
                    for (int t = from, j = from * stride + k - pad; t < to; t++, j += stride) {
                        row[j] += wk * in[t];
                    }
                }
            }
            return row;
        });
    }

    /**
     * A transposed convolution of kernel 2·stride (padding ceil(stride/2), output padding stride
     * mod 2) as a plain 3-wide convolution (padding 1) to {@code out * stride} channels, channel
     * {@code o * stride + r} giving output sample {@code m * stride + r} of channel o: every
     * output phase takes two taps of the input around m. Engines without a transposed
     * convolution in a dtype (TensorRT 10.6 in BF16) run this instead; {@link #interleave}
     * orders the phases back.
     *
     * @param transposed the transposed convolution's weights, [in, out, 2·stride]
     * @param stride     its stride
     * @return the convolution's weights, [out·stride, in, 3]
     */
    public static Conv polyphase(Conv transposed, int stride) {
        int in = transposed.in();
        int out = transposed.out();
        int kernel = transposed.kernel();
        if (kernel != 2 * stride) {
            throw new IllegalArgumentException("a transposed convolution of kernel " + kernel + ", expected 2 x stride " + stride);
        }
        int pad = (stride + 1) / 2;
        float[] w = new float[out * stride * in * 3];
        float[] bias = new float[out * stride];
        for (int o = 0; o < out; o++) {
            for (int r = 0; r < stride; r++) {
                int phase = r + pad;
                int q = phase / stride;
                int k = phase % stride;
                int row = o * stride + r;
                bias[row] = transposed.bias()[o];
                for (int i = 0; i < in; i++) {
                    // tap 1 + q reads x[m + q] with kernel k; tap q reads x[m + q - 1] with kernel stride + k
                    w[(row * in + i) * 3 + 1 + q] = transposed.weight()[(i * out + o) * kernel + k];
                    w[(row * in + i) * 3 + q] = transposed.weight()[(i * out + o) * kernel + stride + k];
                }
            }
        }
        return new Conv(w, bias, in, out * stride, 3);
    }

    /**
     * The phases of a {@link #polyphase} convolution's output in time order.
     *
     * @param phases [out·stride][L]
     * @param stride the stride
     * @return [out][L·stride]
     */
    public static float[][] interleave(float[][] phases, int stride) {
        int out = phases.length / stride;
        int length = phases[0].length;
        float[][] y = new float[out][length * stride];
        for (int o = 0; o < out; o++) {
            for (int r = 0; r < stride; r++) {
                float[] p = phases[o * stride + r];
                for (int m = 0; m < length; m++) {
                    y[o][m * stride + r] = p[m];
                }
            }
        }
        return y;
    }
}
