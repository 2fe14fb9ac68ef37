package dev.higgstrt.safetensors;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.higgstrt.io.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A validated {@code model.safetensors.index.json}: which shard file holds each tensor.
 * Shard names must be plain relative paths that stay inside the index's folder, also after
 * following symbolic links. Reading the index reads no shard.
 *
 * @param file      the index file
 * @param weightMap tensor name to shard path, relative to the index's folder, sorted by name
 * @param metadata  the index's {@code metadata} object, as strings
 */
public record ShardIndex(Path file, SortedMap<String, String> weightMap, Map<String, String> metadata) {
    /** The usual file name of a Hugging Face shard index. */
    public static final String FILE_NAME = "model.safetensors.index.json";
    /** Largest index accepted. */
    public static final long MAX_INDEX_BYTES = 100_000_000L;

    /** Canonical constructor: immutable copies. */
    public ShardIndex {
        weightMap = Collections.unmodifiableSortedMap(new TreeMap<>(weightMap));
        metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    }

    /**
     * Reads and validates an index file.
     *
     * @throws SafetensorsFormatException when it is malformed or a shard path escapes its folder
     * @param file the file
     * @return and validates an index file
     * @throws IOException when a file cannot be read or written
     */
    public static ShardIndex read(Path file) throws IOException {
        long size = Files.size(file);
        if (size > MAX_INDEX_BYTES) {
            throw new SafetensorsFormatException(file, "index of " + size + " bytes exceeds the limit of " + MAX_INDEX_BYTES);
        }
        JsonNode root;
        try {
            root = Json.readUtf8(Json.STRICT, Files.readAllBytes(file));
        } catch (JsonProcessingException e) {
            throw new SafetensorsFormatException(file, null, "not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new SafetensorsFormatException(file, "index is not a JSON object");
        }
        JsonNode wm = root.get("weight_map");
        if (wm == null || !wm.isObject()) {
            throw new SafetensorsFormatException(file, "index has no 'weight_map' object");
        }
        Path dir = folderOf(file);
        TreeMap<String, String> map = new TreeMap<>();
        for (Map.Entry<String, JsonNode> e : wm.properties()) {
            if (!e.getValue().isTextual()) {
                throw new SafetensorsFormatException(file, e.getKey(), "shard name is not a string");
            }
            String shard = e.getValue().textValue();
            checkInside(file, dir, e.getKey(), shard);
            map.put(e.getKey(), shard);
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        JsonNode md = root.get("metadata");
        if (md != null && md.isObject()) {
            md.properties().forEach(e -> metadata.put(e.getKey(), e.getValue().isTextual()
                    ? e.getValue().textValue() : e.getValue().toString()));
        }
        return new ShardIndex(file, map, metadata);
    }

    static Path folderOf(Path file) {
        Path parent = file.toAbsolutePath().getParent();
        return parent == null ? Path.of("/") : parent;
    }

    private static void checkInside(Path index, Path dir, String tensor, String shard) throws IOException {
        if (shard.isEmpty() || shard.indexOf('\0') >= 0) {
            throw new SafetensorsFormatException(index, tensor, "invalid shard name '" + shard + "'");
        }
        Path rel;
        try {
            rel = Path.of(shard);
        } catch (java.nio.file.InvalidPathException e) {
            throw new SafetensorsFormatException(index, tensor, "invalid shard name '" + shard + "'", e);
        }
        Path resolved = dir.resolve(rel).normalize();
        if (rel.isAbsolute() || !resolved.startsWith(dir.normalize())) {
            throw new SafetensorsFormatException(index, tensor, "shard path '" + shard + "' escapes the folder " + dir);
        }
        if (Files.exists(resolved, LinkOption.NOFOLLOW_LINKS) || Files.exists(resolved)) {
            Path real;
            try {
                real = resolved.toRealPath();
            } catch (IOException e) {
                throw new SafetensorsFormatException(index, tensor, "shard '" + shard + "' cannot be resolved: " + e.getMessage(), e);
            }
            if (!real.startsWith(dir.toRealPath())) {
                throw new SafetensorsFormatException(index, tensor, "shard path '" + shard
                        + "' leads outside the folder through a symbolic link (to " + real + ")");
            }
        }
    }

    /**
     * The distinct shard paths, sorted.
     *
     * @return the distinct shard paths, sorted
     */
    public SortedSet<String> shards() {
        return Collections.unmodifiableSortedSet(new TreeSet<>(weightMap.values()));
    }

    /**
     * The tensor names, sorted.
     *
     * @return the tensor names, sorted
     */
    public SortedSet<String> tensorNames() {
        return Collections.unmodifiableSortedSet(new TreeSet<>(weightMap.keySet()));
    }
}
