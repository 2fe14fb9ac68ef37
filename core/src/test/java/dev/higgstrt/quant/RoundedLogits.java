package dev.higgstrt.quant;

import dev.higgstrt.model.LinearInputs;
import dev.higgstrt.decoding.Logits;
import dev.higgstrt.reference.ReferenceModel;
import dev.higgstrt.decoding.TokenInput;

import java.util.List;

/**
 * How far a quantized checkpoint's reference logits are from the float model's: with its weights
 * rounded only, and with its activation rounding as well.
 *
 * @param weightsOnly max |logit - expected| with the rounded weights
 * @param full        the same with the activations rounded by the conversion's simulation hook
 */
record RoundedLogits(float weightsOnly, float full) {
    /** Both errors of {@code rounded} over {@code inputs}, against the float model's {@code expected} logits. */
    static RoundedLogits measure(ReferenceModel rounded, LinearInputs simulation, List<TokenInput> inputs, List<Logits> expected) {
        float weightsOnly = 0;
        float full = 0;
        for (int i = 0; i < inputs.size(); i++) {
            weightsOnly = Math.max(weightsOnly, rounded.forward(inputs.get(i)).maxAbsDiff(expected.get(i)));
            full = Math.max(full, rounded.newSession(simulation).forward(inputs.get(i)).maxAbsDiff(expected.get(i)));
        }
        return new RoundedLogits(weightsOnly, full);
    }

    /** The largest |audio logit| over {@code logits}. */
    static float maxAbs(List<Logits> logits) {
        float m = 0;
        for (Logits l : logits) {
            for (float v : l.audio()) {
                m = Math.max(m, Math.abs(v));
            }
        }
        return m;
    }
}
