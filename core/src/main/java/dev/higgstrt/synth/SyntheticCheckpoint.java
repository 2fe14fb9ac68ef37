package dev.higgstrt.synth;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.higgstrt.convert.HiggsAudioLayout;
import dev.higgstrt.convert.SourceTensor;
import dev.higgstrt.io.AtomicOutput;
import dev.higgstrt.io.Json;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.SourceLayout;
import dev.higgstrt.safetensors.SafetensorsWriter;
import dev.higgstrt.safetensors.ShardIndex;
import dev.higgstrt.tensor.Conversions;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.TensorSource;
import dev.higgstrt.weights.Provenance;
import dev.higgstrt.weights.Weight;
import dev.higgstrt.weights.WeightMap;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.LongConsumer;
import java.util.stream.IntStream;

/**
 * Writes checkpoints with random weights in the transformers or Boson layout, for tests, demos
 * and benchmarks. Values are a deterministic function of the seed, the tensor name and the row,
 * generated as they are written: a checkpoint of any size is written in bounded memory.
 * Matrices get values of standard deviation {@code 1/sqrt(fan_in)}, embeddings 1, norm weights
 * {@code 1 +- 0.1}, so activations neither vanish nor explode.
 */
public final class SyntheticCheckpoint {
    /** Checkpoints larger than this are sharded, with an index, as Hugging Face does. */
    public static final long SHARD_BYTES = 2_000_000_000L;

    private SyntheticCheckpoint() {
    }

    /** The weights of a random model, in transformers (canonical) names, as lazy sources. */
    public static WeightMap weights(HiggsAudioConfig c, long seed, boolean textHead, DType dtype) {
        WeightMap.Builder b = WeightMap.builder();
        for (SourceTensor t : SourceTensor.values()) {
            if (t == SourceTensor.TEXT_HEAD && !textHead) {
                continue;
            }
            int[] layers = !t.perLayer() ? new int[]{0} : t.audioPath()
                    ? c.dualFfnLayers().stream().mapToInt(Integer::intValue).toArray()
                    : IntStream.range(0, c.numLayers()).toArray();
            for (int layer : layers) {
                String name = t.name(SourceLayout.TRANSFORMERS, layer);
                Shape shape = t.shape(c);
                boolean norm = shape.rank() == 1;
                boolean embedding = t == SourceTensor.EMBED_TOKENS || t == SourceTensor.AUDIO_EMBED;
                double scale = norm ? 0.1 : embedding ? 1.0 : 1.0 / Math.sqrt(shape.dim(1));
                b.put(name, new RandomSource(dtype, shape, mix(seed, name), norm ? 1.0 : 0.0, scale),
                        Provenance.memory("random(seed " + seed + ")"));
            }
        }
        return b.build();
    }

    /**
     * Writes a checkpoint folder: {@code config.json} of {@code format}'s flavour and the weights,
     * one {@code model.safetensors} or shards of at most {@link #SHARD_BYTES} with an index.
     *
     * @return total bytes of tensor data
     */
    public static long write(Path dir, HiggsAudioConfig config, SourceLayout format, long seed, boolean textHead,
                             DType dtype, LongConsumer progress) throws IOException {
        return write(dir, config, format, seed, textHead, dtype, SHARD_BYTES, progress);
    }

    /** As above, with shards of at most {@code shardBytes} (one tensor may exceed it). */
    public static long write(Path dir, HiggsAudioConfig config, SourceLayout format, long seed, boolean textHead,
                             DType dtype, long shardBytes, LongConsumer progress) throws IOException {
        if (format == SourceLayout.TRTLLM) {
            throw new IllegalArgumentException("synthetic checkpoints are written in the transformers or boson layout");
        }
        Files.createDirectories(dir);
        HiggsAudioConfig c = config.withLayout(format);
        WeightMap weights = HiggsAudioLayout.renameTo(weights(config, seed, textHead, dtype), format);
        ObjectNode json = format == SourceLayout.BOSON ? c.toBosonJson() : c.toTransformersJson();
        json.put("torch_dtype", dtype.torchName());
        writeAtomically(dir.resolve(HiggsAudioConfig.FILE_NAME), Json.PRETTY.writeValueAsString(json) + "\n");
        List<List<Weight>> shards = shards(weights, shardBytes);
        if (shards.size() == 1) {
            SafetensorsWriter.write(dir.resolve("model.safetensors"), weights, Map.of("format", "pt"), progress);
            return weights.byteSize();
        }
        Map<String, String> weightMap = new TreeMap<>();
        for (int i = 0; i < shards.size(); i++) {
            String name = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
            WeightMap shard = WeightMap.of(shards.get(i));
            SafetensorsWriter.write(dir.resolve(name), shard, Map.of("format", "pt"), progress);
            shard.names().forEach(n -> weightMap.put(n, name));
        }
        ObjectNode index = Json.PRETTY.createObjectNode();
        index.putObject("metadata").put("total_size", weights.byteSize());
        ObjectNode wm = index.putObject("weight_map");
        weightMap.forEach(wm::put);
        writeAtomically(dir.resolve(ShardIndex.FILE_NAME), Json.PRETTY.writeValueAsString(index) + "\n");
        return weights.byteSize();
    }

    private static List<List<Weight>> shards(WeightMap weights, long shardBytes) {
        List<List<Weight>> shards = new ArrayList<>();
        List<Weight> current = new ArrayList<>();
        long size = 0;
        for (Weight w : weights) {
            if (!current.isEmpty() && size + w.tensor().byteSize() > shardBytes) {
                shards.add(current);
                current = new ArrayList<>();
                size = 0;
            }
            current.add(w);
            size += w.tensor().byteSize();
        }
        shards.add(current);
        return shards;
    }

    static void writeAtomically(Path file, String text) throws IOException {
        try (AtomicOutput out = AtomicOutput.create(file)) {
            ByteBuffer b = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
            while (b.hasRemaining()) {
                out.channel().write(b);
            }
            out.commit();
        }
    }

    private static long mix(long seed, String name) {
        long h = seed * 0x9E3779B97F4A7C15L;
        for (int i = 0; i < name.length(); i++) {
            h = (h ^ name.charAt(i)) * 0x100000001B3L;
        }
        return h;
    }

    /** Uniform values of the given mean and standard deviation, generated per row. */
    private record RandomSource(DType dtype, Shape shape, long seed, double mean, double std) implements TensorSource {
        @Override
        public void readRows(long firstRow, long rowCount, MemorySegment dst) {
            int n = (int) rowElements();
            float[] row = new float[n];
            double halfWidth = std * Math.sqrt(3);
            for (long r = 0; r < rowCount; r++) {
                long x = splitmix(seed + (firstRow + r) * 0xBF58476D1CE4E5B9L);
                for (int i = 0; i < n; i++) {
                    x = splitmix(x);
                    double u = (x >>> 11) * 0x1.0p-53;
                    row[i] = (float) (mean + (2 * u - 1) * halfWidth);
                }
                Conversions.fromFloats(row, 0, dst, dtype, r * n, n);
            }
        }

        private static long splitmix(long z) {
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            return (z ^ (z >>> 31)) + 0x9E3779B97F4A7C15L;
        }
    }

}
