package dev.higgstrt.cli;

import dev.higgstrt.audio.WavFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code synth --codec}, {@code tts} and {@code decode-codes} at the shell, and their refusals. */
class TtsCommandTest {
    @TempDir
    static Path tmp;
    static Path ck;
    static Path codec;

    @BeforeAll
    static void synth() throws Exception {
        ck = tmp.resolve("ck");
        codec = tmp.resolve("codec");
        ChildCli model = ChildCli.run("synth", "--preset", "tiny", "--dtype", "float32", "--output", ck.toString());
        assertThat(model.status()).as(model.err()).isZero();
        ChildCli c = ChildCli.run("synth", "--codec", "--preset", "tiny", "--output", codec.toString());
        assertThat(c.status()).as(c.err()).isZero();
        assertThat(c.out()).contains("wrote a codec (4 quantizers of 32 codes, 24000 Hz, 960 samples a frame)");
    }

    private static void refused(ChildCli run, String message) {
        assertThat(run.status()).as(run.err()).isEqualTo(2);
        assertThat(run.err().lines().toList()).as(run.err()).containsExactly("error: " + message);
    }

    private static WavFile.Pcm wav(Path file) throws Exception {
        try (var in = Files.newInputStream(file)) {
            return WavFile.read(in);
        }
    }

    @Test
    void ttsWritesTheWavOfTheGeneratedCodesAndDecodeCodesTheSame() throws Exception {
        Path wav = tmp.resolve("hello.wav");
        ChildCli tts = ChildCli.run("tts", "--checkpoint", ck.toString(), "--codec", codec.toString(), "--text", "Hello there.",
                "--greedy", "--output", wav.toString());
        assertThat(tts.status()).as(tts.err()).isZero();
        assertThat(tts.out()).contains("finish stop").contains("x real time");
        Path json = tmp.resolve("hello.json");
        ChildCli gen = ChildCli.run("generate", "--checkpoint", ck.toString(), "--text", "Hello there.", "--greedy",
                "--output", json.toString());
        assertThat(gen.status()).as(gen.err()).isZero();
        int frames = dev.higgstrt.io.Json.STRICT.readTree(Files.readString(json)).get("codes").get(0).size();
        WavFile.Pcm pcm = wav(wav);
        assertThat(pcm.sampleRate()).isEqualTo(24000);
        assertThat(pcm.values()).hasSize(frames * 960);
        Path again = tmp.resolve("again.wav");
        ChildCli decode = ChildCli.run("decode-codes", "--codec", codec.toString(), "--codes", json.toString(), "--output", again.toString());
        assertThat(decode.status()).as(decode.err()).isZero();
        assertThat(Files.readAllBytes(again)).as("decode-codes of generate's codes is tts's WAV").isEqualTo(Files.readAllBytes(wav));
        Path streamed = tmp.resolve("streamed.wav");
        ChildCli stream = ChildCli.run("tts", "--checkpoint", ck.toString(), "--codec", codec.toString(), "--text", "Hello there.",
                "--greedy", "--stream", "--output", streamed.toString());
        assertThat(stream.status()).as(stream.err()).isZero();
        assertThat(stream.out()).contains("first audio after");
        assertThat(wav(streamed).values()).hasSize(frames * 960);
        Path early = tmp.resolve("early.wav");
        ChildCli first = ChildCli.run("tts", "--checkpoint", ck.toString(), "--codec", codec.toString(), "--text", "Hello there.",
                "--greedy", "--stream", "--first-chunk", "1", "--output", early.toString());
        assertThat(first.status()).as(first.err()).isZero();
        assertThat(wav(early).values()).as("a first chunk of one frame streams the same length").hasSize(frames * 960);
        ChildCli none = ChildCli.run("tts", "--checkpoint", ck.toString(), "--codec", codec.toString(), "--text", "Hello there.",
                "--greedy", "--stream", "--first-chunk", "0", "--output", tmp.resolve("none.wav").toString());
        assertThat(none.status()).isEqualTo(2);
        assertThat(none.err().strip()).isEqualTo("error: --first-chunk must be at least 1, got 0");
        assertThat(tmp.resolve("none.wav")).doesNotExist();
        Path raw = tmp.resolve("hello.pcm");
        ChildCli pcmRun = ChildCli.run("tts", "--checkpoint", ck.toString(), "--codec", codec.toString(), "--text", "Hello there.",
                "--greedy", "--output", raw.toString());
        assertThat(pcmRun.status()).as(pcmRun.err()).isZero();
        java.nio.ByteBuffer le = java.nio.ByteBuffer.wrap(Files.readAllBytes(raw)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        short[] values = new short[le.remaining() / 2];
        le.asShortBuffer().get(values);
        assertThat(values).as("a .pcm output is the WAV's samples, raw").isEqualTo(pcm.values());
    }

    @Test
    void badCodesAndCodecsAreRefusedWithNoWav() throws Exception {
        Path out = tmp.resolve("bad.wav");
        Path wrongCount = tmp.resolve("three.json");
        Files.writeString(wrongCount, "{\"codes\": [[1, 2], [3, 4], [5, 6]]}");
        refused(ChildCli.run("decode-codes", "--codec", codec.toString(), "--codes", wrongCount.toString(), "--output", out.toString()),
                wrongCount + ": codes have 3 codebooks, the codec has 4");
        Path range = tmp.resolve("range.json");
        Files.writeString(range, "{\"codes\": [[1, 2], [3, 4], [5, 32], [7, 8]]}");
        refused(ChildCli.run("decode-codes", "--codec", codec.toString(), "--codes", range.toString(), "--output", out.toString()),
                range + ": code 32 of codebook 2 at frame 1 is out of range [0, 32)");
        Path empty = tmp.resolve("empty.json");
        Files.writeString(empty, "{\"codes\": []}");
        refused(ChildCli.run("decode-codes", "--codec", codec.toString(), "--codes", empty.toString(), "--output", out.toString()),
                empty + ": expected {\"codes\": [[...] per codebook]}");
        Path full = tmp.resolve("full-codec");
        ChildCli f = ChildCli.run("synth", "--codec", "--preset", "full", "--output", full.toString());
        assertThat(f.status()).as(f.err()).isZero();
        refused(ChildCli.run("tts", "--checkpoint", ck.toString(), "--codec", full.toString(), "--text", "Hi.", "--greedy",
                "--output", out.toString()), full + ": the model has 4 codebooks of 32 audio codes, the codec 8 quantizers of 1024 codes");
        Path broken = tmp.resolve("broken-codec");
        Files.createDirectories(broken);
        Files.copy(codec.resolve("config.json"), broken.resolve("config.json"));
        ChildCli missing = ChildCli.run("decode-codes", "--codec", broken.toString(), "--codes", range.toString(), "--output", out.toString());
        assertThat(missing.status()).isEqualTo(2);
        assertThat(missing.err()).contains("no .safetensors files in the codec folder");
        refused(ChildCli.run("synth", "--codec", "--preset", "small", "--output", tmp.resolve("x").toString()),
                "unknown codec preset 'small' (expected tiny or full)");
        assertThat(out).doesNotExist();
        try (var s = Files.list(tmp)) {
            assertThat(s.map(p -> p.getFileName().toString()).filter(n -> n.contains("bad.wav"))).isEmpty();
        }
    }
}
