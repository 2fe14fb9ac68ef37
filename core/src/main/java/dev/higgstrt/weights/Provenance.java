package dev.higgstrt.weights;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Where a weight came from: a tensor of a file, or an operation on other weights. Used in
 * error messages, so that a user can find the offending tensor on disk.
 *
 * @param file       the file a tensor was read from, or null for a derived weight
 * @param sourceName the tensor's name in that file, or the operation for a derived weight
 * @param inputs     the provenance of the inputs of a derived weight (empty for a file)
 */
public record Provenance(Path file, String sourceName, List<Provenance> inputs) {

    /** Canonical constructor: copies the inputs. */
    public Provenance {
        inputs = List.copyOf(inputs);
    }

    /**
     * Tensor {@code name} of {@code file}.
     *
     * @param file the file
     * @param name the name
     * @return tensor {@code name} of {@code file}
     */
    public static Provenance file(Path file, String name) {
        return new Provenance(file, name, List.of());
    }

    /**
     * A weight made in memory (tests, synthetic checkpoints).
     *
     * @param description the description
     * @return a weight made in memory (tests, synthetic checkpoints)
     */
    public static Provenance memory(String description) {
        return new Provenance(null, description, List.of());
    }

    /**
     * The result of {@code operation} on {@code inputs}.
     *
     * @param operation the operation
     * @param inputs    the inputs
     * @return the result of {@code operation} on {@code inputs}
     */
    public static Provenance derived(String operation, List<Provenance> inputs) {
        return new Provenance(null, operation, inputs);
    }

    /**
     * A short description, for example {@code model-00001.safetensors:model.norm.weight} or
     * {@code fuse(a.safetensors:q, a.safetensors:k)}.
     *
     * @return a short description, for example {@code model-00001.safetensors:model.norm.weight} or {@code fuse(a.safetensors:q, a.safetensors:k)}
     */
    public String describe() {
        if (file != null) {
            return file.getFileName() + ":" + sourceName;
        }
        if (inputs.isEmpty()) {
            return sourceName;
        }
        return sourceName + inputs.stream().map(Provenance::describe).collect(Collectors.joining(", ", "(", ")"));
    }

    @Override
    public String toString() {
        return describe();
    }
}
