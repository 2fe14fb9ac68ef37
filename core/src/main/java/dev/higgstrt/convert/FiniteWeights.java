package dev.higgstrt.convert;

import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.TensorSource;
import dev.higgstrt.weights.Weight;
import dev.higgstrt.weights.WeightMap;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Refuses NaN and infinity in the source weights as the conversion reads them: a float tensor
 * whose rows hold one fails the conversion with the file, the tensor and how many of its values
 * are not finite. Checked in the same pass that converts, so no extra read of the model.
 */
final class FiniteWeights {
    private static final long COUNT_BLOCK_BYTES = 1 << 22;

    private FiniteWeights() {
    }

    /** {@code weights} with each float tensor checked as it is read. */
    static WeightMap guard(WeightMap weights) {
        WeightMap.Builder b = WeightMap.builder();
        for (Weight w : weights) {
            DType d = w.tensor().dtype();
            boolean floating = d == DType.F32 || d == DType.F16 || d == DType.BF16;
            b.put(w.name(), floating ? new Checked(w.tensor(), w.provenance().describe()) : w.tensor(), w.provenance());
        }
        return b.build();
    }

    /** Values of {@code dtype} in {@code segment} that are NaN or infinite. */
    static long nonFinite(MemorySegment segment, DType dtype) {
        long n = segment.byteSize() / dtype.byteSize();
        long count = 0;
        switch (dtype) {
            case F32 -> {
                for (long i = 0; i < n; i++) {
                    count += (segment.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i) & 0x7F80_0000) == 0x7F80_0000 ? 1 : 0;
                }
            }
            case BF16 -> {
                for (long i = 0; i < n; i++) {
                    count += (segment.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i) & 0x7F80) == 0x7F80 ? 1 : 0;
                }
            }
            case F16 -> {
                for (long i = 0; i < n; i++) {
                    count += (segment.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i) & 0x7C00) == 0x7C00 ? 1 : 0;
                }
            }
            default -> {
            }
        }
        return count;
    }

    private record Checked(TensorSource source, String where) implements TensorSource {
        @Override
        public DType dtype() {
            return source.dtype();
        }

        @Override
        public Shape shape() {
            return source.shape();
        }

        @Override
        public void readRows(long firstRow, long rowCount, MemorySegment dst) {
            source.readRows(firstRow, rowCount, dst);
            if (nonFinite(dst.asSlice(0, rowCount * rowBytes()), dtype()) > 0) {
                throw new NonFiniteWeightException(where, countAll(), shape().elementCount());
            }
        }

        private long countAll() {
            long rows = rowCount();
            long perBlock = Math.max(1, COUNT_BLOCK_BYTES / Math.max(1, rowBytes()));
            long count = 0;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment block = arena.allocate(Math.min(rows, perBlock) * rowBytes());
                for (long r = 0; r < rows; r += perBlock) {
                    long n = Math.min(perBlock, rows - r);
                    MemorySegment part = block.asSlice(0, n * rowBytes());
                    source.readRows(r, n, part);
                    count += nonFinite(part, dtype());
                }
            }
            return count;
        }
    }
}
