package dev.higgstrt.tensor;

import java.lang.foreign.Arena;
import java.util.Random;

/** Random tensors and naive index arithmetic, for tests. */
public final class TestTensors {
    private TestTensors() {
    }

    /** A tensor of random values in [-1, 1) of type {@code dtype}. */
    public static Tensor random(DType dtype, Shape shape, long seed, Arena arena) {
        Random r = new Random(seed);
        float[] v = new float[(int) shape.elementCount()];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextFloat() * 2 - 1;
        }
        return Tensor.fromFloats(dtype, shape, v, arena);
    }

    /** Multi-index of a flat row-major index. */
    public static long[] unflatten(Shape shape, long flat) {
        long[] idx = new long[shape.rank()];
        for (int d = shape.rank() - 1; d >= 0; d--) {
            idx[d] = flat % shape.dim(d);
            flat /= shape.dim(d);
        }
        return idx;
    }

    /** Flat row-major index of a multi-index. */
    public static long flatten(Shape shape, long[] idx) {
        long flat = 0;
        for (int d = 0; d < shape.rank(); d++) {
            flat = flat * shape.dim(d) + idx[d];
        }
        return flat;
    }

    /** The bits of element {@code flat} of a tensor as a long, whatever its dtype. */
    public static long bits(Tensor t, long flat) {
        var seg = t.data();
        int size = t.dtype().byteSize();
        long v = 0;
        for (int b = size - 1; b >= 0; b--) {
            v = (v << 8) | (seg.get(java.lang.foreign.ValueLayout.JAVA_BYTE, flat * size + b) & 0xFF);
        }
        return v;
    }
}
