package dev.higgstrt.weights;

import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.Tensor;
import dev.higgstrt.tensor.TensorSource;
import dev.higgstrt.tensor.TestTensors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WeightMapTest {
    private final Arena arena = Arena.ofConfined();

    @AfterEach
    void close() {
        arena.close();
    }

    private Tensor rnd(long seed, long... dims) {
        return TestTensors.random(DType.BF16, Shape.of(dims), seed, arena);
    }

    private WeightMap qkv() {
        return WeightMap.builder()
                .put("q_proj", rnd(1, 8, 6), Provenance.memory("q"))
                .put("k_proj", rnd(2, 4, 6), Provenance.memory("k"))
                .put("v_proj", rnd(3, 4, 6), Provenance.memory("v"))
                .put("norm", rnd(4, 6), Provenance.memory("n"))
                .build();
    }

    @Test
    void fuseConcatenatesAndRemovesInputs() {
        WeightMap w = qkv();
        WeightMap fused = w.fuse(List.of("q_proj", "k_proj", "v_proj"), 0, "qkv");
        assertThat(fused.names()).containsExactly("norm", "qkv");
        Tensor qkv = fused.tensor("qkv").materialize(arena);
        assertThat(qkv.shape()).isEqualTo(Shape.of(16, 6));
        assertThat(qkv.slice(0, 0, 8).contentEquals((Tensor) w.tensor("q_proj"))).isTrue();
        assertThat(qkv.slice(0, 8, 12).contentEquals((Tensor) w.tensor("k_proj"))).isTrue();
        assertThat(qkv.slice(0, 12, 16).contentEquals((Tensor) w.tensor("v_proj"))).isTrue();
        assertThat(fused.get("qkv").provenance().describe()).isEqualTo("fuse dim 0(q, k, v)");
        assertThat(w.names()).contains("q_proj");
    }

    @Test
    void fuseErrorNamesBothWeightsShapesAndTheDimension() {
        WeightMap w = WeightMap.builder()
                .put("q_proj", Tensor.allocate(DType.BF16, Shape.of(3072, 3072), arena), Provenance.memory("q"))
                .put("k_proj", Tensor.allocate(DType.BF16, Shape.of(1024, 2048), arena), Provenance.memory("k"))
                .put("h", Tensor.allocate(DType.F32, Shape.of(1024, 3072), arena), Provenance.memory("h"))
                .build();
        assertThatThrownBy(() -> w.fuse(List.of("q_proj", "k_proj"), 0, "qk"))
                .isInstanceOf(WeightShapeException.class)
                .hasMessage("cannot fuse q_proj [3072,3072] with k_proj [1024,2048] along dim 0: dim 1 differs");
        assertThatThrownBy(() -> w.fuse(List.of("q_proj", "h"), 0, "x"))
                .hasMessage("cannot fuse q_proj [3072,3072] with h [1024,3072] along dim 0: dtypes differ (BF16 vs F32)");
        assertThatThrownBy(() -> w.fuse(List.of("q_proj", "nope"), 0, "x"))
                .hasMessage("no weight named 'nope'");
    }

    @Test
    void shardingAFusedWeightShardsEachPart() {
        WeightMap w = qkv();
        WeightMap fused = w.fuse(List.of("q_proj", "k_proj", "v_proj"), 0, "qkv");
        for (int r = 0; r < 2; r++) {
            Shard shard = Shard.rows(r, 2);
            Tensor got = fused.shard("qkv", shard).tensor().materialize(arena);
            WeightMap perPart = WeightMap.builder()
                    .put(w.shard("q_proj", shard).renamed("q"))
                    .put(w.shard("k_proj", shard).renamed("k"))
                    .put(w.shard("v_proj", shard).renamed("v"))
                    .build();
            Tensor expected = perPart.fuse(List.of("q", "k", "v"), 0, "qkv").tensor("qkv").materialize(arena);
            assertThat(got.shape()).isEqualTo(Shape.of(8, 6));
            assertThat(got.contentEquals(expected)).as("rank %d is [q_r; k_r; v_r]", r).isTrue();
            // the naive cut of the fused rows: rank 1 would be concat(k, v) (rows 8..16)
            Tensor naive = ((Tensor) fused.tensor("qkv").materialize(arena)).slice(0, 8 * r, 8 * r + 8);
            assertThat(got.contentEquals(naive)).isEqualTo(false);
        }
        // across the other axis the fused weight is cut as a whole, which is the same thing
        Tensor cols = fused.shard("qkv", Shard.columns(1, 2)).tensor().materialize(arena);
        Tensor whole = fused.tensor("qkv").materialize(arena);
        assertThat(cols.contentEquals(whole.slice(1, 3, 6))).isTrue();
        // a part that does not divide is refused, naming it
        WeightMap odd = WeightMap.builder().put("a", rnd(5, 3, 6), Provenance.memory("a"))
                .put("b", rnd(6, 5, 6), Provenance.memory("b")).build().fuse(List.of("a", "b"), 0, "ab");
        assertThatThrownBy(() -> odd.shard("ab", Shard.rows(0, 2)))
                .isInstanceOf(WeightShapeException.class)
                .hasMessage("cannot shard ab [8,6] over 2 ranks along dim 0: its fused part a [3,6] is not divisible by 2");
        // the parts survive a cast and a rename
        WeightMap castRenamed = fused.cast(DType.F32).rename("qkv", "qkv2");
        Tensor castShard = castRenamed.shard("qkv2", Shard.rows(1, 2)).tensor().materialize(arena);
        assertThat(castShard.contentEquals(fused.shard("qkv", Shard.rows(1, 2)).tensor().cast(DType.F32).materialize(arena)))
                .isTrue();
    }

    @Test
    void splitShardAndMergeAreInverse() {
        WeightMap w = qkv();
        List<Weight> parts = w.split("q_proj", 1, 3);
        assertThat(parts).extracting(Weight::name).containsExactly("q_proj#0", "q_proj#1", "q_proj#2");
        assertThat(parts.get(1).shape()).isEqualTo(Shape.of(8, 2));
        Tensor merged = WeightMap.merge(parts, 1, "q").tensor().materialize(arena);
        assertThat(merged.contentEquals((Tensor) w.tensor("q_proj"))).isTrue();

        Weight shard = w.shard("q_proj", new Shard(0, 1, 2));
        assertThat(shard.shape()).isEqualTo(Shape.of(4, 6));
        assertThat(shard.tensor().materialize(arena).contentEquals(((Tensor) w.tensor("q_proj")).slice(0, 4, 8))).isTrue();
        assertThatThrownBy(() -> w.shard("k_proj", new Shard(1, 0, 4)))
                .hasMessage("cannot shard k_proj [4,6] over 4 ranks along dim 1: 6 is not divisible by 4");
        assertThatThrownBy(() -> w.split("norm", 0, 4))
                .hasMessage("cannot split norm [6] into 4 equal parts along dim 0: 6 is not divisible by 4");
        assertThatThrownBy(() -> w.shard("norm", new Shard(2, 0, 1))).hasMessage("norm [6] has no dim 2");
    }

    @Test
    void mergeShardsRebuildsTheWholeMap() {
        WeightMap w = qkv();
        List<WeightMap> ranks = List.of(0, 1).stream().map(r -> WeightMap.builder()
                .put(w.shard("q_proj", new Shard(0, r, 2)))
                .put(w.shard("k_proj", new Shard(1, r, 2)))
                .put(w.get("norm"))
                .build()).toList();
        WeightMap merged = WeightMap.mergeShards(ranks, n -> switch (n) {
            case "q_proj" -> 0;
            case "k_proj" -> 1;
            default -> -1;
        });
        assertThat(merged.names()).containsExactly("k_proj", "norm", "q_proj");
        for (String n : merged.names()) {
            assertThat(merged.tensor(n).materialize(arena).contentEquals((Tensor) w.tensor(n))).as(n).isTrue();
        }
    }

    @Test
    void castRenameSelectFilterWithout() {
        WeightMap w = qkv().with("ids", Tensor.allocate(DType.I32, Shape.of(3), arena), Provenance.memory("i"));
        WeightMap f32 = w.cast(DType.F32);
        assertThat(f32.get("q_proj").dtype()).isEqualTo(DType.F32);
        assertThat(f32.get("ids").dtype()).isEqualTo(DType.I32);
        Tensor back = f32.tensor("q_proj").cast(DType.BF16).materialize(arena);
        assertThat(back.contentEquals((Tensor) w.tensor("q_proj"))).isTrue();

        WeightMap renamed = w.rename(n -> "model." + n);
        assertThat(renamed.names()).allMatch(n -> n.startsWith("model."));
        assertThat(w.rename("norm", "ln").names()).contains("ln").doesNotContain("norm");
        assertThatThrownBy(() -> w.rename("norm", "q_proj")).hasMessageContaining("that name exists");
        assertThatThrownBy(() -> w.rename(n -> "same")).hasMessageContaining("two weights the name 'same'");
        assertThat(w.select(".*_proj").names()).containsExactly("k_proj", "q_proj", "v_proj");
        assertThat(w.filter(n -> n.startsWith("n")).names()).containsExactly("norm");
        assertThat(w.without(List.of("ids", "norm")).size()).isEqualTo(3);
        assertThat(w.byteSize()).isEqualTo((8 * 6 + 4 * 6 * 2 + 6) * 2 + 12);
    }

    @Test
    void builderRefusesDuplicatesAndGetSuggestsNearNames() {
        WeightMap.Builder b = WeightMap.builder().put("a.weight", rnd(1, 2), Provenance.file(java.nio.file.Path.of("x.safetensors"), "a.weight"));
        assertThatThrownBy(() -> b.put("a.weight", rnd(2, 2), Provenance.memory("again")))
                .hasMessage("weight 'a.weight' added twice: x.safetensors:a.weight and again");
        WeightMap m = b.build();
        assertThatThrownBy(() -> m.get("a.bias")).hasMessage("no weight named 'a.bias' (similar: a.weight)");
        assertThat(m.plus(WeightMap.builder().put("b", rnd(3, 1), Provenance.memory("b")).build()).size()).isEqualTo(2);
        assertThatThrownBy(() -> m.plus(m)).hasMessageContaining("in both maps");
    }

    @Test
    void derivedTensorsAreLazyViews() {
        int[] reads = {0};
        Tensor base = rnd(9, 4, 4);
        TensorSource counting = new TensorSource() {
            @Override
            public DType dtype() {
                return base.dtype();
            }

            @Override
            public Shape shape() {
                return base.shape();
            }

            @Override
            public void readRows(long firstRow, long rowCount, java.lang.foreign.MemorySegment dst) {
                reads[0]++;
                base.readRows(firstRow, rowCount, dst);
            }
        };
        WeightMap w = WeightMap.builder().put("x", counting, Provenance.memory("x")).put("y", base, Provenance.memory("y")).build();
        WeightMap derived = w.fuse(List.of("x", "y"), 1, "xy").cast(DType.F32);
        derived.shard("xy", new Shard(1, 1, 2));
        assertThat(reads[0]).isZero();
        derived.shard("xy", new Shard(0, 1, 2)).tensor().materialize(arena);
        assertThat(reads[0]).isPositive();
    }
}
