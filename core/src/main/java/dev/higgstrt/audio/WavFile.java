package dev.higgstrt.audio;

import dev.higgstrt.io.AtomicOutput;

import javax.sound.sampled.AudioFileFormat;
import javax.sound.sampled.AudioFormat;
import javax.sound.sampled.AudioInputStream;
import javax.sound.sampled.AudioSystem;
import javax.sound.sampled.UnsupportedAudioFileException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.file.Path;

/**
 * WAV files of mono 16-bit PCM ({@link Pcm16}) through the JDK's {@code javax.sound.sampled} (no
 * header written by hand; it needs the {@code java.desktop} module). Files are written atomically.
 */
public final class WavFile {
    private WavFile() {
    }

    /**
     * The PCM16 format of a mono stream at {@code sampleRate}.
     *
     * @param sampleRate samples a second
     * @return signed 16-bit little-endian mono
     */
    public static AudioFormat format(int sampleRate) {
        return new AudioFormat(sampleRate, 16, 1, true, false);
    }

    /**
     * Writes a WAV stream (RIFF header and PCM16 data) to {@code out}.
     *
     * @param out        receives the WAV bytes
     * @param samples    the samples
     * @param sampleRate samples a second
     * @throws IOException when the stream cannot be written
     */
    public static void write(OutputStream out, float[] samples, int sampleRate) throws IOException {
        byte[] pcm = Pcm16.bytes(samples);
        try (AudioInputStream in = new AudioInputStream(new ByteArrayInputStream(pcm), format(sampleRate), samples.length)) {
            AudioSystem.write(in, AudioFileFormat.Type.WAVE, out);
        }
    }

    /**
     * Writes a WAV file atomically: a failed write leaves no file under {@code file}.
     *
     * @param file       the file
     * @param samples    the samples
     * @param sampleRate samples a second
     * @throws IOException when the file cannot be written
     */
    public static void write(Path file, float[] samples, int sampleRate) throws IOException {
        try (AtomicOutput out = AtomicOutput.create(file)) {
            OutputStream stream = Channels.newOutputStream(out.channel());
            write(stream, samples, sampleRate);
            stream.flush();
            out.commit();
        }
    }

    /**
     * Reads a mono PCM16 WAV's samples (for tests and tools).
     *
     * @param in the WAV bytes
     * @return its sample rate and PCM16 values
     * @throws IOException when it is not a mono PCM16 WAV
     */
    public static Pcm read(InputStream in) throws IOException {
        try (AudioInputStream audio = AudioSystem.getAudioInputStream(new java.io.BufferedInputStream(in))) {
            AudioFormat f = audio.getFormat();
            if (f.getChannels() != 1 || f.getSampleSizeInBits() != 16 || f.getEncoding() != AudioFormat.Encoding.PCM_SIGNED) {
                throw new IOException("not a mono PCM16 WAV: " + f);
            }
            byte[] bytes = audio.readAllBytes();
            short[] values = new short[bytes.length / 2];
            for (int i = 0; i < values.length; i++) {
                values[i] = f.isBigEndian() ? (short) ((bytes[2 * i] << 8) | (bytes[2 * i + 1] & 0xff))
                        : (short) ((bytes[2 * i + 1] << 8) | (bytes[2 * i] & 0xff));
            }
            return new Pcm((int) f.getSampleRate(), values);
        } catch (UnsupportedAudioFileException e) {
            throw new IOException("not a WAV file: " + e.getMessage(), e);
        }
    }

    /**
     * PCM16 samples.
     *
     * @param sampleRate samples a second
     * @param values     the PCM16 values
     */
    public record Pcm(int sampleRate, short[] values) {
    }
}
