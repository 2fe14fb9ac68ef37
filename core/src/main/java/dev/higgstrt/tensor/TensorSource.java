package dev.higgstrt.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A tensor whose bytes are produced on demand, a block of rows at a time: a region of a
 * memory-mapped file, a materialized {@link Tensor}, or a lazy view derived from other sources
 * (slice, concatenation, cast, padding). Nothing is read or copied until {@link #readRows} or
 * {@link #materialize} is called, so a whole model can be transformed and written while only
 * one block is held in memory.
 *
 * <p>A <em>row</em> is one index along dimension 0: for a tensor of shape {@code [d0, d1, ...]}
 * it holds {@code d1 * d2 * ...} elements. A one-dimensional tensor has rows of one element, and
 * a scalar is one row of one element. Data is row-major and little-endian, as in safetensors.
 *
 * <p>Implementations are immutable and safe for concurrent reads.
 */
public interface TensorSource {

    /**
     * Element type.
     *
     * @return element type
     */
    DType dtype();

    /**
     * Shape.
     *
     * @return shape
     */
    Shape shape();

    /**
     * Copies rows {@code [firstRow, firstRow + rowCount)} into {@code dst}, which must hold at
     * least {@code rowCount * rowBytes()} bytes.
     *
     * @param firstRow the first row
     * @param rowCount the row count
     * @param dst      the destination memory
     */
    void readRows(long firstRow, long rowCount, MemorySegment dst);

    /**
     * Number of rows (the size of dimension 0; 1 for a scalar).
     *
     * @return number of rows (the size of dimension 0; 1 for a scalar)
     */
    default long rowCount() {
        return shape().rank() == 0 ? 1 : shape().dim(0);
    }

    /**
     * Elements in one row.
     *
     * @return elements in one row
     */
    default long rowElements() {
        return shape().rank() == 0 ? 1 : shape().innerCount(0);
    }

    /**
     * Bytes in one row.
     *
     * @return bytes in one row
     */
    default long rowBytes() {
        return rowElements() * dtype().byteSize();
    }

    /**
     * Total bytes.
     *
     * @return total bytes
     */
    default long byteSize() {
        return shape().elementCount() * dtype().byteSize();
    }

    /**
     * Reads all the data into a new contiguous tensor allocated in {@code arena}: this is
     * the explicit copy.
     *
     * @param arena the arena that owns the memory
     * @return all the data into a new contiguous tensor allocated in {@code arena}: this is the explicit copy
     */
    default Tensor materialize(Arena arena) {
        MemorySegment seg = arena.allocate(Math.max(1, byteSize()), 8).asSlice(0, byteSize());
        readRows(0, rowCount(), seg);
        return Tensor.wrap(dtype(), shape(), seg);
    }

    /**
     * A lazy view of indices {@code [start, end)} along {@code dim}. Slices along dimension 0
     * read only the rows they need.
     *
     * @param dim   the dimension (negative counts from the last)
     * @param start the first index (inclusive)
     * @param end   the last index (exclusive)
     * @return a lazy view of indices {@code [start, end)} along {@code dim}
     */
    default TensorSource slice(int dim, long start, long end) {
        return DerivedSources.slice(this, dim, start, end);
    }

    /**
     * Part {@code index} of {@code parts} equal parts along {@code dim}.
     *
     * @param dim   the dimension (negative counts from the last)
     * @param index the index
     * @param parts the number of parts
     * @return part {@code index} of {@code parts} equal parts along {@code dim}
     */
    default TensorSource chunk(int dim, int index, int parts) {
        int axis = shape().axis(dim);
        long size = shape().dim(axis);
        if (parts <= 0 || size % parts != 0) {
            throw new IllegalArgumentException("cannot split dim " + axis + " of " + shape() + " into " + parts + " equal parts");
        }
        if (index < 0 || index >= parts) {
            throw new IllegalArgumentException("part " + index + " out of range [0," + parts + ")");
        }
        long step = size / parts;
        return slice(axis, index * step, (index + 1) * step);
    }

    /**
     * A lazy view converted to {@code target} (round to nearest even when narrowing).
     *
     * @param target the target type
     * @return a lazy view converted to {@code target} (round to nearest even when narrowing)
     */
    default TensorSource cast(DType target) {
        return target == dtype() ? this : DerivedSources.cast(this, target);
    }

    /**
     * A lazy view with {@code extraRows} zero rows appended along dimension 0.
     *
     * @param extraRows the extra rows
     * @return a lazy view with {@code extraRows} zero rows appended along dimension 0
     */
    default TensorSource padRows(long extraRows) {
        return extraRows == 0 ? this : DerivedSources.padRows(this, extraRows);
    }

    /**
     * A lazy view with the same bytes and another shape of the same element count.
     *
     * @param newShape the new shape
     * @return a lazy view with the same bytes and another shape of the same element count
     */
    default TensorSource reshape(Shape newShape) {
        return DerivedSources.reshape(this, newShape);
    }

    /**
     * The lazy concatenation of {@code parts} along {@code dim}.
     *
     * @throws IllegalArgumentException when dtypes differ or any other dimension differs
     * @param parts the number of parts
     * @param dim   the dimension (negative counts from the last)
     * @return the lazy concatenation of {@code parts} along {@code dim}
     */
    static TensorSource concat(List<? extends TensorSource> parts, int dim) {
        return DerivedSources.concat(parts, dim);
    }
}
