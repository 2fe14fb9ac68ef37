package dev.higgstrt.trt;

import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.bytedeco.cuda.global.cudart.cudaFree;
import static org.bytedeco.cuda.global.cudart.cudaGetErrorString;
import static org.bytedeco.cuda.global.cudart.cudaMalloc;
import static org.bytedeco.cuda.global.cudart.cudaMemcpy;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyDeviceToHost;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyHostToDevice;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyPeer;
import static org.bytedeco.cuda.global.cudart.cudaSetDevice;
import static org.bytedeco.cuda.global.cudart.cudaStreamCreate;
import static org.bytedeco.cuda.global.cudart.cudaStreamDestroy;
import static org.bytedeco.cuda.global.cudart.cudaStreamSynchronize;

/** CUDA runtime calls that throw {@link TrtException} with CUDA's message on failure. */
final class Cuda {
    private Cuda() {
    }

    static void check(int status, String what) {
        if (status != 0) {
            throw new TrtException(what + " failed: " + cudaGetErrorString(status).getString() + " (" + status + ")");
        }
    }

    /** Makes {@code device} the calling thread's CUDA device. */
    static void setDevice(int device) {
        check(cudaSetDevice(device), "cudaSetDevice(" + device + ")");
    }

    /** Host memory of a segment as a JavaCPP pointer (the segment must outlive its use). */
    static Pointer host(MemorySegment segment) {
        return new BytePointer(segment.asByteBuffer());
    }

    /** Device memory, freed once by {@link #close()}. */
    static final class DeviceBuffer implements AutoCloseable {
        private final Pointer pointer = new Pointer();
        private final long bytes;
        private final AtomicBoolean closed = new AtomicBoolean();

        DeviceBuffer(long bytes) {
            this.bytes = Math.max(bytes, 1);
            check(cudaMalloc(pointer, this.bytes), "cudaMalloc(" + this.bytes + ")");
        }

        Pointer pointer() {
            if (closed.get()) {
                throw new IllegalStateException("device buffer already freed");
            }
            return pointer;
        }

        long bytes() {
            return bytes;
        }

        void upload(MemorySegment src) {
            if (src.byteSize() > bytes) {
                throw new IllegalArgumentException(src.byteSize() + " bytes into a device buffer of " + bytes);
            }
            check(cudaMemcpy(pointer(), host(src), src.byteSize(), cudaMemcpyHostToDevice), "cudaMemcpy to device");
        }

        /** Copies the first {@code count} bytes of {@code src} (device {@code srcDevice}) into this buffer (device {@code device}). */
        void copyFrom(DeviceBuffer src, int srcDevice, int device, long count) {
            if (count > bytes || count > src.bytes) {
                throw new IllegalArgumentException(count + " bytes between device buffers of " + src.bytes + " and " + bytes);
            }
            check(cudaMemcpyPeer(pointer(), device, src.pointer(), srcDevice, count), "cudaMemcpyPeer");
        }

        void download(MemorySegment dst) {
            check(cudaMemcpy(host(dst), pointer(), dst.byteSize(), cudaMemcpyDeviceToHost), "cudaMemcpy to host");
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) {
                check(cudaFree(pointer), "cudaFree");
            }
        }
    }

    /** A CUDA stream, destroyed once by {@link #close()}. */
    static final class Stream implements AutoCloseable {
        private final CUstream_st stream = new CUstream_st();
        private final AtomicBoolean closed = new AtomicBoolean();

        Stream() {
            check(cudaStreamCreate(stream), "cudaStreamCreate");
        }

        CUstream_st handle() {
            return stream;
        }

        void synchronize() {
            check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) {
                check(cudaStreamDestroy(stream), "cudaStreamDestroy");
            }
        }
    }
}
