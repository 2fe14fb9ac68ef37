package dev.higgstrt.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.stream.IntStream;

/**
 * Bulk element conversions between memory segments holding little-endian tensor data.
 * Floating-point narrowing rounds to nearest even (see {@link FloatFormats}).
 */
public final class Conversions {
    /** Little-endian, unaligned 16-bit integers: safetensors data need not be aligned. */
    public static final ValueLayout.OfShort LE_SHORT =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Little-endian, unaligned binary32 floats. */
    public static final ValueLayout.OfFloat LE_FLOAT =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Little-endian, unaligned 32-bit integers. */
    public static final ValueLayout.OfInt LE_INT =
            ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Little-endian, unaligned 64-bit integers. */
    public static final ValueLayout.OfLong LE_LONG =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Little-endian, unaligned binary64 floats. */
    public static final ValueLayout.OfDouble LE_DOUBLE =
            ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final int CHUNK = 16384;
    /** Conversions of at least this many elements are split over the common pool. */
    private static final long PARALLEL_THRESHOLD = 1 << 18;

    private Conversions() {
    }

    /**
     * Whether {@link #convert} supports converting from {@code from} to {@code to}.
     *
     * @param from the source type
     * @param to   the target type
     * @return whether {@link #convert} supports converting from {@code from} to {@code to}
     */
    public static boolean supports(DType from, DType to) {
        return from == to || (isConvertibleFloat(from) && isConvertibleFloat(to));
    }

    private static boolean isConvertibleFloat(DType d) {
        return d == DType.F32 || d == DType.F16 || d == DType.BF16 || d == DType.F64;
    }

    /**
     * Converts {@code count} elements from {@code src} (type {@code from}) into {@code dst}
     * (type {@code to}). Source and destination must not overlap unless they are identical
     * and both types have the same size (a conversion in place). Large conversions run on
     * several threads.
     *
     * @throws IllegalArgumentException when the conversion is not supported
     * @param src   the source memory
     * @param from  the source type
     * @param dst   the destination memory
     * @param to    the target type
     * @param count the count
     */
    public static void convert(MemorySegment src, DType from, MemorySegment dst, DType to, long count) {
        if (from == to) {
            MemorySegment.copy(src, 0, dst, 0, count * from.byteSize());
            return;
        }
        if (!supports(from, to)) {
            throw new IllegalArgumentException("cannot convert " + from + " to " + to);
        }
        inParallel(src, dst, count, (first, n) -> convertRange(src, from, null, dst, to, first, n));
    }

    @FunctionalInterface
    private interface RangeTask {
        void run(long first, long count);
    }

    /** Runs {@code task} over [0, count) in parts on the common pool when large and both segments allow it. */
    private static void inParallel(MemorySegment src, MemorySegment dst, long count, RangeTask task) {
        int parts = count >= PARALLEL_THRESHOLD && sharedAccess(src) && sharedAccess(dst)
                ? Math.min(Runtime.getRuntime().availableProcessors(), 8) : 1;
        if (parts <= 1) {
            task.run(0, count);
            return;
        }
        long step = (count + parts - 1) / parts;
        IntStream.range(0, parts).parallel().forEach(p -> {
            long begin = p * step;
            task.run(begin, Math.min(count, begin + step) - begin);
        });
    }

    /** A thread that is never started: a segment it may access is accessible by any thread. */
    private static final Thread PROBE = Thread.ofVirtual().unstarted(() -> { });

    private static boolean sharedAccess(MemorySegment segment) {
        return segment.isAccessibleBy(PROBE);
    }

    /**
     * {@link FloatFormats#floatToBf16} on float bits, in the low 16 bits of the result. Written
     * without branches so that C2 vectorizes the loops that call it.
     */
    private static int bf16Bits(int x) {
        int rounded = (x + 0x7FFF + ((x >>> 16) & 1)) >>> 16;
        int nanMask = (0x7F80_0000 - (x & 0x7FFF_FFFF)) >> 31;
        int high = x >>> 16;
        int quiet = (((high & 0x7F) - 1) >> 31) & 0x40;
        return (rounded & ~nanMask) | ((high | quiet) & nanMask);
    }

    /**
     * {@link #bf16Bits} over an array, with the narrowing to short in a loop of its own: C2
     * vectorizes each loop, not the fused one.
     */
    static void floatBitsToBf16(int[] in, int[] wide, short[] out, int n) {
        for (int i = 0; i < n; i++) {
            wide[i] = bf16Bits(in[i]);
        }
        for (int i = 0; i < n; i++) {
            out[i] = (short) wide[i];
        }
    }

    /**
     * BF16 -> F32 -> BF16 with both steps computed, two elements per int: the widening of each
     * half is a shift or a mask, so the loop has ints only and C2 vectorizes it. It is about
     * five times the speed of the short-to-int loops, which C2 vectorizes poorly.
     */
    private static void roundTripBf16(MemorySegment src, MemorySegment dst, long first, long count) {
        long pairCount = count / 2;
        int[] pairs = new int[(int) Math.min(CHUNK, Math.max(1, pairCount))];
        for (long done = 0; done < pairCount; ) {
            int n = (int) Math.min(pairs.length, pairCount - done);
            long at = (first + 2 * done) * 2;
            MemorySegment.copy(src, LE_INT, at, pairs, 0, n);
            for (int i = 0; i < n; i++) {
                int two = pairs[i];
                pairs[i] = bf16Bits(two << 16) | bf16Bits(two & 0xFFFF_0000) << 16;
            }
            MemorySegment.copy(pairs, 0, dst, LE_INT, at, n);
            done += n;
        }
        if (count % 2 != 0) {
            long at = (first + count - 1) * 2;
            dst.set(LE_SHORT, at, (short) bf16Bits(src.get(LE_SHORT, at) << 16));
        }
    }

    private static void readFloats(MemorySegment src, DType from, long index, float[] out, short[] scratch, int n) {
        switch (from) {
            case F32 -> MemorySegment.copy(src, LE_FLOAT, index * 4, out, 0, n);
            case BF16 -> {
                MemorySegment.copy(src, LE_SHORT, index * 2, scratch, 0, n);
                for (int i = 0; i < n; i++) {
                    out[i] = Float.intBitsToFloat(scratch[i] << 16);
                }
            }
            case F16 -> {
                MemorySegment.copy(src, LE_SHORT, index * 2, scratch, 0, n);
                for (int i = 0; i < n; i++) {
                    out[i] = FloatFormats.f16ToFloat(scratch[i]);
                }
            }
            case F64 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = (float) src.get(LE_DOUBLE, (index + i) * 8);
                }
            }
            default -> throw new IllegalArgumentException("cannot convert from " + from);
        }
    }

    private static void writeFloats(MemorySegment dst, DType to, long index, float[] in, short[] scratch, int n) {
        switch (to) {
            case F32 -> MemorySegment.copy(in, 0, dst, LE_FLOAT, index * 4, n);
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    scratch[i] = FloatFormats.floatToBf16(in[i]);
                }
                MemorySegment.copy(scratch, 0, dst, LE_SHORT, index * 2, n);
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    scratch[i] = FloatFormats.floatToF16(in[i]);
                }
                MemorySegment.copy(scratch, 0, dst, LE_SHORT, index * 2, n);
            }
            case F64 -> {
                for (int i = 0; i < n; i++) {
                    dst.set(LE_DOUBLE, (index + i) * 8, in[i]);
                }
            }
            default -> throw new IllegalArgumentException("cannot convert to " + to);
        }
    }

    /**
     * Converts {@code count} elements from {@code from} to {@code via} and on to {@code to} in one
     * pass, with the rounding of both steps and no intermediate in memory: the result equals
     * {@code convert(convert(src, from, via), via, to)}. In place, as {@link #convert}, when
     * {@code from} and {@code to} have the same size. Large conversions run on several threads.
     *
     * @param src   the source memory
     * @param from  the source type
     * @param via   the via
     * @param dst   the destination memory
     * @param to    the target type
     * @param count the count
     */
    public static void convertVia(MemorySegment src, DType from, DType via, MemorySegment dst, DType to, long count) {
        if (!supports(from, via) || !supports(via, to)) {
            throw new IllegalArgumentException("cannot convert " + from + " to " + via + " to " + to);
        }
        inParallel(src, dst, count, (first, n) -> convertRange(src, from, via, dst, to, first, n));
    }

    /**
     * Converts elements [first, first + count) from {@code from} (through {@code via} when not
     * null, with its rounding) to {@code to}, a chunk at a time through arrays that stay in cache.
     */
    private static void convertRange(MemorySegment src, DType from, DType via, MemorySegment dst, DType to,
                                     long first, long count) {
        if (from == DType.BF16 && via == DType.F32 && to == DType.BF16) {
            roundTripBf16(src, dst, first, count);
            return;
        }
        int chunk = (int) Math.min(CHUNK, Math.max(1, count));
        if (via == null && (from == DType.BF16 && to == DType.F32 || from == DType.F32 && to == DType.BF16)) {
            short[] halves = new short[chunk];
            int[] bits = new int[chunk];
            int[] wide = new int[chunk];
            for (long done = 0; done < count; ) {
                int n = (int) Math.min(chunk, count - done);
                long at = first + done;
                if (from == DType.BF16) {
                    MemorySegment.copy(src, LE_SHORT, at * 2, halves, 0, n);
                    for (int i = 0; i < n; i++) {
                        bits[i] = halves[i] << 16;
                    }
                } else {
                    MemorySegment.copy(src, LE_INT, at * 4, bits, 0, n);
                }
                if (to == DType.F32) {
                    MemorySegment.copy(bits, 0, dst, LE_INT, at * 4, n);
                } else {
                    floatBitsToBf16(bits, wide, halves, n);
                    MemorySegment.copy(halves, 0, dst, LE_SHORT, at * 2, n);
                }
                done += n;
            }
            return;
        }
        float[] buf = new float[chunk];
        short[] halves = new short[chunk];
        for (long done = 0; done < count; ) {
            int n = (int) Math.min(chunk, count - done);
            readFloats(src, from, first + done, buf, halves, n);
            if (via == DType.BF16) {
                for (int i = 0; i < n; i++) {
                    buf[i] = FloatFormats.bf16ToFloat(FloatFormats.floatToBf16(buf[i]));
                }
            } else if (via == DType.F16) {
                for (int i = 0; i < n; i++) {
                    buf[i] = FloatFormats.f16ToFloat(FloatFormats.floatToF16(buf[i]));
                }
            }
            writeFloats(dst, to, first + done, buf, halves, n);
            done += n;
        }
    }

    /**
     * Reads {@code n} elements starting at element {@code index} as floats.
     *
     * @param src    the source memory
     * @param from   the source type
     * @param index  the index
     * @param out    the out
     * @param offset the first index
     * @param n      the number of elements
     */
    public static void toFloats(MemorySegment src, DType from, long index, float[] out, int offset, int n) {
        if (from == DType.F32) {
            MemorySegment.copy(src, LE_FLOAT, index * 4, out, offset, n);
            return;
        }
        float[] tmp = offset == 0 ? out : new float[n];
        readFloats(src, from, index, tmp, new short[n], n);
        if (tmp != out) {
            System.arraycopy(tmp, 0, out, offset, n);
        }
    }

    /**
     * Writes {@code n} floats as elements of type {@code to} starting at element {@code index}.
     *
     * @param in     the in
     * @param offset the first index
     * @param dst    the destination memory
     * @param to     the target type
     * @param index  the index
     * @param n      the number of elements
     */
    public static void fromFloats(float[] in, int offset, MemorySegment dst, DType to, long index, int n) {
        if (to == DType.F32) {
            MemorySegment.copy(in, offset, dst, LE_FLOAT, index * 4, n);
            return;
        }
        float[] tmp = in;
        if (offset != 0) {
            tmp = new float[n];
            System.arraycopy(in, offset, tmp, 0, n);
        }
        writeFloats(dst, to, index, tmp, new short[n], n);
    }
}
