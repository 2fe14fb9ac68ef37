package dev.higgstrt.tensor;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static org.assertj.core.api.Assertions.assertThat;

class ConversionsTest {
    private final Arena arena = Arena.ofShared();

    @AfterEach
    void close() {
        arena.close();
    }

    /**
     * One element, then every 16-bit pattern in turn up to {@code count} elements, so that pairs
     * of elements start at odd offsets too.
     */
    private MemorySegment patternsAfterOne(long count) {
        MemorySegment s = arena.allocate(2 * (count + 1));
        s.set(Conversions.LE_SHORT, 0, (short) 0x1234);
        for (long i = 0; i < count; i++) {
            s.set(Conversions.LE_SHORT, 2 * (i + 1), (short) i);
        }
        return s;
    }

    @Test
    void bf16RoundTripThroughF32MatchesTheScalarStepsAtOddOffsetsAndLengths() {
        // large enough to be split over threads, at an odd element
        MemorySegment src = patternsAfterOne(1 << 19);
        for (long first : new long[]{0, 1}) {
            long count = src.byteSize() / 2 - first;
            MemorySegment out = arena.allocate(2 * count);
            Conversions.convertVia(src.asSlice(2 * first), DType.BF16, DType.F32, out, DType.BF16, count);
            for (long i = 0; i < count; i++) {
                short in = src.get(Conversions.LE_SHORT, 2 * (first + i));
                short expected = FloatFormats.floatToBf16(FloatFormats.bf16ToFloat(in));
                assertThat(out.get(Conversions.LE_SHORT, 2 * i)).as("pattern %04x", in).isEqualTo(expected);
            }
        }
    }

    @Test
    void conversionsBetweenTypesOfOneSizeWorkInPlace() {
        DType[][] chains = {{DType.BF16, DType.F32, DType.BF16}, {DType.BF16, null, DType.F16},
                {DType.F16, null, DType.BF16}, {DType.F16, DType.F32, DType.BF16}};
        for (DType[] c : chains) {
            MemorySegment src = patternsAfterOne(1 << 19);
            MemorySegment expected = arena.allocate(src.byteSize());
            MemorySegment inPlace = arena.allocate(src.byteSize());
            inPlace.copyFrom(src);
            long n = src.byteSize() / 2;
            if (c[1] == null) {
                Conversions.convert(src, c[0], expected, c[2], n);
                Conversions.convert(inPlace, c[0], inPlace, c[2], n);
            } else {
                Conversions.convertVia(src, c[0], c[1], expected, c[2], n);
                Conversions.convertVia(inPlace, c[0], c[1], inPlace, c[2], n);
            }
            assertThat(inPlace.mismatch(expected)).as("%s -> %s -> %s", c[0], c[1], c[2]).isEqualTo(-1);
        }
    }
}
