package dev.higgstrt.audio;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Decodes codec columns chunk by chunk as they arrive, so that the first audio can leave before
 * generation ends. Each chunk decodes its new columns with {@code contextFrames} of the columns
 * before it (the decoder's convolutions see left context as in a whole decode), and holds back
 * its last {@code fadeFrames}, which the next chunk cross-fades in with a Hamming window
 * (normalized so that equal signals pass unchanged). The first chunk is {@code firstChunkFrames}
 * long, so that the first audio waits for few frames; the rest are {@code chunkFrames}.
 *
 * <p>Away from the seams the streamed samples are the whole decode's, bit for bit, where the
 * context covers the decoder's reach ({@link #reachFrames}); near a chunk's end (the last
 * {@code reachFrames} frames before it) they differ, since the decoder there did not see the
 * frames after it: {@code docs/generation.md} gives the measured bound. Not thread-safe: one
 * stream per utterance.
 */
public final class StreamingCodec {
    /**
     * How a stream is cut.
     *
     * @param firstChunkFrames frames of the first chunk (few: time to first audio)
     * @param chunkFrames      frames of each later chunk
     * @param contextFrames    frames before a chunk decoded with it and dropped
     * @param fadeFrames       frames held back at a chunk's end and cross-faded into the next
     */
    public record Options(int firstChunkFrames, int chunkFrames, int contextFrames, int fadeFrames) {
        /** Checks the values. */
        public Options {
            if (firstChunkFrames <= 0 || chunkFrames <= 0 || contextFrames < 0 || fadeFrames < 0) {
                throw new IllegalArgumentException("chunk sizes must be positive and context and fade not negative, got "
                        + firstChunkFrames + ", " + chunkFrames + ", " + contextFrames + ", " + fadeFrames);
            }
            if (fadeFrames >= firstChunkFrames || fadeFrames >= chunkFrames || fadeFrames > contextFrames) {
                throw new IllegalArgumentException("the fade (" + fadeFrames + " frames) must be shorter than each chunk and"
                        + " within the context");
            }
        }

        /**
         * Chunks of 25 frames (one second) with 25 frames of context, as Boson's server cuts
         * them, a first chunk of 5 frames and a cross-fade of 2.
         *
         * @return the standard options
         */
        public static Options standard() {
            return new Options(5, 25, 25, 2);
        }
    }

    private final AudioDecoder decoder;
    private final Options options;
    private final Consumer<float[]> sink;
    private final int spf;
    private final List<int[]> columns = new ArrayList<>();
    private int decodedTo;       // columns decoded so far
    private float[] held = new float[0];   // the last chunk's held-back samples (frames [decodedTo - fade, decodedTo))
    private long emitted;
    private boolean finished;

    /**
     * A stream into {@code sink}, which receives each chunk's samples in order on the pushing thread.
     *
     * @param decoder decodes a window of columns
     * @param options how the stream is cut
     * @param sink    receives the samples (not clamped), never an empty array
     */
    public StreamingCodec(AudioDecoder decoder, Options options, Consumer<float[]> sink) {
        this.decoder = Objects.requireNonNull(decoder, "decoder");
        this.options = Objects.requireNonNull(options, "options");
        this.sink = Objects.requireNonNull(sink, "sink");
        this.spf = decoder.config().samplesPerFrame();
    }

    /**
     * The next codec column; decodes a chunk when enough have arrived.
     *
     * @param column a code per quantizer
     */
    public void push(int[] column) {
        if (finished) {
            throw new IllegalStateException("the stream is finished");
        }
        if (column.length != decoder.config().numQuantizers()) {
            throw new IllegalArgumentException("a column of " + column.length + " codes, the codec has "
                    + decoder.config().numQuantizers() + " quantizers");
        }
        columns.add(column.clone());
        int want = decodedTo == 0 ? options.firstChunkFrames() : options.chunkFrames();
        if (columns.size() - decodedTo >= want) {
            chunk(false);
        }
    }

    /** Decodes what is left and hands out every held sample. */
    public void finish() {
        if (finished) {
            return;
        }
        finished = true;
        if (columns.size() > decodedTo) {
            chunk(true);
        } else if (held.length > 0) {
            emit(held);
            held = new float[0];
        }
    }

    /**
     * Samples handed to the sink so far.
     *
     * @return the count
     */
    public long emittedSamples() {
        return emitted;
    }

    private void chunk(boolean last) {
        int end = columns.size();
        int start = Math.max(0, decodedTo - options.contextFrames());
        int k = decoder.config().numQuantizers();
        int[][] codes = new int[k][end - start];
        for (int t = start; t < end; t++) {
            int[] c = columns.get(t);
            for (int q = 0; q < k; q++) {
                codes[q][t - start] = c[q];
            }
        }
        float[] audio = decoder.decode(codes);
        int fadeStart = (decodedTo - start) * spf - held.length;   // where the held samples begin in this chunk
        int keepTo = last ? audio.length : (end - start - options.fadeFrames()) * spf;
        float[] out = new float[keepTo - fadeStart];
        for (int i = 0; i < held.length; i++) {
            float in = fadeIn(i, held.length);
            out[i] = held[i] * (1 - in) + audio[fadeStart + i] * in;
        }
        System.arraycopy(audio, fadeStart + held.length, out, held.length, keepTo - fadeStart - held.length);
        held = last ? new float[0] : java.util.Arrays.copyOfRange(audio, keepTo, audio.length);
        decodedTo = end;
        if (out.length > 0) {
            emit(out);
        }
    }

    /**
     * The new chunk's weight at sample i of a cross-fade of n: the rising half of a periodic
     * Hamming window of 2n over the sum of the rising and falling halves.
     */
    static float fadeIn(int i, int n) {
        double rise = 0.54 - 0.46 * Math.cos(Math.PI * (i + 0.5) / n);
        double fall = 0.54 - 0.46 * Math.cos(Math.PI * (i + 0.5 + n) / n);
        return (float) (rise / (rise + fall));
    }

    private void emit(float[] samples) {
        emitted += samples.length;
        sink.accept(samples);
    }

    /**
     * How many frames before a chunk's end its samples can differ from a whole decode: the
     * reach of the decoder's convolutions, in frames, rounded up (10 for the published codec).
     *
     * @param config the codec's geometry
     * @return frames
     */
    public static int reachFrames(CodecConfig config) {
        // output samples each layer sees to either side, from the last layer back to the first
        List<Integer> ratios = config.upsamplingRatios();
        long scale = 1;           // output samples per sample at the current rate
        long reach = 3;           // the last 7-wide convolution
        for (int b = ratios.size() - 1; b >= 0; b--) {
            reach += (3 + 9 + 27) * scale;                 // residual units of dilations 1, 3 and 9
            int stride = ratios.get(b);
            scale *= stride;
            reach += 2L * scale;                           // the transposed convolution: 2 input samples to each side
        }
        reach += 3 * scale;                                // the first 7-wide convolution, at the frame rate
        return (int) ((reach + config.samplesPerFrame() - 1) / config.samplesPerFrame());
    }

    /**
     * Decodes codes of any length with a decoder that takes at most {@link
     * AudioDecoder#maxFrames()} a call: whole where they fit, else in windows of that size, each
     * with 25 frames of context and a 2-frame cross-fade (the streaming bound applies near the
     * window ends).
     *
     * @param decoder the decoder
     * @param codes   codes [K][T]
     * @return {@code T * samplesPerFrame} samples
     */
    public static float[] decodeAll(AudioDecoder decoder, int[][] codes) {
        int frames = codes[0].length;
        int limit = decoder.maxFrames();
        if (frames <= limit) {
            return decoder.decode(codes);
        }
        int context = Math.min(25, limit / 2);
        int chunk = limit - context;
        if (chunk < 3) {
            throw new IllegalArgumentException("a decoder of " + limit + " frames a call is too small to decode in windows");
        }
        float[] out = new float[frames * decoder.config().samplesPerFrame()];
        int[] at = {0};
        StreamingCodec s = new StreamingCodec(decoder, new Options(chunk, chunk, context, Math.min(2, context)), samples -> {
            System.arraycopy(samples, 0, out, at[0], samples.length);
            at[0] += samples.length;
        });
        int[] column = new int[codes.length];
        for (int t = 0; t < frames; t++) {
            for (int q = 0; q < codes.length; q++) {
                column[q] = codes[q][t];
            }
            s.push(column);
        }
        s.finish();
        return out;
    }
}
