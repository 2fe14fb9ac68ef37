package dev.higgstrt.trt.tensorrt;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The deleting-destructor call of {@link TrtObjects} against a C++ hierarchy shaped like
 * TensorRT's (a base whose only virtual is its destructor, a derived class with more virtuals and
 * members), compiled here with g++: the derived destructor runs and the memory is freed.
 */
class TrtObjectsTest {
    @TempDir
    Path tmp;

    @Test
    void deletesThroughTheVirtualDeletingDestructor() throws Throwable {
        Path src = tmp.resolve("obj.cpp");
        Files.writeString(src, """
                #include <cstdlib>
                static int destroyed = 0;
                static int freed = 0;
                class NoCopy { protected: NoCopy() = default; public: virtual ~NoCopy() = default; };
                class Runtime : public NoCopy {
                public:
                    virtual int answer() { return 42; }
                    ~Runtime() override { destroyed += value; }
                    static void* operator new(std::size_t n) { return std::malloc(n); }
                    static void operator delete(void* p) { ++freed; std::free(p); }
                    int value = 7;
                };
                extern "C" void* make_runtime() { return new Runtime(); }
                extern "C" int destroyed_sum() { return destroyed; }
                extern "C" int freed_count() { return freed; }
                """);
        Path lib = tmp.resolve("libobj.so");
        Process p;
        try {
            p = new ProcessBuilder("g++", "-shared", "-fPIC", "-O1", "-o", lib.toString(), src.toString())
                    .redirectErrorStream(true).start();
        } catch (java.io.IOException e) {
            assumeTrue(false, "no g++ to build the test library: " + e.getMessage());
            return;
        }
        assumeTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "g++ failed: " + new String(p.getInputStream().readAllBytes()));
        Linker linker = Linker.nativeLinker();
        try (Arena arena = Arena.ofConfined()) {
            SymbolLookup l = SymbolLookup.libraryLookup(lib, arena);
            MethodHandle make = linker.downcallHandle(l.find("make_runtime").orElseThrow(), FunctionDescriptor.of(ValueLayout.ADDRESS));
            MethodHandle destroyed = linker.downcallHandle(l.find("destroyed_sum").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT));
            MethodHandle freed = linker.downcallHandle(l.find("freed_count").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT));
            for (int i = 1; i <= 3; i++) {
                MemorySegment obj = (MemorySegment) make.invokeExact();
                TrtObjects.deleteAt(obj.address());
                assertThat((int) destroyed.invokeExact()).isEqualTo(7 * i);
                assertThat((int) freed.invokeExact()).isEqualTo(i);
            }
        }
    }
}
