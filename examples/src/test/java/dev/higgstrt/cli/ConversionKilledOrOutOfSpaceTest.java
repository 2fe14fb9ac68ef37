package dev.higgstrt.cli;

import dev.higgstrt.synth.Presets;
import dev.higgstrt.synth.SyntheticCheckpoint;
import dev.higgstrt.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Conversions in a child JVM: killed with SIGKILL at random moments while writing, they leave the
 * previous output or none, never a partial file under a final name; on a full disk (a 2 MB tmpfs
 * in a user and mount namespace) they end with status 2, a clear error and nothing left behind.
 */
class ConversionKilledOrOutOfSpaceTest {
    @TempDir
    Path tmp;

    private static List<String> cli(String... args) {
        return ChildCli.command(List.of(), args);
    }

    private static Map<String, byte[]> contents(Path dir) throws IOException {
        Map<String, byte[]> files = new TreeMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.toList()) {
                files.put(p.getFileName().toString(), Files.readAllBytes(p));
            }
        }
        return files;
    }

    @Test
    void aConversionKilledAtAnyMomentLeavesThePreviousOutputOrNone() throws Exception {
        Path src = tmp.resolve("src");
        SyntheticCheckpoint.write(src, SyntheticCheckpoint.Spec.of(Presets.small()).withSeed(5), n -> { });
        Path out = tmp.resolve("out");
        String[] convert = {"convert", "--input", src.toString(), "--output", out.toString(), "--tp", "2", "--dtype", "float32"};
        Process first = new ProcessBuilder(cli(convert)).redirectErrorStream(true).start();
        String log = new String(first.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(first.waitFor()).as(log).isZero();
        Map<String, byte[]> expected = contents(out);
        assertThat(expected).containsKeys("config.json", "rank0.safetensors", "rank1.safetensors");

        Random random = new Random(17);
        int killedWhileWriting = 0;
        for (int round = 0; round < 6; round++) {
            Process p = new ProcessBuilder(cli(convert)).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            boolean writing = false;
            while (!writing && p.isAlive() && System.nanoTime() < deadline) {
                try (Stream<Path> s = Files.list(tmp)) {
                    writing = s.anyMatch(f -> f.getFileName().toString().startsWith(".out.tmp-"));
                }
                Thread.sleep(2);
            }
            Thread.sleep(random.nextInt(400));
            killedWhileWriting += p.isAlive() ? 1 : 0;
            p.destroyForcibly();   // SIGKILL
            p.waitFor();
            if (Files.exists(out)) {
                assertThat(contents(out)).as("round %d: the output folder is whole", round)
                        .containsOnlyKeys(expected.keySet())
                        .allSatisfy((name, bytes) -> assertThat(bytes).as(name).isEqualTo(expected.get(name)));
            }
        }
        assertThat(killedWhileWriting).as("some kills landed while the conversion ran").isGreaterThan(0);
        Process last = new ProcessBuilder(cli(convert)).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertThat(last.waitFor()).isZero();
        assertThat(contents(out).keySet()).isEqualTo(expected.keySet());
        try (Stream<Path> s = Files.list(tmp)) {
            assertThat(s.map(f -> f.getFileName().toString()))
                    .as("the next conversion removed what the killed ones left").noneMatch(n -> n.contains(".tmp-") || n.contains(".old-"));
        }
    }

    @Test
    void aFullDiskEndsWithAClearErrorAndLeavesNothing() throws Exception {
        Process probe = new ProcessBuilder("unshare", "-rm", "true").redirectErrorStream(true).start();
        boolean namespaces = probe.waitFor(10, TimeUnit.SECONDS) && probe.exitValue() == 0;
        assumeTrue(namespaces, "full-disk test skipped: 'unshare -rm' (user and mount namespaces, to mount a small tmpfs) is not available");
        Path src = tmp.resolve("src");
        SyntheticCheckpoint.write(src, SyntheticCheckpoint.Spec.of(Presets.tiny()).withSeed(5).withDtype(DType.F32), n -> { });
        Path disk = Files.createDirectories(tmp.resolve("disk"));
        String convert = String.join(" ", cli("convert", "--input", src.toString(), "--output", disk.resolve("out").toString())
                .stream().map(a -> "'" + a + "'").toList());
        String script = "mount -t tmpfs -o size=256k tmpfs '" + disk + "' || exit 90; " + convert + "; echo \"exit=$?\"; echo left:; ls -A '" + disk + "'";
        Process p = new ProcessBuilder("unshare", "-rm", "sh", "-c", script).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(output).isNotEqualTo(90);
        assertThat(output).as(output).contains("exit=2").contains("error: ").contains("No space left on device");
        String left = output.substring(output.indexOf("left:") + "left:".length()).strip();
        assertThat(left).as("nothing but the lock file remains on the full disk").isIn("", ".out.lock");
    }
}
