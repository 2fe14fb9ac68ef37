package dev.higgstrt.tensor;

import java.lang.foreign.MemorySegment;
import java.util.List;

/** The lazy views behind {@link TensorSource}'s default methods. */
final class DerivedSources {
    /** Upper bound of the scratch memory one derived read allocates at a time (tests lower it). */
    static long scratchBytes = 16L << 20;
    /**
     * Source bytes a cast converts at a time: small enough that the intermediate stays in the
     * processor's cache when casts are chained (BF16 -> F32 -> BF16 moves no F32 through memory).
     */
    static long castBatchBytes = 2L << 20;

    private DerivedSources() {
    }

    static void checkRange(Shape shape, int axis, long start, long end) {
        if (start < 0 || end < start || end > shape.dim(axis)) {
            throw new IllegalArgumentException("range [" + start + "," + end + ") out of bounds for dim "
                    + axis + " of " + shape);
        }
    }

    /** Product of the dimensions between 0 and {@code axis}, both excluded. */
    static long outerWithinRow(Shape shape, int axis) {
        long n = 1;
        for (int i = 1; i < axis; i++) {
            n *= shape.dim(i);
        }
        return n;
    }

    /** Rows per batch so that {@code rowBytes * rows} stays near the scratch bound. */
    static long batchRows(long rowBytes) {
        return Math.max(1, scratchBytes / Math.max(1, rowBytes));
    }

    static TensorSource slice(TensorSource parent, int dim, long start, long end) {
        Shape ps = parent.shape();
        int axis = ps.axis(dim);
        checkRange(ps, axis, start, end);
        Shape shape = ps.withDim(axis, end - start);
        if (axis == 0) {
            return new View(parent.dtype(), shape) {
                @Override
                public void readRows(long firstRow, long rowCount, MemorySegment dst) {
                    parent.readRows(start + firstRow, rowCount, dst);
                }
            };
        }
        // Within one row of the parent: `outer` blocks, each of parentDim * inner elements.
        long elem = parent.dtype().byteSize();
        long outer = outerWithinRow(ps, axis);
        long inner = ps.innerCount(axis) * elem;
        long srcBlock = ps.dim(axis) * inner;
        long dstBlock = (end - start) * inner;
        long offset = start * inner;
        return new View(parent.dtype(), shape) {
            @Override
            public void readRows(long firstRow, long rowCount, MemorySegment dst) {
                long parentRowBytes = parent.rowBytes();
                long perBatch = batchRows(parentRowBytes);
                long outRowBytes = rowBytes();
                try (Scratch scratch = Scratch.acquire(Math.min(perBatch, rowCount) * parentRowBytes)) {
                    MemorySegment tmp = scratch.segment();
                    for (long done = 0; done < rowCount; ) {
                        long n = Math.min(perBatch, rowCount - done);
                        parent.readRows(firstRow + done, n, tmp);
                        for (long r = 0; r < n; r++) {
                            for (long o = 0; o < outer; o++) {
                                MemorySegment.copy(tmp, r * parentRowBytes + o * srcBlock + offset,
                                        dst, (done + r) * outRowBytes + o * dstBlock, dstBlock);
                            }
                        }
                        done += n;
                    }
                }
            }
        };
    }

    static TensorSource concat(List<? extends TensorSource> parts, int dim) {
        if (parts.isEmpty()) {
            throw new IllegalArgumentException("nothing to concatenate");
        }
        TensorSource first = parts.getFirst();
        Shape fs = first.shape();
        int axis = fs.axis(dim);
        long total = 0;
        for (TensorSource p : parts) {
            if (p.dtype() != first.dtype()) {
                throw new IllegalArgumentException("cannot concatenate " + first.dtype() + " with " + p.dtype());
            }
            Shape s = p.shape();
            if (s.rank() != fs.rank()) {
                throw new IllegalArgumentException("cannot concatenate " + fs + " with " + s + ": ranks differ");
            }
            for (int i = 0; i < s.rank(); i++) {
                if (i != axis && s.dim(i) != fs.dim(i)) {
                    throw new IllegalArgumentException("cannot concatenate " + fs + " with " + s
                            + " along dim " + axis + ": dim " + i + " differs");
                }
            }
            total += s.dim(axis);
        }
        Shape shape = fs.withDim(axis, total);
        List<TensorSource> list = List.copyOf(parts);
        if (axis == 0) {
            return new View(first.dtype(), shape) {
                @Override
                public void readRows(long firstRow, long rowCount, MemorySegment dst) {
                    long rowBytes = rowBytes();
                    long partStart = 0;
                    long written = 0;
                    for (TensorSource p : list) {
                        long rows = p.rowCount();
                        long from = Math.max(firstRow, partStart);
                        long to = Math.min(firstRow + rowCount, partStart + rows);
                        if (from < to) {
                            p.readRows(from - partStart, to - from, dst.asSlice(written * rowBytes, (to - from) * rowBytes));
                            written += to - from;
                        }
                        partStart += rows;
                    }
                }
            };
        }
        long elem = first.dtype().byteSize();
        long outer = outerWithinRow(fs, axis);
        long inner = fs.innerCount(axis) * elem;
        return new View(first.dtype(), shape) {
            @Override
            public void readRows(long firstRow, long rowCount, MemorySegment dst) {
                long outRowBytes = rowBytes();
                long perBatch = batchRows(outRowBytes);
                long batch = Math.min(perBatch, rowCount);
                long[] offsets = new long[list.size() + 1];
                for (int p = 0; p < list.size(); p++) {
                    offsets[p + 1] = offsets[p] + batch * list.get(p).rowBytes();
                }
                try (Scratch scratch = Scratch.acquire(offsets[list.size()])) {
                    MemorySegment[] tmp = new MemorySegment[list.size()];
                    for (int p = 0; p < tmp.length; p++) {
                        tmp[p] = scratch.segment().asSlice(offsets[p], offsets[p + 1] - offsets[p]);
                    }
                    for (long done = 0; done < rowCount; ) {
                        long n = Math.min(perBatch, rowCount - done);
                        for (int p = 0; p < tmp.length; p++) {
                            list.get(p).readRows(firstRow + done, n, tmp[p]);
                        }
                        for (long r = 0; r < n; r++) {
                            long out = (done + r) * outRowBytes;
                            for (long o = 0; o < outer; o++) {
                                for (int p = 0; p < tmp.length; p++) {
                                    long block = list.get(p).shape().dim(axis) * inner;
                                    MemorySegment.copy(tmp[p], r * list.get(p).rowBytes() + o * block, dst, out, block);
                                    out += block;
                                }
                            }
                        }
                        done += n;
                    }
                }
            }
        };
    }

    static TensorSource cast(TensorSource parent, DType target) {
        if (!Conversions.supports(parent.dtype(), target)) {
            throw new IllegalArgumentException("cannot cast " + parent.dtype() + " to " + target);
        }
        if (parent instanceof CastView inner && inner.via == null && Conversions.supports(inner.source.dtype(), target)) {
            // a cast of a cast: both conversions in one pass over each batch
            return new CastView(inner.source, inner.dtype(), target);
        }
        return new CastView(parent, null, target);
    }

    /** {@code source} converted (through {@code via}, when not null) to {@code target}. */
    static final class CastView extends View {
        private final TensorSource source;
        private final DType via;

        CastView(TensorSource source, DType via, DType target) {
            super(target, source.shape());
            this.source = source;
            this.via = via;
        }

        @Override
        public void readRows(long firstRow, long rowCount, MemorySegment dst) {
            long srcRowBytes = source.rowBytes();
            long perBatch = Math.max(1, Math.min(scratchBytes, castBatchBytes) / Math.max(1, srcRowBytes));
            if (source.dtype().byteSize() == dtype().byteSize()) {
                // same element size: read straight into dst and convert there, while it is in cache
                for (long done = 0; done < rowCount; ) {
                    long n = Math.min(perBatch, rowCount - done);
                    MemorySegment out = dst.asSlice(done * rowBytes(), n * rowBytes());
                    source.readRows(firstRow + done, n, out);
                    convert(out, out, n);
                    done += n;
                }
                return;
            }
            try (Scratch scratch = Scratch.acquire(Math.min(perBatch, rowCount) * srcRowBytes)) {
                MemorySegment tmp = scratch.segment();
                for (long done = 0; done < rowCount; ) {
                    long n = Math.min(perBatch, rowCount - done);
                    source.readRows(firstRow + done, n, tmp);
                    convert(tmp, dst.asSlice(done * rowBytes()), n);
                    done += n;
                }
            }
        }

        private void convert(MemorySegment from, MemorySegment to, long rows) {
            long count = rows * rowElements();
            if (via == null) {
                Conversions.convert(from, source.dtype(), to, dtype(), count);
            } else {
                Conversions.convertVia(from, source.dtype(), via, to, dtype(), count);
            }
        }
    }

    static TensorSource padRows(TensorSource parent, long extraRows) {
        if (extraRows < 0) {
            throw new IllegalArgumentException("negative padding " + extraRows);
        }
        if (parent.shape().rank() == 0) {
            throw new IllegalArgumentException("cannot pad the rows of a scalar");
        }
        long parentRows = parent.rowCount();
        return new View(parent.dtype(), parent.shape().withDim(0, parentRows + extraRows)) {
            @Override
            public void readRows(long firstRow, long rowCount, MemorySegment dst) {
                long real = Math.max(0, Math.min(firstRow + rowCount, parentRows) - firstRow);
                if (real > 0) {
                    parent.readRows(firstRow, real, dst);
                }
                dst.asSlice(real * rowBytes(), (rowCount - real) * rowBytes()).fill((byte) 0);
            }
        };
    }

    static TensorSource reshape(TensorSource parent, Shape shape) {
        if (shape.elementCount() != parent.shape().elementCount()) {
            throw new IllegalArgumentException("cannot reshape " + parent.shape() + " to " + shape);
        }
        return new View(parent.dtype(), shape) {
            @Override
            public void readRows(long firstRow, long rowCount, MemorySegment dst) {
                readElements(parent, firstRow * rowElements(), rowCount * rowElements(), dst);
            }
        };
    }

    /** Reads a flat element range of {@code src}, whatever its row boundaries. */
    static void readElements(TensorSource src, long firstElement, long count, MemorySegment dst) {
        long rowElems = src.rowElements();
        long elem = src.dtype().byteSize();
        long row = firstElement / rowElems;
        long skip = firstElement - row * rowElems;
        if (skip == 0 && count % rowElems == 0) {
            src.readRows(row, count / rowElems, dst);
            return;
        }
        long perBatch = batchRows(src.rowBytes());
        try (Scratch scratch = Scratch.acquire(perBatch * src.rowBytes())) {
            MemorySegment tmp = scratch.segment();
            long written = 0;
            while (written < count) {
                long rows = Math.min(perBatch, (skip + count - written + rowElems - 1) / rowElems);
                src.readRows(row, rows, tmp);
                long take = Math.min(rows * rowElems - skip, count - written);
                MemorySegment.copy(tmp, skip * elem, dst, written * elem, take * elem);
                written += take;
                row += rows;
                skip = 0;
            }
        }
    }

    /** Base of the derived views: dtype and shape fixed at construction. */
    abstract static class View implements TensorSource {
        private final DType dtype;
        private final Shape shape;

        View(DType dtype, Shape shape) {
            this.dtype = dtype;
            this.shape = shape;
        }

        @Override
        public final DType dtype() {
            return dtype;
        }

        @Override
        public final Shape shape() {
            return shape;
        }

        @Override
        public String toString() {
            return getClass().getSimpleName() + "(" + dtype + " " + shape + ")";
        }
    }
}
