package dev.higgstrt.tensor;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.util.List;

import static dev.higgstrt.tensor.TestTensors.bits;
import static dev.higgstrt.tensor.TestTensors.flatten;
import static dev.higgstrt.tensor.TestTensors.unflatten;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Derived views checked element by element against index arithmetic, with the scratch bound
 * both at its default and tiny (so that the batching paths run).
 */
class TensorSourceTest {
    private final Arena arena = Arena.ofConfined();
    private final long defaultScratch = DerivedSources.scratchBytes;

    @AfterEach
    void tearDown() {
        DerivedSources.scratchBytes = defaultScratch;
        arena.close();
    }

    private static final Shape[] SHAPES = {
            Shape.of(7), Shape.of(6, 5), Shape.of(4, 6, 5), Shape.of(3, 4, 2, 5), Shape.of(1, 8, 3)};

    @ParameterizedTest
    @ValueSource(longs = {1 << 24, 40})
    void slicesAlongEveryDimensionMatchIndexArithmetic(long scratch) {
        DerivedSources.scratchBytes = scratch;
        long seed = 1;
        for (Shape shape : SHAPES) {
            Tensor t = TestTensors.random(DType.BF16, shape, seed++, arena);
            for (int dim = 0; dim < shape.rank(); dim++) {
                long n = shape.dim(dim);
                for (long start = 0; start <= n; start++) {
                    for (long end = start; end <= n; end++) {
                        Tensor lazy = t.slice(dim, start, end, arena);
                        Tensor viaSource = DerivedSources.slice(t, dim, start, end).materialize(arena);
                        assertThat(viaSource.contentEquals(lazy)).isTrue();
                        for (long i = 0; i < lazy.shape().elementCount(); i++) {
                            long[] idx = unflatten(lazy.shape(), i);
                            idx[dim] += start;
                            assertThat(bits(lazy, i)).isEqualTo(bits(t, flatten(shape, idx)));
                        }
                    }
                }
            }
        }
    }

    @Test
    void sliceIsAViewExactlyWhenContiguous() {
        Tensor t = TestTensors.random(DType.F32, Shape.of(1, 4, 6), 3, arena);
        assertThat(t.slice(0, 0, 1).data().address()).isEqualTo(t.data().address());
        assertThat(t.slice(1, 1, 3).data().address()).isEqualTo(t.data().address() + 6 * 4);
        Tensor copy = t.slice(2, 1, 3);
        assertThat(copy.data().address() >= t.data().address() && copy.data().address() < t.data().address() + t.byteSize()).isFalse();
        assertThat(copy.shape()).isEqualTo(Shape.of(1, 4, 2));
        assertThat(copy.getFloat(0)).isEqualTo(t.getFloat(1));
        assertThat(copy.getFloat(3)).isEqualTo(t.getFloat(8));
    }

    @ParameterizedTest
    @ValueSource(longs = {1 << 24, 24})
    void concatenationAlongEveryDimensionMatchesIndexArithmetic(long scratch) {
        DerivedSources.scratchBytes = scratch;
        for (Shape base : SHAPES) {
            for (int dim = 0; dim < base.rank(); dim++) {
                List<Tensor> parts = List.of(
                        TestTensors.random(DType.F16, base.withDim(dim, 2), 10 + dim, arena),
                        TestTensors.random(DType.F16, base.withDim(dim, 1), 20 + dim, arena),
                        TestTensors.random(DType.F16, base.withDim(dim, 3), 30 + dim, arena));
                Tensor cat = TensorSource.concat(parts, dim).materialize(arena);
                assertThat(cat.shape()).isEqualTo(base.withDim(dim, 6));
                for (long i = 0; i < cat.shape().elementCount(); i++) {
                    long[] idx = unflatten(cat.shape(), i);
                    int p = idx[dim] < 2 ? 0 : idx[dim] < 3 ? 1 : 2;
                    idx[dim] -= p == 0 ? 0 : p == 1 ? 2 : 3;
                    Tensor part = parts.get(p);
                    assertThat(bits(cat, i)).isEqualTo(bits(part, flatten(part.shape(), idx)));
                }
                // Splitting the concatenation gives the parts back.
                assertThat(cat.slice(dim, 2, 3, arena).contentEquals(parts.get(1))).isTrue();
            }
        }
    }

    @Test
    void partialRowReadsOfDerivedViews() {
        Tensor a = TestTensors.random(DType.F32, Shape.of(5, 3), 1, arena);
        Tensor b = TestTensors.random(DType.F32, Shape.of(5, 2), 2, arena);
        TensorSource cat = TensorSource.concat(List.of(a, b), 1);
        Tensor all = cat.materialize(arena);
        Tensor rows = Tensor.allocate(DType.F32, Shape.of(2, 5), arena);
        cat.readRows(2, 2, rows.data());
        assertThat(rows.contentEquals(all.slice(0, 2, 4))).isTrue();
    }

    @Test
    void castConvertsWithRoundingAndPadAddsZeroRows() {
        DerivedSources.scratchBytes = 8;
        Tensor f32 = TestTensors.random(DType.F32, Shape.of(5, 3), 4, arena);
        Tensor bf = f32.cast(DType.BF16).materialize(arena);
        for (int i = 0; i < 15; i++) {
            assertThat(bf.data().get(Conversions.LE_SHORT, i * 2L)).isEqualTo(FloatFormats.floatToBf16(f32.getFloat(i)));
        }
        Tensor padded = bf.padRows(3).materialize(arena);
        assertThat(padded.shape()).isEqualTo(Shape.of(8, 3));
        assertThat(padded.slice(0, 0, 5).contentEquals(bf)).isTrue();
        for (int i = 15; i < 24; i++) {
            assertThat(padded.getFloat(i)).isEqualTo(0f);
        }
        Tensor back = bf.cast(DType.F32).materialize(arena);
        assertThat(back.cast(DType.BF16).materialize(arena).contentEquals(bf)).isTrue();
    }

    @Test
    void chainedCastsGiveTheBitsOfTwoSeparateCastsForEveryPattern() {
        DerivedSources.castBatchBytes = 4096;
        for (DType from : new DType[]{DType.BF16, DType.F16, DType.F32}) {
            Tensor src = Tensor.allocate(from, Shape.of(256, 256), arena);
            java.util.Random r = new java.util.Random(3);
            for (long i = 0; i < 65536; i++) {
                if (from == DType.F32) {
                    // every 16-bit pattern in the high half, random low half: all classes of float
                    src.data().set(Conversions.LE_INT, i * 4, (int) (i << 16) | r.nextInt(1 << 16));
                } else {
                    src.data().set(Conversions.LE_SHORT, i * 2, (short) i);
                }
            }
            for (DType via : new DType[]{DType.F32, DType.BF16, DType.F16}) {
                for (DType to : new DType[]{DType.BF16, DType.F16, DType.F32}) {
                    if (via == from) {
                        continue;
                    }
                    Tensor fused = src.cast(via).cast(to).materialize(arena);
                    Tensor stepwise = src.cast(via).materialize(arena).cast(to).materialize(arena);
                    assertThat(fused.dtype()).isEqualTo(to);
                    assertThat(fused.data().mismatch(stepwise.data())).as("%s -> %s -> %s", from, via, to).isEqualTo(-1);
                }
            }
        }
        DerivedSources.castBatchBytes = 2L << 20;
    }

    @Test
    void reshapeOfDerivedViewReadsAcrossRowBoundaries() {
        DerivedSources.scratchBytes = 16;
        Tensor t = TestTensors.random(DType.F32, Shape.of(6, 4), 5, arena);
        TensorSource lazy = DerivedSources.slice(t, 0, 0, 6).reshape(Shape.of(8, 3));
        Tensor r = lazy.materialize(arena);
        assertThat(r.data().mismatch(t.data())).isEqualTo(-1);
        Tensor mid = Tensor.allocate(DType.F32, Shape.of(3, 3), arena);
        lazy.readRows(3, 3, mid.data());
        assertThat(mid.data().mismatch(t.data().asSlice(9 * 4, 9 * 4))).isEqualTo(-1);
    }

    @Test
    void shapeErrorsAreClear() {
        Tensor a = Tensor.allocate(DType.F32, Shape.of(3, 4), arena);
        Tensor b = Tensor.allocate(DType.F32, Shape.of(3, 5), arena);
        assertThatThrownBy(() -> TensorSource.concat(List.of(a, b), 0))
                .hasMessage("cannot concatenate [3,4] with [3,5] along dim 0: dim 1 differs");
        assertThatThrownBy(() -> a.slice(1, 2, 5)).hasMessageContaining("out of bounds for dim 1 of [3,4]");
        assertThatThrownBy(() -> a.chunk(1, 0, 3)).hasMessage("cannot split dim 1 of [3,4] into 3 equal parts");
        assertThatThrownBy(() -> a.reshape(Shape.of(5))).hasMessage("cannot reshape [3,4] to [5]");
        assertThatThrownBy(() -> Tensor.allocate(DType.I32, Shape.of(2), arena).cast(DType.F32))
                .hasMessage("cannot cast I32 to F32");
        assertThatThrownBy(() -> Shape.of(1L << 40, 1L << 40)).hasMessageContaining("more than 2^63");
    }

    @Test
    void tensorConversionsAndAccessors() {
        Tensor t = Tensor.fromFloats(DType.F32, Shape.of(2, 2), new float[]{1.5f, -2f, 3.25f, 1e-3f}, arena);
        Tensor h = t.to(DType.F16, arena);
        assertThat(h.toFloatArray()).containsExactly(1.5f, -2f, 3.25f, FloatFormats.f16ToFloat(FloatFormats.floatToF16(1e-3f)));
        assertThat(t.to(DType.F32, arena)).isSameAs(t);
        assertThat(t.reshape(Shape.of(4)).getFloat(3)).isEqualTo(1e-3f);
        assertThatThrownBy(() -> Tensor.wrap(DType.F32, Shape.of(3), arena.allocate(8)))
                .hasMessage("F32 [3] needs 12 bytes, the segment has 8");
    }
}
