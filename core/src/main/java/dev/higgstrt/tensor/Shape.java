package dev.higgstrt.tensor;

import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.LongStream;

/**
 * An immutable tensor shape. Dimensions are non-negative; the element count never overflows
 * a {@code long} (construction refuses shapes whose product would).
 */
public final class Shape {
    private final long[] dims;
    private final long elementCount;

    private Shape(long[] dims) {
        long count = 1;
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] < 0) {
                throw new IllegalArgumentException("negative dimension " + dims[i] + " in " + Arrays.toString(dims));
            }
            try {
                count = Math.multiplyExact(count, dims[i]);
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("shape " + Arrays.toString(dims) + " has more than 2^63 elements");
            }
        }
        this.dims = dims;
        this.elementCount = count;
    }

    /**
     * A shape with these dimensions.
     *
     * @param dims the dims
     * @return a shape with these dimensions
     */
    public static Shape of(long... dims) {
        return new Shape(dims.clone());
    }

    /**
     * A shape from a list of dimensions.
     *
     * @param dims the dims
     * @return a shape from a list of dimensions
     */
    public static Shape of(List<? extends Number> dims) {
        return new Shape(dims.stream().mapToLong(Number::longValue).toArray());
    }

    /**
     * Number of dimensions.
     *
     * @return number of dimensions
     */
    public int rank() {
        return dims.length;
    }

    /**
     * Size of dimension {@code i}; negative {@code i} counts from the end.
     *
     * @param i the i
     * @return size of dimension {@code i}; negative {@code i} counts from the end
     */
    public long dim(int i) {
        return dims[axis(i)];
    }

    /**
     * Normalizes a possibly negative axis index and checks it.
     *
     * @param i the i
     * @return the axis as a non-negative index
     */
    public int axis(int i) {
        int a = i < 0 ? i + dims.length : i;
        if (a < 0 || a >= dims.length) {
            throw new IllegalArgumentException("dimension " + i + " out of range for shape " + this);
        }
        return a;
    }

    /**
     * A copy of the dimensions.
     *
     * @return a copy of the dimensions
     */
    public long[] toArray() {
        return dims.clone();
    }

    /**
     * Product of all dimensions.
     *
     * @return product of all dimensions
     */
    public long elementCount() {
        return elementCount;
    }

    /**
     * Product of the dimensions before {@code axis}.
     *
     * @param axis the axis
     * @return product of the dimensions before {@code axis}
     */
    public long outerCount(int axis) {
        long n = 1;
        for (int i = 0; i < axis(axis); i++) {
            n *= dims[i];
        }
        return n;
    }

    /**
     * Product of the dimensions after {@code axis}.
     *
     * @param axis the axis
     * @return product of the dimensions after {@code axis}
     */
    public long innerCount(int axis) {
        long n = 1;
        for (int i = axis(axis) + 1; i < dims.length; i++) {
            n *= dims[i];
        }
        return n;
    }

    /**
     * This shape with dimension {@code axis} replaced.
     *
     * @param axis the axis
     * @param size the size
     * @return this shape with dimension {@code axis} replaced
     */
    public Shape withDim(int axis, long size) {
        long[] d = dims.clone();
        d[axis(axis)] = size;
        return new Shape(d);
    }

    /**
     * The dimensions as a list, for JSON.
     *
     * @return the dimensions as a list, for JSON
     */
    public List<Long> toList() {
        return LongStream.of(dims).boxed().toList();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shape s && Arrays.equals(dims, s.dims);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(dims);
    }

    /** {@code [d0,d1,...]}, the form used in CLI output and error messages. */
    @Override
    public String toString() {
        return LongStream.of(dims).mapToObj(Long::toString).collect(Collectors.joining(",", "[", "]"));
    }
}
