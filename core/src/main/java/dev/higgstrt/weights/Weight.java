package dev.higgstrt.weights;

import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.TensorSource;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A named tensor with its provenance, and, for a weight made by {@link WeightMap#fuse}, the parts
 * it was fused from: sharding such a weight along the fused axis shards each part, so that a rank
 * holds {@code [q_r; k_r; v_r]} rather than a slice across the part boundaries.
 *
 * @param name       the weight's name in its map
 * @param tensor     the data (lazy: nothing is read until asked)
 * @param provenance where it came from
 * @param fusion     the parts and axis this weight was fused from, if it was
 */
public record Weight(String name, TensorSource tensor, Provenance provenance, Optional<Fusion> fusion) {
    /** Canonical constructor: no nulls. */
    public Weight {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(tensor, "tensor");
        Objects.requireNonNull(provenance, "provenance");
        Objects.requireNonNull(fusion, "fusion");
    }

    /**
     * A weight that was not fused from parts.
     *
     * @param name       the weight's name in its map
     * @param tensor     the data
     * @param provenance where it came from
     */
    public Weight(String name, TensorSource tensor, Provenance provenance) {
        this(name, tensor, provenance, Optional.empty());
    }

    /**
     * The parts of a fused weight, in order, and the axis they were concatenated along.
     *
     * @param axis  the non-negative axis of the concatenation
     * @param parts the weights concatenated, in order
     */
    public record Fusion(int axis, List<Weight> parts) {
        /** Canonical constructor: copies the parts. */
        public Fusion {
            parts = List.copyOf(parts);
        }
    }

    /**
     * The element type.
     *
     * @return the tensor's dtype
     */
    public DType dtype() {
        return tensor.dtype();
    }

    /**
     * The shape.
     *
     * @return the tensor's shape
     */
    public Shape shape() {
        return tensor.shape();
    }

    /**
     * A short description.
     *
     * @return {@code name [d0,d1]}, for messages
     */
    public String describe() {
        return name + " " + shape();
    }

    /**
     * This weight renamed.
     *
     * @param newName the name to give
     * @return this weight under another name, its data, provenance and parts unchanged
     */
    public Weight renamed(String newName) {
        return new Weight(newName, tensor, provenance, fusion);
    }
}
