package dev.higgstrt.fuzz;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Points the process's native standard error at a file. libFuzzer (inside Jazzer) prints its
 * status lines to file descriptor 2, beside Java's {@code System.err}: a fuzzing run in the build
 * writes them to a log under {@code target/} instead of the build's console.
 */
final class NativeStderr {
    private static final int O_WRONLY = 1;
    private static final int O_CREAT = 64;
    private static final int O_TRUNC = 512;

    private NativeStderr() {
    }

    static void redirectTo(Path log) throws IOException {
        Files.createDirectories(log.toAbsolutePath().getParent());
        Linker linker = Linker.nativeLinker();
        SymbolLookup libc = linker.defaultLookup();
        MethodHandle open = linker.downcallHandle(libc.find("open").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
                Linker.Option.firstVariadicArg(2));
        MethodHandle dup2 = linker.downcallHandle(libc.find("dup2").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment path = arena.allocateFrom(log.toAbsolutePath().toString());
            int fd = (int) open.invokeExact(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0 || (int) dup2.invokeExact(fd, 2) < 0) {
                throw new IOException("cannot send native stderr to " + log);
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException("cannot send native stderr to " + log, t);
        }
    }
}
