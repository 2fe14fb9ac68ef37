package dev.higgstrt.trt.tensorrt;

import org.bytedeco.javacpp.Pointer;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Deletes TensorRT objects. The JavaCPP 1.5.11 presets attach no deleter to objects that TensorRT
 * factories return (runtime, engine, context, builder, network, config, host memory), so their
 * {@code close()} frees nothing. Every TensorRT interface derives from {@code nvinfer1::INoCopy},
 * whose only virtual function is its destructor; under the Itanium C++ ABI (Linux) slot 0 of the
 * vtable is then the complete-object destructor and slot 1 the deleting destructor, which is what
 * {@code delete p} calls. This class calls slot 1 through the FFM API.
 */
public final class TrtObjects {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final FunctionDescriptor DESTRUCTOR = FunctionDescriptor.ofVoid(ValueLayout.ADDRESS);

    private TrtObjects() {
    }

    /**
     * {@code delete object}, through its virtual deleting destructor, then nulls the pointer.
     * Null or already-deleted pointers are ignored.
     *
     * @param object the object
     */
    public static void delete(Pointer object) {
        if (object == null || object.isNull()) {
            return;
        }
        deleteAt(object.address());
        object.setNull();
    }

    /** {@code delete} of the polymorphic C++ object at {@code address} (its first virtual is the destructor). */
    static void deleteAt(long address) {
        MemorySegment obj = MemorySegment.ofAddress(address).reinterpret(ValueLayout.ADDRESS.byteSize());
        MemorySegment vtable = obj.get(ValueLayout.ADDRESS, 0).reinterpret(2 * ValueLayout.ADDRESS.byteSize());
        MemorySegment deletingDestructor = vtable.getAtIndex(ValueLayout.ADDRESS, 1);
        MethodHandle call = LINKER.downcallHandle(deletingDestructor, DESTRUCTOR);
        try {
            call.invokeExact(MemorySegment.ofAddress(address));
        } catch (Throwable t) {
            throw new TrtException("deleting a TensorRT object failed: " + t);
        }
    }

    /**
     * A JavaCPP pointer to off-heap memory of any size (a ByteBuffer holds at most 2 GB).
     *
     * @param segment the memory
     * @return a pointer to its first byte
     */
    public static org.bytedeco.javacpp.Pointer address(java.lang.foreign.MemorySegment segment) {
        long a = segment.address();
        return new org.bytedeco.javacpp.Pointer() {
            {
                address = a;
            }
        };
    }
}
