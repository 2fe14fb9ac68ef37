package dev.higgstrt.audio;

import dev.higgstrt.generation.DelayedCodes;
import dev.higgstrt.generation.GenerationRequest;
import dev.higgstrt.generation.GenerationResult;
import dev.higgstrt.generation.Generator;
import dev.higgstrt.model.SpeechTokens;

import java.util.Objects;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * Text to speech: a {@link Generator} for the codes and an {@link AudioDecoder} for the sound,
 * whole or streamed. Thread-safe where its generator and decoder are (the CPU reference's are):
 * each call is one utterance.
 */
public final class SpeechSynthesizer {
    private final Generator generator;
    private final SpeechTokens ids;
    private final AudioDecoder codec;

    /**
     * Joins a generator and a codec whose codebooks agree.
     *
     * @param generator makes the codes
     * @param ids       the speech model's ids (its codebooks)
     * @param codec     decodes them
     * @throws IllegalArgumentException when the model's codebooks are not the codec's
     */
    public SpeechSynthesizer(Generator generator, SpeechTokens ids, AudioDecoder codec) {
        this.generator = Objects.requireNonNull(generator, "generator");
        this.ids = Objects.requireNonNull(ids, "ids");
        this.codec = Objects.requireNonNull(codec, "codec");
        CodecConfig c = codec.config();
        if (c.numQuantizers() != ids.numCodebooks() || c.codebookSize() < ids.audioCodes()) {
            throw new IllegalArgumentException("the model has " + ids.numCodebooks() + " codebooks of " + ids.audioCodes()
                    + " audio codes, the codec " + c.numQuantizers() + " quantizers of " + c.codebookSize() + " codes");
        }
    }

    /**
     * The codec's sample rate.
     *
     * @return samples a second
     */
    public int sampleRate() {
        return codec.config().sampleRate();
    }

    /**
     * What an utterance produced.
     *
     * @param generation       the generation's frames, codes and counts
     * @param samples          the samples (all of them; for a stream, those handed out), not clamped
     * @param sampleRate       samples a second
     * @param decodeNanos      time in the codec
     * @param firstAudioNanos  from the call to the first samples (whole: the end of the decode)
     */
    public record Speech(GenerationResult generation, float[] samples, int sampleRate, long decodeNanos, long firstAudioNanos) {
        /**
         * The duration of the audio.
         *
         * @return seconds
         */
        public double seconds() {
            return (double) samples.length / sampleRate;
        }
    }

    /**
     * Generates, then decodes the codes as transformers' processor hands them to the codec (in
     * windows where they are longer than the codec takes in a call, see {@link StreamingCodec#decodeAll}).
     *
     * @param request what to say
     * @return the speech (no samples where no codes were generated)
     */
    public Speech synthesize(GenerationRequest request) {
        return synthesize(request, f -> { }, () -> false);
    }

    /**
     * Generates, handing each frame to {@code listener}, then decodes the codes as transformers'
     * processor hands them to the codec.
     *
     * @param request   what to say
     * @param listener  receives each frame as it is generated
     * @param cancelled asked before each step; true stops the generation (its codes are decoded)
     * @return the speech (no samples where no codes were generated)
     */
    public Speech synthesize(GenerationRequest request, Generator.FrameListener listener, BooleanSupplier cancelled) {
        long t0 = System.nanoTime();
        GenerationResult r = generator.generate(request, listener, cancelled);
        long d0 = System.nanoTime();
        float[] samples = r.codes().length == 0 || r.codes()[0].length == 0 ? new float[0] : StreamingCodec.decodeAll(codec, r.codes());
        long end = System.nanoTime();
        return new Speech(r, samples, sampleRate(), end - d0, end - t0);
    }

    /**
     * Generates and decodes chunk by chunk, handing each chunk's samples to {@code sink} on the
     * calling thread as soon as it is decoded.
     *
     * @param request   what to say
     * @param options   how the stream is cut
     * @param sink      receives the samples, chunk by chunk
     * @param cancelled asked before each step; true stops the generation (what was decoded stays)
     * @return the speech, with every sample handed out
     */
    public Speech stream(GenerationRequest request, StreamingCodec.Options options, Consumer<float[]> sink,
                         BooleanSupplier cancelled) {
        return stream(request, options, sink, f -> { }, cancelled);
    }

    /**
     * As {@link #stream(GenerationRequest, StreamingCodec.Options, Consumer, BooleanSupplier)},
     * handing each frame to {@code listener} too.
     *
     * @param request   what to say
     * @param options   how the stream is cut
     * @param sink      receives the samples, chunk by chunk
     * @param listener  receives each frame as it is generated
     * @param cancelled asked before each step; true stops the generation (what was decoded stays)
     * @return the speech, with every sample handed out
     */
    public Speech stream(GenerationRequest request, StreamingCodec.Options options, Consumer<float[]> sink,
                         Generator.FrameListener listener, BooleanSupplier cancelled) {
        long t0 = System.nanoTime();
        long[] first = {-1};
        long[] decode = {0};
        float[][] all = {new float[0]};
        int[] filled = {0};
        StreamingCodec stream = new StreamingCodec(timed(decode), options, samples -> {
            if (first[0] < 0) {
                first[0] = System.nanoTime() - t0;
            }
            if (filled[0] + samples.length > all[0].length) {
                all[0] = java.util.Arrays.copyOf(all[0], Math.max(2 * all[0].length, filled[0] + samples.length));
            }
            System.arraycopy(samples, 0, all[0], filled[0], samples.length);
            filled[0] += samples.length;
            sink.accept(samples);
        });
        DelayedCodes columns = new DelayedCodes(ids.numCodebooks(), ids.streamBos(), ids.streamEos());
        GenerationResult r = generator.generate(request, f -> {
            listener.onFrame(f);
            columns.push(f.codes()).ifPresent(stream::push);
        }, cancelled);
        stream.finish();
        return new Speech(r, java.util.Arrays.copyOf(all[0], filled[0]), sampleRate(), decode[0],
                first[0] < 0 ? System.nanoTime() - t0 : first[0]);
    }

    private AudioDecoder timed(long[] nanos) {
        return new AudioDecoder() {
            @Override
            public CodecConfig config() {
                return codec.config();
            }

            @Override
            public int maxFrames() {
                return codec.maxFrames();
            }

            @Override
            public float[] decode(int[][] codes) {
                long t = System.nanoTime();
                try {
                    return codec.decode(codes);
                } finally {
                    nanos[0] += System.nanoTime() - t;
                }
            }
        };
    }
}
