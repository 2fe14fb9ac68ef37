package dev.higgstrt.trt.plugin;

import dev.higgstrt.trt.tensorrt.TrtObjects;
import dev.higgstrt.trt.tensorrt.TrtException;

import com.sun.jna.Library;
import com.sun.jna.Native;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.cuda.global.nccl;
import org.bytedeco.cuda.nccl.ncclComm;

import java.time.Duration;
import java.util.Arrays;

/**
 * The ranks of one tensor-parallel group, for the all-reduce after each partial product. Owns the
 * native group (and its NCCL communicators); {@link #close()} frees them once, after every
 * execution context bound to it is gone. Not for use by several threads at once, except for the
 * binding, which is per thread.
 */
public final class ReduceGroup implements AutoCloseable {
    /** How the ranks exchange their partial sums. */
    public enum Kind {
        /** NCCL, one communicator per GPU: ranks on distinct GPUs. */
        NCCL,
        /**
         * Ranks that are threads of this process, on one GPU or on GPUs with peer access: each
         * waits for the others on the host and sums every rank's input on its own stream. The way
         * to run several ranks on one GPU (NCCL refuses two ranks on one device).
         */
        IN_PROCESS
    }

    /** Process environment: NCCL reads its settings from there when its first communicator is made. */
    private interface C extends Library {
        int setenv(String name, String value, int overwrite);
    }

    private final Kind kind;
    private final int world;
    private final int[] devices;
    private final com.sun.jna.Pointer handle;
    private final ncclComm[] comms;
    private boolean closed;

    private ReduceGroup(Kind kind, int[] devices, com.sun.jna.Pointer handle, ncclComm[] comms) {
        this.kind = kind;
        this.world = devices.length;
        this.devices = devices.clone();
        this.handle = handle;
        this.comms = comms;
    }

    /**
     * A group of ranks that are threads of this process, rank {@code r} on CUDA device
     * {@code devices[r]} (devices may repeat). A rank that waits more than {@code timeout} for the
     * others fails its step, and the group stays broken.
     *
     * @param timeout the timeout
     * @param devices the devices
     * @return a group of ranks that are threads of this process, rank {@code r} on CUDA device {@code devices[r]} (devices may repeat)
     */
    public static ReduceGroup inProcess(Duration timeout, int... devices) {
        AllReducePlugin plugin = AllReducePlugin.get();
        checkWorld(plugin, devices);
        com.sun.jna.Pointer handle = plugin.lib.higgs_all_reduce_local_group(devices.length, Math.max(1, timeout.toMillis()));
        if (handle == null) {
            throw new TrtException("creating an in-process group of " + devices.length + " ranks failed");
        }
        return new ReduceGroup(Kind.IN_PROCESS, devices, handle, null);
    }

    /**
     * A group over NCCL, one communicator per device ({@code ncclCommInitAll}), rank {@code r} on
     * {@code devices[r]}; the devices must be distinct. NVLink multicast is left off
     * ({@code NCCL_NVLS_ENABLE=0}) unless the environment says otherwise.
     *
     * @throws TrtException when NCCL cannot be loaded or refuses the devices
     * @param devices the devices
     * @return a group over NCCL, one communicator per device ({@code ncclCommInitAll}), rank {@code r} on {@code devices[r]}; the devices must be distinct
     */
    public static ReduceGroup nccl(int... devices) {
        AllReducePlugin plugin = AllReducePlugin.get();
        checkWorld(plugin, devices);
        if (Arrays.stream(devices).distinct().count() != devices.length) {
            throw new IllegalArgumentException("NCCL needs one GPU per rank, got devices " + Arrays.toString(devices)
                    + "; use an in-process group for several ranks on one GPU");
        }
        Native.load("c", C.class).setenv("NCCL_NVLS_ENABLE", "0", 0);
        PointerPointer<ncclComm> out = new PointerPointer<>(devices.length);
        int status;
        try {
            status = nccl.ncclCommInitAll(out, devices.length, devices);
        } catch (UnsatisfiedLinkError e) {
            throw new TrtException("NCCL could not be loaded (put libnccl.so.2 on LD_LIBRARY_PATH): " + e.getMessage());
        }
        if (status != 0) {
            throw new TrtException("ncclCommInitAll over devices " + Arrays.toString(devices) + " failed: "
                    + nccl.ncclGetErrorString(status).getString());
        }
        ncclComm[] comms = new ncclComm[devices.length];
        com.sun.jna.Pointer[] addresses = new com.sun.jna.Pointer[devices.length];
        for (int r = 0; r < devices.length; r++) {
            long a = out.get(r).address();
            comms[r] = new ncclComm(TrtObjects.address(java.lang.foreign.MemorySegment.ofAddress(a)));
            addresses[r] = new com.sun.jna.Pointer(a);
        }
        if (plugin.lib.higgs_all_reduce_load_nccl() != 0) {
            destroy(comms);
            throw new TrtException("the all-reduce plugin found no NCCL: " + plugin.lastError());
        }
        com.sun.jna.Pointer handle = plugin.lib.higgs_all_reduce_nccl_group(devices.length, addresses);
        if (handle == null) {
            destroy(comms);
            throw new TrtException("creating an NCCL group of " + devices.length + " ranks failed");
        }
        return new ReduceGroup(Kind.NCCL, devices, handle, comms);
    }

    private static void checkWorld(AllReducePlugin plugin, int[] devices) {
        int max = plugin.lib.higgs_all_reduce_max_world();
        if (devices.length < 1 || devices.length > max) {
            throw new IllegalArgumentException("a group has 1 to " + max + " ranks, got " + devices.length);
        }
    }

    private static void destroy(ncclComm[] comms) {
        for (ncclComm c : comms) {
            nccl.ncclCommDestroy(c);
        }
    }

    /**
     * How the ranks exchange.
     *
     * @return how the ranks exchange
     */
    public Kind kind() {
        return kind;
    }

    /**
     * Number of ranks.
     *
     * @return number of ranks
     */
    public int world() {
        return world;
    }

    /**
     * The CUDA device of {@code rank}.
     *
     * @param rank the rank
     * @return the CUDA device of {@code rank}
     */
    public int device(int rank) {
        return devices[rank];
    }

    /**
     * Execution contexts created on this thread until {@link #unbind()} sum as {@code rank} of this group.
     *
     * @param rank the rank
     */
    public void bind(int rank) {
        if (closed) {
            throw new IllegalStateException("reduce group is closed");
        }
        if (AllReducePlugin.get().lib.higgs_all_reduce_bind(handle, rank) != 0) {
            throw new IllegalArgumentException("rank " + rank + " outside a group of " + world);
        }
    }

    /**
     * Clears the calling thread's group binding in the plugin library (the binding a context takes when it is attached).
     */
    public static void unbind() {
        AllReducePlugin.get().lib.higgs_all_reduce_unbind();
    }

    /** Frees the group and its communicators. Idempotent; contexts bound to it must be closed first. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        AllReducePlugin.get().lib.higgs_all_reduce_group_free(handle);
        if (comms != null) {
            destroy(comms);
        }
    }
}
