package dev.higgstrt.trt.smoke;

import dev.higgstrt.converted.ConvertedCheckpoint;
import dev.higgstrt.trt.engine.FfnMode;
import dev.higgstrt.trt.engine.HiggsEngine;
import dev.higgstrt.trt.parallel.ParallelEngine;

import dev.higgstrt.decoding.DecoderSession;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.LinearInputs;
import dev.higgstrt.model.LinearSite;
import dev.higgstrt.decoding.Logits;
import dev.higgstrt.reference.ReferenceModel;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.tensor.DType;

import java.util.Arrays;
import java.util.Random;

/**
 * An engine checked against the CPU reference: a prefill of a mixed text/audio prompt, then
 * decode steps alternating text and audio positions, each compared with the reference's own
 * incremental decoding; with the engine's speed.
 *
 * @param prefillError  max |engine - reference| over the prefill's logits
 * @param decodeError   max |engine - reference| over every decode step's logits
 * @param bound         the error allowed for the engine's dtype
 * @param prefillTokens positions in the prefill
 * @param prefillMs     prefill wall time (ms)
 * @param decodeSteps   decode steps run
 * @param decodeMsPerStep median decode step wall time (ms)
 */
public record SmokeRun(float prefillError, float decodeError, float bound, int prefillTokens, double prefillMs,
                       int decodeSteps, double decodeMsPerStep) {

    /**
     * Whether both errors are within the bound.
     *
     * @return whether both errors are within the bound
     */
    public boolean passed() {
        return prefillError <= bound && decodeError <= bound;
    }

    /**
     * The documented bound: 1e-3 for FP32 engines; for BF16 and FP16, 5 % of the largest reference
     * logit plus 1e-2 (both weights and activations are rounded).
     *
     * @param dtype       the element type
     * @param maxAbsLogit the max abs logit
     * @return the documented bound: 1e-3 for FP32 engines; for BF16 and FP16, 5 % of the largest reference logit plus 1e-2 (both weights and activations are rounded)
     */
    public static float bound(DType dtype, float maxAbsLogit) {
        return dtype == DType.F32 ? 1e-3f : 0.05f * maxAbsLogit + 1e-2f;
    }

    /**
     * The bound for an engine that rounds activations to FP8 with static scales: the dtype's bound
     * plus 10 % of the largest logit. One ulp of difference in a BF16 activation moves it to the
     * neighbouring FP8 code (3 mantissa bits, steps of 6 to 12 %), so the engine and the
     * reference, even one that rounds as the engine does, differ by up to the FP8 rounding
     * itself; 10 % is its documented bound on the reference (docs/quantization.md).
     *
     * @param dtype       the element type
     * @param maxAbsLogit the max abs logit
     * @return the bound for an engine that rounds activations to FP8 with static scales: the dtype's bound plus 10 % of the largest logit
     */
    public static float fp8ActivationBound(DType dtype, float maxAbsLogit) {
        return bound(dtype, maxAbsLogit) + 0.10f * maxAbsLogit;
    }

    /**
     * A mixed prompt: text positions, then audio frames, then text again.
     *
     * @param c      the model config
     * @param length the length
     * @param seed   the random seed
     * @return a mixed prompt: text positions, then audio frames, then text again
     */
    public static TokenInput prompt(HiggsAudioConfig c, int length, long seed) {
        Random r = new Random(seed);
        int[] ids = new int[length];
        int frames = 0;
        for (int i = 0; i < length; i++) {
            boolean audio = i >= length / 4 && i < length - length / 4;
            ids[i] = audio ? c.audioTokenIds().getLast() : 3 + r.nextInt(Math.max(1, c.vocabSize() - 10));
            frames += audio ? 1 : 0;
        }
        int[][] f = new int[frames][c.numCodebooks()];
        for (int[] frame : f) {
            Arrays.setAll(frame, k -> r.nextInt(c.codebookSize()));
        }
        return new TokenInput(ids, f);
    }

    /**
     * The activation rounding an engine built from {@code checkpoint} does, for the reference: the
     * static FP8 input scales of an fp8 checkpoint calibrated at conversion; nothing otherwise
     * (SmoothQuant checkpoints are dequantized at build, activations unrounded).
     *
     * @param checkpoint the checkpoint folder
     * @return the activation rounding an engine built from {@code checkpoint} does, for the reference: the static FP8 input scales of an fp8 checkpoint calibrated at conversion; nothing otherwise (SmoothQuant checkpoints are dequantized at build, activations unrounded)
     * @throws java.io.IOException when a file cannot be read or written
     */
    public static LinearInputs engineRounding(java.nio.file.Path checkpoint) throws java.io.IOException {
        try (ConvertedCheckpoint converted = ConvertedCheckpoint.open(checkpoint)) {
            return converted.stored().quant() == dev.higgstrt.quant.QuantFormat.FP8 ? converted.activationRounding() : LinearInputs.NONE;
        }
    }

    /**
     * Runs the prompt and {@code steps} decode steps on the engine and on {@code reference}.
     *
     * @param engine    the engine
     * @param reference the reference
     * @param prompt    the prompt
     * @param steps     the steps
     * @return the errors and timings
     */
    public static SmokeRun run(HiggsEngine engine, ReferenceModel reference, TokenInput prompt, int steps) {
        return run(engine, reference, LinearInputs.NONE, prompt, steps);
    }

    /**
     * As {@link #run(HiggsEngine, ReferenceModel, TokenInput, int)}, the reference rounding its
     * linears' inputs with {@code activations} (the checkpoint's {@code ConvertedCheckpoint.activationRounding()}),
     * as an engine with static activation scales does. The dual-FFN plugin reads its MLPs'
     * inputs unrounded, so with the plugin the MLP sites of dual-FFN layers are left alone. With
     * a hook other than {@link LinearInputs#NONE}, the bound is {@link #fp8ActivationBound}.
     *
     * @param engine      the engine
     * @param reference   the reference
     * @param activations the activations
     * @param prompt      the prompt
     * @param steps       the steps
     * @return the errors and timings
     */
    public static SmokeRun run(HiggsEngine engine, ReferenceModel reference, LinearInputs activations, TokenInput prompt, int steps) {
        return run(engine.config(), engine.dtype(), engine.ffnMode(), engine::newSession, reference, activations, prompt, steps);
    }

    /**
     * As {@link #run(HiggsEngine, ReferenceModel, TokenInput, int)}, on the ranks of a parallel engine.
     *
     * @param engine    the engine
     * @param reference the reference
     * @param prompt    the prompt
     * @param steps     the steps
     * @return the errors and timings
     */
    public static SmokeRun run(ParallelEngine engine, ReferenceModel reference, TokenInput prompt, int steps) {
        return run(engine, reference, LinearInputs.NONE, prompt, steps);
    }

    /**
     * As {@link #run(HiggsEngine, ReferenceModel, LinearInputs, TokenInput, int)}, on the ranks of a parallel engine.
     *
     * @param engine      the engine
     * @param reference   the reference
     * @param activations the activations
     * @param prompt      the prompt
     * @param steps       the steps
     * @return the errors and timings
     */
    public static SmokeRun run(ParallelEngine engine, ReferenceModel reference, LinearInputs activations, TokenInput prompt, int steps) {
        return run(engine.config(), engine.dtype(), engine.ffnMode(), engine::newSession, reference, activations, prompt, steps);
    }

    private static SmokeRun run(HiggsAudioConfig c, DType dtype, FfnMode ffnMode, java.util.function.Supplier<DecoderSession> sessions,
                                ReferenceModel reference, LinearInputs activations, TokenInput prompt, int steps) {
        LinearInputs asEngine = ffnMode != FfnMode.PLUGIN ? activations : (layer, site, x, rows, width) -> {
            if (!c.isDualFfn(layer) || site == LinearSite.QKV || site == LinearSite.DENSE) {
                activations.input(layer, site, x, rows, width);
            }
        };
        try (DecoderSession s = sessions.get()) {
            ReferenceModel.Session ref = reference.newSession(asEngine);
            long t0 = System.nanoTime();
            Logits first = s.forward(prompt);
            double prefillMs = (System.nanoTime() - t0) / 1e6;
            Logits expected = ref.forward(prompt);
            float prefillError = first.maxAbsDiff(expected);
            float maxLogit = 0;
            for (float v : expected.audio()) {
                maxLogit = Math.max(maxLogit, Math.abs(v));
            }
            float decodeError = 0;
            double[] ms = new double[steps];
            Random r = new Random(7);
            for (int i = 0; i < steps; i++) {
                int[] frame = new int[c.numCodebooks()];
                Arrays.setAll(frame, k -> r.nextInt(c.codebookSize()));
                TokenInput step = i % 2 == 0 ? TokenInput.text(3 + r.nextInt(Math.max(1, c.vocabSize() - 10)))
                        : new TokenInput(new int[]{c.audioTokenIds().getLast()}, new int[][]{frame});
                long a = System.nanoTime();
                Logits got = s.forward(step);
                ms[i] = (System.nanoTime() - a) / 1e6;
                decodeError = Math.max(decodeError, got.maxAbsDiff(ref.forward(step)));
            }
            Arrays.sort(ms);
            float bound = activations == LinearInputs.NONE ? bound(dtype, maxLogit) : fp8ActivationBound(dtype, maxLogit);
            return new SmokeRun(prefillError, decodeError, bound, prompt.length(), prefillMs,
                    steps, steps == 0 ? 0 : ms[steps / 2]);
        }
    }
}
