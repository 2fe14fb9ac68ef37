package dev.higgstrt.trt.cuda;

import dev.higgstrt.trt.tensorrt.TrtException;

import org.bytedeco.cuda.cudart.CUgraphExec_st;
import org.bytedeco.cuda.cudart.CUgraph_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.bytedeco.cuda.global.cudart.cudaFree;
import static org.bytedeco.cuda.global.cudart.cudaFreeHost;
import static org.bytedeco.cuda.global.cudart.cudaMallocHost;
import static org.bytedeco.cuda.global.cudart.cudaGetLastError;
import static org.bytedeco.cuda.global.cudart.cudaGraphDestroy;
import static org.bytedeco.cuda.global.cudart.cudaGraphExecDestroy;
import static org.bytedeco.cuda.global.cudart.cudaGraphInstantiate;
import static org.bytedeco.cuda.global.cudart.cudaGraphLaunch;
import static org.bytedeco.cuda.global.cudart.cudaStreamBeginCapture;
import static org.bytedeco.cuda.global.cudart.cudaStreamCaptureModeThreadLocal;
import static org.bytedeco.cuda.global.cudart.cudaStreamEndCapture;
import static org.bytedeco.cuda.global.cudart.cudaGetErrorString;
import static org.bytedeco.cuda.global.cudart.cudaMalloc;
import static org.bytedeco.cuda.global.cudart.cudaMemcpy;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyAsync;
import static org.bytedeco.cuda.global.cudart.cudaDeviceSynchronize;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyDeviceToDevice;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyDeviceToHost;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyHostToDevice;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyPeer;
import static org.bytedeco.cuda.global.cudart.cudaSetDevice;
import static org.bytedeco.cuda.global.cudart.cudaStreamCreate;
import static org.bytedeco.cuda.global.cudart.cudaStreamCreateWithFlags;
import static org.bytedeco.cuda.global.cudart.cudaStreamNonBlocking;
import static org.bytedeco.cuda.global.cudart.cudaStreamDestroy;
import static org.bytedeco.cuda.global.cudart.cudaStreamSynchronize;

/** CUDA runtime calls that throw {@link TrtException} with CUDA's message on failure. */
public final class Cuda {
    private Cuda() {
    }

    /**
     * Throws when a CUDA call failed.
     *
     * @param status the call's cudaError_t
     * @param what   the call, for the message
     * @throws TrtException naming the call and CUDA's error string
     */
    public static void check(int status, String what) {
        if (status != 0) {
            throw new TrtException(what + " failed: " + cudaGetErrorString(status).getString() + " (" + status + ")");
        }
    }

    /**
     * Makes {@code device} the calling thread's CUDA device.
     *
     * @param device the device
     */
    public static void setDevice(int device) {
        check(cudaSetDevice(device), "cudaSetDevice(" + device + ")");
    }

    /**
     * Host memory of a segment as a JavaCPP pointer (the segment must outlive its use).
     *
     * @param segment the segment
     * @return a pointer to the segment's memory (the segment must outlive its use)
     */
    public static Pointer host(MemorySegment segment) {
        return new BytePointer(segment.asByteBuffer());
    }

    /**
     * The device-to-device copy bandwidth of the current device, measured: {@code repeats} copies
     * of {@code bytes} between two buffers after one warm-up copy, counting the bytes read and
     * written (2 x bytes a copy) over the wall time to the last copy's end. The ceiling that
     * memory-bound steps are compared with, measured in the same run rather than assumed.
     *
     * @param bytes   bytes a copy (make it several times the L2 cache)
     * @param repeats timed copies
     * @return bytes a second
     */
    public static double copyBandwidth(long bytes, int repeats) {
        try (DeviceBuffer a = new DeviceBuffer(bytes); DeviceBuffer b = new DeviceBuffer(bytes)) {
            check(cudaMemcpy(b.pointer(), a.pointer(), bytes, cudaMemcpyDeviceToDevice), "cudaMemcpy device to device");
            check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
            long t0 = System.nanoTime();
            for (int i = 0; i < repeats; i++) {
                check(cudaMemcpy(i % 2 == 0 ? a.pointer() : b.pointer(), i % 2 == 0 ? b.pointer() : a.pointer(), bytes,
                        cudaMemcpyDeviceToDevice), "cudaMemcpy device to device");
            }
            check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
            return 2.0 * bytes * repeats / ((System.nanoTime() - t0) / 1e9);
        }
    }

    /** Device memory, freed once by {@link #close()}. */
    public static final class DeviceBuffer implements AutoCloseable {
        private final Pointer pointer = new Pointer();
        private final long bytes;
        private final AtomicBoolean closed = new AtomicBoolean();

        /**
         * Allocates device memory on the current device.
         *
         * @param bytes the size (at least 1 is allocated)
         */
        public DeviceBuffer(long bytes) {
            this.bytes = Math.max(bytes, 1);
            check(cudaMalloc(pointer, this.bytes), "cudaMalloc(" + this.bytes + ")");
        }

        /**
         * The device address.
         *
         * @return the allocation's pointer
         * @throws IllegalStateException after close
         */
        public Pointer pointer() {
            if (closed.get()) {
                throw new IllegalStateException("device buffer already freed");
            }
            return pointer;
        }

        /**
         * The size.
         *
         * @return bytes allocated
         */
        public long bytes() {
            return bytes;
        }

        /**
         * Copies host memory to the start of this buffer (synchronous).
         *
         * @param src the bytes to copy
         */
        public void upload(MemorySegment src) {
            if (src.byteSize() > bytes) {
                throw new IllegalArgumentException(src.byteSize() + " bytes into a device buffer of " + bytes);
            }
            check(cudaMemcpy(pointer(), host(src), src.byteSize(), cudaMemcpyHostToDevice), "cudaMemcpy to device");
        }

        /**
         * Copies the first {@code count} bytes of {@code src} (device {@code srcDevice}) into this buffer (device {@code device}).
         *
         * @param src       the source memory
         * @param srcDevice the src device
         * @param device    the device
         * @param count     the count
         */
        public void copyFrom(DeviceBuffer src, int srcDevice, int device, long count) {
            if (count > bytes || count > src.bytes) {
                throw new IllegalArgumentException(count + " bytes between device buffers of " + src.bytes + " and " + bytes);
            }
            check(cudaMemcpyPeer(pointer(), device, src.pointer(), srcDevice, count), "cudaMemcpyPeer");
        }

        /**
         * Copies {@code dst.byteSize()} bytes from {@code offset} bytes into this buffer to host memory (synchronous).
         *
         * @param dst    receives the bytes
         * @param offset where in this buffer to start
         */
        public void download(MemorySegment dst, long offset) {
            Pointer from = at(offset, dst.byteSize());
            check(cudaMemcpy(host(dst), from, dst.byteSize(), cudaMemcpyDeviceToHost), "cudaMemcpy to host");
        }

        /**
         * Copies the start of this buffer to host memory (synchronous).
         *
         * @param dst receives {@code dst.byteSize()} bytes
         */
        public void download(MemorySegment dst) {
            check(cudaMemcpy(host(dst), pointer(), dst.byteSize(), cudaMemcpyDeviceToHost), "cudaMemcpy to host");
        }

        /** The address {@code offset} bytes in, checked to leave {@code count} bytes inside. */
        private Pointer at(long offset, long count) {
            if (offset < 0 || offset + count > bytes) {
                throw new IllegalArgumentException("download of " + count + " bytes at " + offset + " outside " + bytes);
            }
            return new Pointer(pointer()).position(offset);
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) {
                check(cudaFree(pointer), "cudaFree");
            }
        }
    }

    /**
     * Page-locked host memory, freed once by {@link #close()}: a copy between it and the device
     * runs as one DMA transfer in order on a stream, without the driver's staging copy through its
     * own pinned buffer (which made each upload of pageable memory wait for the transfer).
     */
    public static final class PinnedBuffer implements AutoCloseable {
        private final Pointer pointer = new Pointer();
        private final MemorySegment segment;
        private final AtomicBoolean closed = new AtomicBoolean();

        /**
         * Allocates page-locked host memory.
         *
         * @param bytes the size (at least 1 is allocated)
         */
        public PinnedBuffer(long bytes) {
            long size = Math.max(bytes, 1);
            check(cudaMallocHost(pointer, size), "cudaMallocHost(" + size + ")");
            segment = MemorySegment.ofAddress(pointer.address()).reinterpret(size);
        }

        /**
         * The memory, for the host to read and write (not after {@link #close()}).
         *
         * @return a segment over the whole allocation
         * @throws IllegalStateException after close
         */
        public MemorySegment segment() {
            if (closed.get()) {
                throw new IllegalStateException("pinned buffer already freed");
            }
            return segment;
        }

        /**
         * Copies the first {@code count} bytes of this buffer to the start of {@code dst} in order on
         * {@code stream}. Asynchronous: the host must not write those bytes again until the stream
         * has passed the copy.
         *
         * @param dst    the device buffer
         * @param count  bytes to copy
         * @param stream the stream
         */
        public void uploadTo(DeviceBuffer dst, long count, Stream stream) {
            if (count > segment().byteSize() || count > dst.bytes()) {
                throw new IllegalArgumentException(count + " bytes from a pinned buffer of " + segment.byteSize()
                        + " into a device buffer of " + dst.bytes());
            }
            check(cudaMemcpyAsync(dst.pointer(), pointer, count, cudaMemcpyHostToDevice, stream.handle()), "cudaMemcpyAsync to device");
        }

        /**
         * Copies the first {@code count} bytes of {@code src} into the start of this buffer after the
         * work enqueued on {@code stream}, and waits for it.
         *
         * @param src    the device buffer
         * @param count  bytes to copy
         * @param stream the stream
         */
        public void downloadFrom(DeviceBuffer src, long count, Stream stream) {
            if (count > segment().byteSize() || count > src.bytes()) {
                throw new IllegalArgumentException(count + " bytes from a device buffer of " + src.bytes()
                        + " into a pinned buffer of " + segment.byteSize());
            }
            check(cudaMemcpyAsync(pointer, src.pointer(), count, cudaMemcpyDeviceToHost, stream.handle()), "cudaMemcpyAsync to host");
            stream.synchronize();
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) {
                check(cudaFreeHost(pointer), "cudaFreeHost");
            }
        }
    }

    /**
     * A CUDA graph captured from the work one call enqueues on a stream, instantiated for replay:
     * the same kernels with the same arguments and addresses, launched at once instead of one by
     * one from the host. Destroyed once by {@link #close()}.
     */
    public static final class Graph implements AutoCloseable {
        private final CUgraphExec_st exec;
        private final AtomicBoolean closed = new AtomicBoolean();

        private Graph(CUgraphExec_st exec) {
            this.exec = exec;
        }

        /**
         * Captures what {@code work} enqueues on {@code stream} (nothing runs) and instantiates it.
         *
         * @param stream the stream {@code work} enqueues on
         * @param work   enqueues the work; returns false when enqueuing failed
         * @return the graph, ready to {@link #launch}
         * @throws TrtException when capturing fails (for example, the work synchronized with the host)
         */
        public static Graph capture(Stream stream, java.util.function.BooleanSupplier work) {
            check(cudaStreamBeginCapture(stream.handle(), cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
            boolean enqueued = false;
            RuntimeException failure = null;
            try {
                enqueued = work.getAsBoolean();
            } catch (RuntimeException e) {
                failure = e;
            }
            CUgraph_st graph = new CUgraph_st();
            int ended = cudaStreamEndCapture(stream.handle(), graph);
            boolean haveGraph = ended == 0 && !graph.isNull();
            try {
                if (failure != null) {
                    throw failure;
                }
                if (!haveGraph) {
                    throw new TrtException("cudaStreamEndCapture failed: " + cudaGetErrorString(ended).getString()
                            + " (captured work must not synchronize with the host)");
                }
                if (!enqueued) {
                    throw new TrtException("the captured work failed to enqueue");
                }
                CUgraphExec_st exec = new CUgraphExec_st();
                check(cudaGraphInstantiate(exec, graph, 0L), "cudaGraphInstantiate");
                return new Graph(exec);
            } finally {
                cudaGetLastError();   // a failed capture leaves its error behind; the next call must not see it
                if (haveGraph) {
                    cudaGraphDestroy(graph);
                }
            }
        }

        /**
         * Replays the graph on {@code stream}.
         *
         * @param stream the stream
         */
        public void launch(Stream stream) {
            if (closed.get()) {
                throw new IllegalStateException("graph already destroyed");
            }
            check(cudaGraphLaunch(exec, stream.handle()), "cudaGraphLaunch");
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) {
                check(cudaGraphExecDestroy(exec), "cudaGraphExecDestroy");
            }
        }
    }

    /** A CUDA stream, destroyed once by {@link #close()}. */
    public static final class Stream implements AutoCloseable {
        private final CUstream_st stream = new CUstream_st();
        private final AtomicBoolean closed = new AtomicBoolean();

        /**
         * Creates a stream on the current device.
         */
        public Stream() {
            check(cudaStreamCreate(stream), "cudaStreamCreate");
        }

        /**
         * Creates a stream on the current device that does not synchronize with the legacy
         * default stream: what another thread copies synchronously then neither waits for this
         * stream's work nor breaks a graph capture on it. The stream's owner orders its own
         * synchronous copies (synchronize before reading results).
         *
         * @return the stream
         */
        public static Stream nonBlocking() {
            return new Stream(cudaStreamNonBlocking);
        }

        private Stream(int flags) {
            check(cudaStreamCreateWithFlags(stream, flags), "cudaStreamCreateWithFlags");
        }

        /**
         * The CUDA stream.
         *
         * @return its handle
         */
        public CUstream_st handle() {
            return stream;
        }

        /**
         * Waits for the work enqueued on this stream.
         */
        public void synchronize() {
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
