package dev.higgstrt.audio;

/**
 * Samples to 16-bit PCM as transformers' {@code save_audio} writes them through soundfile:
 * clamped to [-1, 1], times 32767, rounded half to even. Needs no {@code javax.sound} (a server
 * on a runtime linked without {@code java.desktop} streams PCM through this alone).
 */
public final class Pcm16 {
    private Pcm16() {
    }

    /**
     * One sample as PCM16.
     *
     * @param sample a sample, any value (NaN gives 0)
     * @return the PCM16 value
     */
    public static short of(float sample) {
        if (Float.isNaN(sample)) {
            return 0;
        }
        return fromScaled(Math.max(-1.0, Math.min(1.0, sample)) * 32767);
    }

    /** A sample already clamped and scaled by 32767, rounded half to even. */
    static short fromScaled(double scaled) {
        return (short) Math.rint(scaled);
    }

    /**
     * Samples as little-endian PCM16 bytes.
     *
     * @param samples the samples
     * @return two bytes a sample
     */
    public static byte[] bytes(float[] samples) {
        byte[] out = new byte[samples.length * 2];
        for (int i = 0; i < samples.length; i++) {
            short v = of(samples[i]);
            out[2 * i] = (byte) v;
            out[2 * i + 1] = (byte) (v >> 8);
        }
        return out;
    }
}
