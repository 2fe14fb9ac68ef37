package dev.higgstrt.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Runs the command line in a child JVM, as a user's shell would, and captures its exit status and output. */
record ChildCli(int status, String out, String err) {
    /** The command that starts the CLI in a child JVM with {@code jvmOptions}, then {@code args}. */
    static List<String> command(List<String> jvmOptions, String... args) {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED"));
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), HiggsTrtCommand.class.getName()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    static ChildCli run(String... args) throws IOException, InterruptedException {
        return run(List.of(), args);
    }

    static ChildCli run(List<String> jvmOptions, String... args) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command(jvmOptions, args)).start();
        p.getOutputStream().close();
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> read(p.getInputStream()));
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> read(p.getErrorStream()));
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("the CLI did not end within 120 s: " + String.join(" ", args));
        }
        return new ChildCli(p.exitValue(), out.join(), err.join());
    }

    private static String read(java.io.InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
