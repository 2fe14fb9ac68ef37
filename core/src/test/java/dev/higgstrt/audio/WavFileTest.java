package dev.higgstrt.audio;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** PCM16 as soundfile writes it (clamp, times 32767, round half to even) and WAV files through javax.sound. */
class WavFileTest {
    @Test
    void samplesBecomePcm16ClampedAndRoundedHalfToEven() {
        assertThat(Pcm16.fromScaled(0.5)).as("0.5 rounds to even 0").isEqualTo((short) 0);
        assertThat(Pcm16.fromScaled(1.5)).as("1.5 rounds to even 2").isEqualTo((short) 2);
        assertThat(Pcm16.fromScaled(-2.5)).as("-2.5 rounds to even -2").isEqualTo((short) -2);
        assertThat(Pcm16.fromScaled(2.5000001)).isEqualTo((short) 3);
        assertThat(Pcm16.of(0.25f)).as("0.25 x 32767 = 8191.75").isEqualTo((short) 8192);
        assertThat(Pcm16.of(1f)).isEqualTo((short) 32767);
        assertThat(Pcm16.of(3f)).isEqualTo((short) 32767);
        assertThat(Pcm16.of(-1f)).isEqualTo((short) -32767);
        assertThat(Pcm16.of(-7f)).as("clamped to -1, not -32768").isEqualTo((short) -32767);
        assertThat(Pcm16.of(Float.NaN)).isEqualTo((short) 0);
        assertThat(Pcm16.bytes(new float[]{1f, -1f})).containsExactly(0xff, 0x7f, 0x01, 0x80);
    }

    @Test
    void aWavFileReadsBackAs24kHzMonoPcm16(@TempDir Path dir) throws Exception {
        float[] samples = new float[2400];
        for (int i = 0; i < samples.length; i++) {
            samples[i] = (float) Math.sin(i * 0.05) * 1.2f;
        }
        Path file = dir.resolve("out.wav");
        WavFile.write(file, samples, 24000);
        assertThat(Files.size(file)).isEqualTo(44 + 2L * samples.length);
        WavFile.Pcm pcm;
        try (var in = Files.newInputStream(file)) {
            pcm = WavFile.read(in);
        }
        assertThat(pcm.sampleRate()).isEqualTo(24000);
        assertThat(pcm.values()).hasSize(samples.length);
        for (int i = 0; i < samples.length; i++) {
            assertThat(pcm.values()[i]).isEqualTo(Pcm16.of(samples[i]));
        }
        try (var s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString())).containsExactly("out.wav");
        }
    }

    @Test
    void aFailedWriteLeavesNoFile(@TempDir Path dir) throws Exception {
        Path notAFolder = dir.resolve("file.txt");
        Files.writeString(notAFolder, "x");
        Path file = notAFolder.resolve("out.wav");
        assertThatThrownBy(() -> WavFile.write(file, new float[10], 24000)).isInstanceOf(java.io.IOException.class);
        assertThat(file).doesNotExist();
    }
}
