package dev.higgstrt.weights;

import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.TensorSource;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.function.ToIntFunction;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * An immutable map from weight name to tensor, sorted by name, each tensor with its
 * provenance. Every operation returns a new map; the tensors in it are lazy views of the
 * originals (slices, concatenations, casts), so nothing is read or copied until a tensor is
 * materialized or written. {@link TensorSource#materialize} is the explicit copy.
 *
 * <p>Instances are immutable and safe to share between threads.
 */
public final class WeightMap implements Iterable<Weight> {
    private static final WeightMap EMPTY = new WeightMap(new TreeMap<>());

    private final SortedMap<String, Weight> weights;
    private final SortedSet<String> names;

    private WeightMap(TreeMap<String, Weight> weights) {
        this.weights = Collections.unmodifiableSortedMap(weights);
        this.names = Collections.unmodifiableSortedSet(weights.navigableKeySet());
    }

    /**
     * The empty map.
     *
     * @return the empty map
     */
    public static WeightMap empty() {
        return EMPTY;
    }

    /**
     * A builder.
     *
     * @return a builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A map of these weights.
     *
     * @param weights the weights
     * @return a map of these weights
     */
    public static WeightMap of(Collection<Weight> weights) {
        Builder b = builder();
        weights.forEach(b::put);
        return b.build();
    }

    /**
     * Number of weights.
     *
     * @return number of weights
     */
    public int size() {
        return weights.size();
    }

    /**
     * Whether a weight called {@code name} exists.
     *
     * @param name the name
     * @return whether a weight called {@code name} exists
     */
    public boolean contains(String name) {
        return weights.containsKey(name);
    }

    /**
     * The weight called {@code name}, if any.
     *
     * @param name the name
     * @return the weight called {@code name}, if any
     */
    public Optional<Weight> find(String name) {
        return Optional.ofNullable(weights.get(name));
    }

    /**
     * The weight called {@code name}.
     *
     * @throws NoSuchElementException naming the weight (and a near name, if one exists)
     * @param name the name
     * @return the weight called {@code name}
     */
    public Weight get(String name) {
        Weight w = weights.get(name);
        if (w == null) {
            throw new NoSuchElementException("no weight named '" + name + "'" + hint(name));
        }
        return w;
    }

    private String hint(String name) {
        int cut = name.lastIndexOf('.');
        String stem = cut > 0 ? name.substring(0, cut) : name;
        List<String> near = weights.keySet().stream().filter(n -> n.startsWith(stem)).limit(3).toList();
        return near.isEmpty() ? "" : " (similar: " + String.join(", ", near) + ")";
    }

    /**
     * The tensor of weight {@code name}.
     *
     * @param name the name
     * @return the tensor of weight {@code name}
     */
    public TensorSource tensor(String name) {
        return get(name).tensor();
    }

    /**
     * The names, sorted.
     *
     * @return the names, sorted
     */
    public SortedSet<String> names() {
        return names;
    }

    /**
     * The weights, sorted by name.
     *
     * @return the weights, sorted by name
     */
    public Collection<Weight> values() {
        return weights.values();
    }

    @Override
    public Iterator<Weight> iterator() {
        return weights.values().iterator();
    }

    /**
     * Total bytes of all tensors.
     *
     * @return total bytes of all tensors
     */
    public long byteSize() {
        return weights.values().stream().mapToLong(w -> w.tensor().byteSize()).sum();
    }

    /**
     * This map with {@code weight} added or replaced.
     *
     * @param weight the weight
     * @return this map with {@code weight} added or replaced
     */
    public WeightMap with(Weight weight) {
        TreeMap<String, Weight> m = new TreeMap<>(weights);
        m.put(weight.name(), weight);
        return new WeightMap(m);
    }

    /**
     * This map with {@code tensor} added or replaced under {@code name}.
     *
     * @param name       the name
     * @param tensor     the tensor name
     * @param provenance the provenance
     * @return this map with {@code tensor} added or replaced under {@code name}
     */
    public WeightMap with(String name, TensorSource tensor, Provenance provenance) {
        return with(new Weight(name, tensor, provenance));
    }

    /**
     * This map without the named weights (absent names are ignored).
     *
     * @param names the names
     * @return this map without the named weights (absent names are ignored)
     */
    public WeightMap without(Collection<String> names) {
        TreeMap<String, Weight> m = new TreeMap<>(weights);
        names.forEach(m::remove);
        return new WeightMap(m);
    }

    /**
     * The weights whose names match {@code regex} entirely.
     *
     * @param regex a regular expression
     * @return the weights whose names match {@code regex} entirely
     */
    public WeightMap select(String regex) {
        Pattern p = Pattern.compile(regex);
        return filter(n -> p.matcher(n).matches());
    }

    /**
     * The weights whose names pass {@code keep}.
     *
     * @param keep the keep
     * @return the weights whose names pass {@code keep}
     */
    public WeightMap filter(Predicate<String> keep) {
        TreeMap<String, Weight> m = new TreeMap<>();
        weights.forEach((n, w) -> {
            if (keep.test(n)) {
                m.put(n, w);
            }
        });
        return new WeightMap(m);
    }

    /**
     * This map with weight {@code from} renamed to {@code to}.
     *
     * @param from the source type
     * @param to   the target type
     * @return this map with weight {@code from} renamed to {@code to}
     */
    public WeightMap rename(String from, String to) {
        Weight w = get(from);
        if (!from.equals(to) && weights.containsKey(to)) {
            throw new IllegalArgumentException("cannot rename '" + from + "' to '" + to + "': that name exists");
        }
        TreeMap<String, Weight> m = new TreeMap<>(weights);
        m.remove(from);
        m.put(to, w.renamed(to));
        return new WeightMap(m);
    }

    /**
     * Every weight renamed by {@code renamer}; two weights may not get the same name.
     *
     * @param renamer the renamer
     * @return every weight renamed by {@code renamer}; two weights may not get the same name
     */
    public WeightMap rename(UnaryOperator<String> renamer) {
        TreeMap<String, Weight> m = new TreeMap<>();
        for (Weight w : weights.values()) {
            String to = renamer.apply(w.name());
            Weight previous = m.put(to, w.renamed(to));
            if (previous != null) {
                throw new IllegalArgumentException("renaming gives two weights the name '" + to + "'");
            }
        }
        return new WeightMap(m);
    }

    /**
     * Every floating-point weight lazily cast to {@code dtype}; other weights unchanged.
     *
     * @param dtype the element type
     * @return every floating-point weight lazily cast to {@code dtype}; other weights unchanged
     */
    public WeightMap cast(DType dtype) {
        TreeMap<String, Weight> m = new TreeMap<>();
        for (Weight w : weights.values()) {
            m.put(w.name(), cast(w, dtype));
        }
        return new WeightMap(m);
    }

    private static Weight cast(Weight w, DType dtype) {
        if (!w.dtype().isFloatingPoint() || w.dtype() == dtype) {
            return w;
        }
        return new Weight(w.name(), w.tensor().cast(dtype), Provenance.derived("cast " + dtype, List.of(w.provenance())),
                w.fusion().map(f -> new Weight.Fusion(f.axis(), f.parts().stream().map(p -> cast(p, dtype)).toList())));
    }

    /**
     * Concatenates the named weights along {@code dim} into one weight called {@code newName};
     * the inputs are removed from the result. The fused weight remembers its parts, so that
     * {@link #shard} along the same axis shards each part (tensor parallelism's rule for q/k/v
     * and gate/up: fuse per rank) instead of cutting across them.
     *
     * @param names   the weights to concatenate, in order
     * @param dim     the axis (negative counts from the last)
     * @param newName the fused weight's name
     * @return this map with the parts replaced by the fused weight
     *
     * @throws WeightShapeException when ranks, dtypes or any other dimension differ, for
     *                              example {@code cannot fuse q_proj [3072,3072] with k_proj
     *                              [1024,2048] along dim 0: dim 1 differs}
     */
    public WeightMap fuse(List<String> names, int dim, String newName) {
        List<Weight> parts = names.stream().map(this::get).toList();
        Weight fused = concat(parts, dim, newName, "fuse");
        Weight withParts = new Weight(newName, fused.tensor(), fused.provenance(),
                Optional.of(new Weight.Fusion(fused.shape().axis(dim), parts)));
        return without(names).with(withParts);
    }

    /**
     * Splits weight {@code name} into {@code parts} equal parts along {@code dim} (lazy views),
     * named {@code name} with their index appended after a {@code '#'}.
     *
     * @param name  the name
     * @param dim   the dimension (negative counts from the last)
     * @param parts the number of parts
     * @return the parts, in order
     */
    public List<Weight> split(String name, int dim, int parts) {
        Weight w = get(name);
        long size = dimOf(w, dim);
        if (parts <= 0 || size % parts != 0) {
            throw new WeightShapeException("cannot split " + w.describe() + " into " + parts
                    + " equal parts along dim " + dim + ": " + size + " is not divisible by " + parts);
        }
        List<Weight> out = new ArrayList<>(parts);
        for (int i = 0; i < parts; i++) {
            out.add(part(w, dim, i, parts, name + "#" + i));
        }
        return List.copyOf(out);
    }

    /**
     * The part of weight {@code name} held by one tensor-parallel rank: part {@code shard.rank()}
     * of {@code shard.size()} equal parts along {@code shard.dim()} (a lazy view). A weight fused
     * from parts along that axis is sharded part by part and fused again, so rank r of a fused
     * q/k/v holds {@code [q_r; k_r; v_r]}.
     *
     * @param name  the weight
     * @param shard which part
     * @return the rank's part, named {@code name}
     * @throws WeightShapeException when the axis (or a fused part's) does not divide by the size
     */
    public Weight shard(String name, Shard shard) {
        return shardOf(get(name), shard);
    }

    private static Weight shardOf(Weight w, Shard shard) {
        long n = dimOf(w, shard.dim());
        int axis = w.shape().axis(shard.dim());
        if (w.fusion().isPresent() && w.fusion().get().axis() == axis) {
            List<Weight> parts = new ArrayList<>();
            for (Weight p : w.fusion().get().parts()) {
                if (p.shape().dim(axis) % shard.size() != 0) {
                    throw new WeightShapeException("cannot shard " + w.describe() + " over " + shard.size()
                            + " ranks along dim " + shard.dim() + ": its fused part " + p.describe() + " is not divisible by "
                            + shard.size());
                }
                parts.add(shardOf(p, shard));
            }
            Weight fused = concat(parts, axis, w.name(), "fuse");
            return new Weight(w.name(), fused.tensor(), fused.provenance(), Optional.of(new Weight.Fusion(axis, parts)));
        }
        if (n % shard.size() != 0) {
            throw new WeightShapeException("cannot shard " + w.describe() + " over " + shard.size()
                    + " ranks along dim " + shard.dim() + ": " + n + " is not divisible by " + shard.size());
        }
        return part(w, shard.dim(), shard.rank(), shard.size(), w.name());
    }

    private static Weight part(Weight w, int dim, int index, int parts, String newName) {
        return new Weight(newName, w.tensor().chunk(dim, index, parts),
                Provenance.derived("part " + index + "/" + parts + " of dim " + dim, List.of(w.provenance())));
    }

    private static long dimOf(Weight w, int dim) {
        Shape s = w.shape();
        if (dim < -s.rank() || dim >= s.rank()) {
            throw new WeightShapeException(w.describe() + " has no dim " + dim);
        }
        return s.dim(dim);
    }

    /**
     * Concatenates {@code parts} along {@code dim} into a weight called {@code name}: the
     * inverse of {@link #split} and {@link #shard}.
     *
     * @param parts the number of parts
     * @param dim   the dimension (negative counts from the last)
     * @param name  the name
     * @return the merged weight
     */
    public static Weight merge(List<Weight> parts, int dim, String name) {
        return concat(parts, dim, name, "merge");
    }

    /**
     * Merges per-rank maps back into the whole: a weight with a split dimension
     * ({@code splitDim} returns it, {@code -1} meaning replicated) is concatenated in rank
     * order; a replicated weight is taken from the first map that has it, after checking that
     * every map that has it agrees on its dtype and shape.
     *
     * @param shards   the shards
     * @param splitDim the split dim
     * @return the whole map
     */
    public static WeightMap mergeShards(List<WeightMap> shards, ToIntFunction<String> splitDim) {
        TreeMap<String, List<Weight>> byName = new TreeMap<>();
        for (WeightMap shard : shards) {
            for (Weight w : shard) {
                byName.computeIfAbsent(w.name(), k -> new ArrayList<>()).add(w);
            }
        }
        Builder b = builder();
        byName.forEach((name, parts) -> {
            int dim = splitDim.applyAsInt(name);
            if (dim < 0) {
                Weight first = parts.getFirst();
                for (Weight p : parts) {
                    if (p.dtype() != first.dtype() || !p.shape().equals(first.shape())) {
                        throw new WeightShapeException("replicated weight " + name + " differs between shards: "
                                + first.dtype() + " " + first.shape() + " vs " + p.dtype() + " " + p.shape());
                    }
                }
                b.put(first);
            } else {
                b.put(merge(parts, dim, name));
            }
        });
        return b.build();
    }

    private static Weight concat(List<Weight> parts, int dim, String newName, String operation) {
        if (parts.isEmpty()) {
            throw new WeightShapeException("nothing to " + operation + " into " + newName);
        }
        Weight first = parts.getFirst();
        for (Weight p : parts.subList(1, parts.size())) {
            checkCompatible(first, p, dim, operation);
        }
        TensorSource t = TensorSource.concat(parts.stream().map(Weight::tensor).toList(), dim);
        return new Weight(newName, t, Provenance.derived(operation + " dim " + dim,
                parts.stream().map(Weight::provenance).toList()));
    }

    private static void checkCompatible(Weight a, Weight b, int dim, String operation) {
        String what = "cannot " + operation + " " + a.describe() + " with " + b.describe() + " along dim " + dim + ": ";
        Shape sa = a.shape();
        Shape sb = b.shape();
        if (sa.rank() != sb.rank()) {
            throw new WeightShapeException(what + "ranks differ (" + sa.rank() + " vs " + sb.rank() + ")");
        }
        if (dim < -sa.rank() || dim >= sa.rank()) {
            throw new WeightShapeException(what + "no such dim");
        }
        int axis = sa.axis(dim);
        for (int i = 0; i < sa.rank(); i++) {
            if (i != axis && sa.dim(i) != sb.dim(i)) {
                throw new WeightShapeException(what + "dim " + i + " differs");
            }
        }
        if (a.dtype() != b.dtype()) {
            throw new WeightShapeException(what + "dtypes differ (" + a.dtype() + " vs " + b.dtype() + ")");
        }
    }

    /**
     * The union of this map and {@code other}, which must not share a name.
     *
     * @param other the other one
     * @return the union of this map and {@code other}, which must not share a name
     */
    public WeightMap plus(WeightMap other) {
        TreeMap<String, Weight> m = new TreeMap<>(weights);
        for (Weight w : other) {
            if (m.put(w.name(), w) != null) {
                throw new IllegalArgumentException("weight '" + w.name() + "' is in both maps");
            }
        }
        return new WeightMap(m);
    }

    @Override
    public String toString() {
        return weights.values().stream().map(w -> w.name() + " " + w.dtype() + " " + w.shape())
                .collect(Collectors.joining(", ", "WeightMap{", "}"));
    }

    /** Collects weights into a map; a name may be added only once. */
    public static final class Builder {
        private final TreeMap<String, Weight> weights = new TreeMap<>();

        private Builder() {
        }

        /**
         * Adds a weight.
         *
         * @param weight the weight
         * @return this builder
         */
        public Builder put(Weight weight) {
            Weight previous = weights.putIfAbsent(weight.name(), weight);
            if (previous != null) {
                throw new IllegalArgumentException("weight '" + weight.name() + "' added twice: "
                        + previous.provenance().describe() + " and " + weight.provenance().describe());
            }
            return this;
        }

        /**
         * Adds a tensor under a name.
         *
         * @param name       the name
         * @param tensor     the tensor name
         * @param provenance the provenance
         * @return this builder
         */
        public Builder put(String name, TensorSource tensor, Provenance provenance) {
            return put(new Weight(name, tensor, provenance));
        }

        /**
         * The immutable map.
         *
         * @return the immutable map
         */
        public WeightMap build() {
            return new WeightMap(new TreeMap<>(weights));
        }
    }
}
