package dev.higgstrt.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * A contiguous, row-major, little-endian tensor over off-heap memory. The object is an
 * immutable value (dtype, shape, segment); views share the segment of the tensor they come
 * from. The memory lives as long as the {@link Arena} that owns it: reading a tensor whose
 * arena (or whose {@code SafetensorsReader}) was closed throws {@link IllegalStateException}.
 */
public final class Tensor implements TensorSource {
    private final DType dtype;
    private final Shape shape;
    private final MemorySegment data;

    private Tensor(DType dtype, Shape shape, MemorySegment data) {
        this.dtype = Objects.requireNonNull(dtype);
        this.shape = Objects.requireNonNull(shape);
        this.data = Objects.requireNonNull(data);
    }

    /**
     * A tensor over existing memory.
     *
     * @throws IllegalArgumentException if the segment's size is not exactly the tensor's size
     * @param dtype the element type
     * @param shape the shape
     * @param data  the data
     * @return a tensor over existing memory
     */
    public static Tensor wrap(DType dtype, Shape shape, MemorySegment data) {
        long expected = shape.elementCount() * dtype.byteSize();
        if (data.byteSize() != expected) {
            throw new IllegalArgumentException(dtype + " " + shape + " needs " + expected
                    + " bytes, the segment has " + data.byteSize());
        }
        return new Tensor(dtype, shape, data);
    }

    /**
     * A zero-filled tensor allocated in {@code arena}.
     *
     * @param dtype the element type
     * @param shape the shape
     * @param arena the arena that owns the memory
     * @return a zero-filled tensor allocated in {@code arena}
     */
    public static Tensor allocate(DType dtype, Shape shape, Arena arena) {
        long bytes = shape.elementCount() * dtype.byteSize();
        return new Tensor(dtype, shape, arena.allocate(Math.max(1, bytes), 8).asSlice(0, bytes));
    }

    /**
     * A tensor of type {@code dtype} holding {@code values} (rounded when narrower than F32).
     *
     * @param dtype  the element type
     * @param shape  the shape
     * @param values the values
     * @param arena  the arena that owns the memory
     * @return a tensor of type {@code dtype} holding {@code values} (rounded when narrower than F32)
     */
    public static Tensor fromFloats(DType dtype, Shape shape, float[] values, Arena arena) {
        if (values.length != shape.elementCount()) {
            throw new IllegalArgumentException(values.length + " values for shape " + shape);
        }
        Tensor t = allocate(dtype, shape, arena);
        Conversions.fromFloats(values, 0, t.data, dtype, 0, values.length);
        return t;
    }

    @Override
    public DType dtype() {
        return dtype;
    }

    @Override
    public Shape shape() {
        return shape;
    }

    /**
     * The tensor's memory (read-only when it maps a file opened for reading).
     *
     * @return the tensor's memory (read-only when it maps a file opened for reading)
     */
    public MemorySegment data() {
        return data;
    }

    @Override
    public void readRows(long firstRow, long rowCount, MemorySegment dst) {
        long rowBytes = rowBytes();
        MemorySegment.copy(data, firstRow * rowBytes, dst, 0, rowCount * rowBytes);
    }

    /**
     * Indices {@code [start, end)} along {@code dim}: a zero-copy view when the result is
     * contiguous in this tensor (dimension 0, or all leading dimensions of size 1), otherwise a
     * copy allocated in an automatic arena.
     */
    @Override
    public Tensor slice(int dim, long start, long end) {
        return slice(dim, start, end, Arena.ofAuto());
    }

    /**
     * As {@link #slice(int, long, long)}, allocating a copy (when one is needed) in {@code arena}.
     *
     * @param dim   the dimension (negative counts from the last)
     * @param start the first index (inclusive)
     * @param end   the last index (exclusive)
     * @param arena the arena that owns the memory
     * @return the slice, contiguous
     */
    public Tensor slice(int dim, long start, long end, Arena arena) {
        int axis = shape.axis(dim);
        DerivedSources.checkRange(shape, axis, start, end);
        if (shape.outerCount(axis) == 1) {
            long inner = shape.innerCount(axis) * dtype.byteSize();
            return new Tensor(dtype, shape.withDim(axis, end - start), data.asSlice(start * inner, (end - start) * inner));
        }
        return DerivedSources.slice(this, axis, start, end).materialize(arena);
    }

    /** The same memory seen with another shape of equal element count. */
    @Override
    public Tensor reshape(Shape newShape) {
        if (newShape.elementCount() != shape.elementCount()) {
            throw new IllegalArgumentException("cannot reshape " + shape + " to " + newShape);
        }
        return new Tensor(dtype, newShape, data);
    }

    /**
     * A converted copy in {@code arena} (this tensor itself when the dtype already matches).
     *
     * @param target the target type
     * @param arena  the arena that owns the memory
     * @return a converted copy in {@code arena} (this tensor itself when the dtype already matches)
     */
    public Tensor to(DType target, Arena arena) {
        if (target == dtype) {
            return this;
        }
        Tensor out = allocate(target, shape, arena);
        Conversions.convert(data, dtype, out.data, target, shape.elementCount());
        return out;
    }

    /**
     * Element {@code index} (row-major flat index) as a float.
     *
     * @param index the index
     * @return element {@code index} (row-major flat index) as a float
     */
    public float getFloat(long index) {
        Objects.checkIndex(index, shape.elementCount());
        return switch (dtype) {
            case F32 -> data.get(Conversions.LE_FLOAT, index * 4);
            case BF16 -> FloatFormats.bf16ToFloat(data.get(Conversions.LE_SHORT, index * 2));
            case F16 -> FloatFormats.f16ToFloat(data.get(Conversions.LE_SHORT, index * 2));
            case F64 -> (float) data.get(Conversions.LE_DOUBLE, index * 8);
            case I32 -> data.get(Conversions.LE_INT, index * 4);
            case I64 -> data.get(Conversions.LE_LONG, index * 8);
            case I8 -> data.get(java.lang.foreign.ValueLayout.JAVA_BYTE, index);
            case U8, BOOL -> data.get(java.lang.foreign.ValueLayout.JAVA_BYTE, index) & 0xFF;
            default -> throw new UnsupportedOperationException("getFloat on " + dtype);
        };
    }

    /**
     * All elements as floats (for tensors of fewer than 2^31 elements).
     *
     * @return all elements as floats (for tensors of fewer than 2^31 elements)
     */
    public float[] toFloatArray() {
        long n = shape.elementCount();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("tensor " + shape + " too large for a Java array");
        }
        float[] out = new float[(int) n];
        if (Conversions.supports(dtype, DType.F32)) {
            Conversions.toFloats(data, dtype, 0, out, 0, out.length);
        } else {
            for (int i = 0; i < out.length; i++) {
                out[i] = getFloat(i);
            }
        }
        return out;
    }

    /**
     * Whether {@code other} has the same dtype, shape and bytes.
     *
     * @param other the other one
     * @return whether {@code other} has the same dtype, shape and bytes
     */
    public boolean contentEquals(Tensor other) {
        return dtype == other.dtype && shape.equals(other.shape)
                && data.mismatch(other.data) == -1;
    }

    @Override
    public String toString() {
        return "Tensor(" + dtype + " " + shape + ")";
    }
}
