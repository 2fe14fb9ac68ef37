package dev.higgstrt.weights;

import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.TensorSource;

import java.util.Objects;

/**
 * A named tensor with its provenance.
 *
 * @param name       the weight's name in its map
 * @param tensor     the data (lazy: nothing is read until asked)
 * @param provenance where it came from
 */
public record Weight(String name, TensorSource tensor, Provenance provenance) {
    /** Canonical constructor: no nulls. */
    public Weight {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(tensor, "tensor");
        Objects.requireNonNull(provenance, "provenance");
    }

    /** The tensor's dtype. */
    public DType dtype() {
        return tensor.dtype();
    }

    /** The tensor's shape. */
    public Shape shape() {
        return tensor.shape();
    }

    /** {@code name [d0,d1]}, for messages. */
    public String describe() {
        return name + " " + shape();
    }
}
