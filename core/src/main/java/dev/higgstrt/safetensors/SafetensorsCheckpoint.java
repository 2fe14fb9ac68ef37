package dev.higgstrt.safetensors;

import dev.higgstrt.weights.Provenance;
import dev.higgstrt.weights.WeightMap;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The safetensors files of a checkpoint: a single file, a folder with a shard index
 * ({@value ShardIndex#FILE_NAME}), a folder with {@value #SINGLE_FILE_NAME}, or else every
 * {@code .safetensors} file of a folder. Each file is opened (and validated) once. With an
 * index, every listed tensor must exist in its shard; across several files without one, no
 * tensor name may appear twice. Other files in the folder are ignored, as Hugging Face does.
 *
 * <p>Closing the checkpoint closes every reader; the weights it handed out become unusable.
 * Until then its weights may be read from any number of threads (the conversion writes ranks in
 * parallel from one checkpoint); closing it while another thread reads is not allowed.
 */
public final class SafetensorsCheckpoint implements AutoCloseable {
    /** The file a single-file Hugging Face checkpoint keeps its weights in. */
    public static final String SINGLE_FILE_NAME = "model.safetensors";

    private final Path location;
    private final Map<String, SafetensorsReader> readers;
    private final Optional<ShardIndex> index;
    private final WeightMap weights;

    private SafetensorsCheckpoint(Path location, Map<String, SafetensorsReader> readers,
                                  Optional<ShardIndex> index, WeightMap weights) {
        this.location = location;
        this.readers = Collections.unmodifiableMap(readers);
        this.index = index;
        this.weights = weights;
    }

    /**
     * Opens a {@code .safetensors} file or a checkpoint folder.
     *
     * @throws SafetensorsFormatException for a malformed file or index, or a missing shard
     * @throws NoSuchFileException        when {@code path} does not exist
     * @param path the path
     * @return a {@code .safetensors} file or a checkpoint folder
     */
    public static SafetensorsCheckpoint open(Path path) throws IOException {
        if (!Files.exists(path)) {
            throw new NoSuchFileException(path.toString());
        }
        Map<String, SafetensorsReader> readers = new LinkedHashMap<>();
        try {
            if (!Files.isDirectory(path)) {
                SafetensorsReader r = SafetensorsReader.open(path);
                readers.put(path.getFileName().toString(), r);
                return new SafetensorsCheckpoint(path, readers, Optional.empty(), r.weights());
            }
            Path indexFile = path.resolve(ShardIndex.FILE_NAME);
            if (Files.isRegularFile(indexFile)) {
                ShardIndex index = ShardIndex.read(indexFile);
                return fromIndex(path, index, readers);
            }
            Path single = path.resolve(SINGLE_FILE_NAME);
            List<Path> files = Files.isRegularFile(single) ? List.of(single) : safetensorsFiles(path);
            if (files.isEmpty()) {
                throw new SafetensorsFormatException(path, "no .safetensors file in this folder");
            }
            WeightMap.Builder b = WeightMap.builder();
            Map<String, Path> owner = new java.util.HashMap<>();
            for (Path f : files) {
                SafetensorsReader r = SafetensorsReader.open(f);
                readers.put(f.getFileName().toString(), r);
                for (String name : r.infos().keySet()) {
                    Path other = owner.putIfAbsent(name, f);
                    if (other != null) {
                        throw new SafetensorsFormatException(f, name, "also in " + other.getFileName()
                                + " (a folder without an index may not hold a tensor twice)");
                    }
                    b.put(name, r.source(name), Provenance.file(f, name));
                }
            }
            return new SafetensorsCheckpoint(path, readers, Optional.empty(), b.build());
        } catch (IOException | RuntimeException e) {
            closeAll(readers.values(), e);
            throw e;
        }
    }

    private static SafetensorsCheckpoint fromIndex(Path dir, ShardIndex index, Map<String, SafetensorsReader> readers)
            throws IOException {
        for (String shard : index.shards()) {
            Path f = dir.resolve(shard).normalize();
            if (!Files.isRegularFile(f)) {
                throw new SafetensorsFormatException(index.file(), "shard '" + shard + "' listed in the index is missing");
            }
            readers.put(shard, SafetensorsReader.open(f));
        }
        WeightMap.Builder b = WeightMap.builder();
        for (Map.Entry<String, String> e : index.weightMap().entrySet()) {
            SafetensorsReader r = readers.get(e.getValue());
            if (!r.contains(e.getKey())) {
                throw new SafetensorsFormatException(r.file(), e.getKey(), "listed in " + ShardIndex.FILE_NAME
                        + " but not present in this shard");
            }
            b.put(e.getKey(), r.source(e.getKey()), Provenance.file(r.file(), e.getKey()));
        }
        return new SafetensorsCheckpoint(dir, readers, Optional.of(index), b.build());
    }

    /**
     * The {@code .safetensors} files directly in {@code dir}, sorted, skipping hidden files.
     *
     * @param dir the folder
     * @return the {@code .safetensors} files directly in {@code dir}, sorted, skipping hidden files
     * @throws IOException when a file cannot be read or written
     */
    public static List<Path> safetensorsFiles(Path dir) throws IOException {
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.safetensors")) {
            for (Path p : ds) {
                if (!p.getFileName().toString().startsWith(".") && Files.isRegularFile(p)) {
                    files.add(p);
                }
            }
        }
        files.sort(null);
        return files;
    }

    private static void closeAll(Iterable<SafetensorsReader> readers, Exception primary) {
        for (SafetensorsReader r : readers) {
            try {
                r.close();
            } catch (IOException | RuntimeException e) {
                primary.addSuppressed(e);
            }
        }
    }

    /**
     * The file or folder this checkpoint was opened from.
     *
     * @return the file or folder this checkpoint was opened from
     */
    public Path location() {
        return location;
    }

    /**
     * The open readers, by file name relative to the folder.
     *
     * @return the open readers, by file name relative to the folder
     */
    public Map<String, SafetensorsReader> readers() {
        return readers;
    }

    /**
     * The shard index, when the folder has one.
     *
     * @return the shard index, when the folder has one
     */
    public Optional<ShardIndex> index() {
        return index;
    }

    /**
     * Every tensor of the checkpoint as a streaming source, with its file as provenance.
     *
     * @return every tensor of the checkpoint as a streaming source, with its file as provenance
     */
    public WeightMap weights() {
        return weights;
    }

    /** Closes every reader. Idempotent. */
    @Override
    public void close() throws IOException {
        IOException first = null;
        for (SafetensorsReader r : readers.values()) {
            try {
                r.close();
            } catch (IOException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
