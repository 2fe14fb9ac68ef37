package dev.higgstrt.reference;

import dev.higgstrt.tensor.Conversions;
import dev.higgstrt.tensor.DType;

import java.lang.foreign.MemorySegment;

/**
 * A weight matrix [rows, cols] in its stored type (F32, BF16 or F16), read as floats a block of
 * rows at a time: the reference computes from the mapped checkpoint rather than from a float copy
 * of every weight, so the full model runs in a small heap.
 */
record Matrix(MemorySegment data, DType dtype, int rows, int cols) {
    Matrix {
        if (dtype != DType.F32 && dtype != DType.BF16 && dtype != DType.F16) {
            throw new IllegalArgumentException("the reference reads F32, BF16 or F16 weights, not " + dtype);
        }
        if (data.byteSize() != (long) rows * cols * dtype.byteSize()) {
            throw new IllegalArgumentException("matrix [" + rows + "," + cols + "] does not match " + data.byteSize() + " bytes");
        }
    }

    /** A matrix over a float array (row-major [rows, cols]). */
    static Matrix of(float[] values, int rows, int cols) {
        return new Matrix(MemorySegment.ofArray(values), DType.F32, rows, cols);
    }

    /** The float array behind a matrix made by {@link #of(float[], int, int)}, or null. */
    float[] heapFloats() {
        return dtype == DType.F32 && data.heapBase().orElse(null) instanceof float[] values ? values : null;
    }

    /** Rows {@code [first, first + count)} as floats into {@code dst} from index 0. */
    void read(int first, int count, float[] dst) {
        Conversions.toFloats(data, dtype, (long) first * cols, dst, 0, count * cols);
    }

    /** Every value as a new float array (for vectors and small matrices). */
    float[] toFloats() {
        float[] out = new float[rows * cols];
        read(0, rows, out);
        return out;
    }
}
