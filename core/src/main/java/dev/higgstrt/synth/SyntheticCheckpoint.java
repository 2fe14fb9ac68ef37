package dev.higgstrt.synth;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.higgstrt.layout.HiggsAudioLayout;
import dev.higgstrt.layout.SourceTensor;
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

    /**
     * What to write: the geometry, the layout of the files, the seed, whether to include a text
     * head, the dtype and the shard size. {@code Spec.of(config)} gives the transformers layout,
     * seed 1, no text head, BF16 and {@link #SHARD_BYTES}; the {@code with} methods change one.
     *
     * @param config     the model geometry
     * @param format     the source layout of the files (transformers or boson)
     * @param seed       the random seed
     * @param textHead   whether to write a text LM head
     * @param dtype      the dtype of every tensor
     * @param shardBytes the largest shard (one tensor may exceed it)
     */
    public record Spec(HiggsAudioConfig config, SourceLayout format, long seed, boolean textHead, DType dtype,
                       long shardBytes) {
        /** Canonical constructor: checks the layout and shard size. */
        public Spec {
            java.util.Objects.requireNonNull(config, "config");
            if (format == SourceLayout.TRTLLM) {
                throw new IllegalArgumentException("synthetic checkpoints are written in the transformers or boson layout");
            }
            if (shardBytes <= 0) {
                throw new IllegalArgumentException("shard size must be positive");
            }
        }

        /**
         * The defaults for a geometry.
         *
         * @param config the model geometry
         * @return the defaults for {@code config}
         */
        public static Spec of(HiggsAudioConfig config) {
            return new Spec(config, SourceLayout.TRANSFORMERS, 1, false, DType.BF16, SHARD_BYTES);
        }

        /**
         * This spec in layout {@code f}.
         *
         * @param f the layout
         * @return this spec in layout {@code f}
         */
        public Spec withFormat(SourceLayout f) {
            return new Spec(config, f, seed, textHead, dtype, shardBytes);
        }

        /**
         * This spec with seed {@code s}.
         *
         * @param s the seed
         * @return this spec with seed {@code s}
         */
        public Spec withSeed(long s) {
            return new Spec(config, format, s, textHead, dtype, shardBytes);
        }

        /**
         * This spec with or without a text head.
         *
         * @param include whether to write a text head
         * @return this spec with or without a text head
         */
        public Spec withTextHead(boolean include) {
            return new Spec(config, format, seed, include, dtype, shardBytes);
        }

        /**
         * This spec in dtype {@code d}.
         *
         * @param d the dtype
         * @return this spec in dtype {@code d}
         */
        public Spec withDtype(DType d) {
            return new Spec(config, format, seed, textHead, d, shardBytes);
        }

        /**
         * This spec with shards of at most {@code bytes}.
         *
         * @param bytes the largest shard
         * @return this spec with shards of at most {@code bytes}
         */
        public Spec withShardBytes(long bytes) {
            return new Spec(config, format, seed, textHead, dtype, bytes);
        }
    }

    /**
     * The weights of a random model.
     *
     * @param spec what to make (the layout and shard size are not used)
     * @return the weights of a random model, in transformers (canonical) names, as lazy sources
     */
    public static WeightMap weights(Spec spec) {
        HiggsAudioConfig c = spec.config();
        long seed = spec.seed();
        boolean textHead = spec.textHead();
        DType dtype = spec.dtype();
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
     * Writes a checkpoint folder: {@code config.json} of the spec's flavour, a {@code
     * tokenizer.json} where the vocabulary holds one ({@link SyntheticTokenizer}, its special ids
     * recorded in config.json) and the
     * weights, one {@code model.safetensors} or shards of at most {@code spec.shardBytes()} with an
     * index.
     *
     * @param dir      the folder (created if missing)
     * @param spec     what to write
     * @param progress receives tensor bytes as they are written
     * @return total bytes of tensor data
     * @throws IOException when a file cannot be written
     */
    public static long write(Path dir, Spec spec, LongConsumer progress) throws IOException {
        HiggsAudioConfig config = spec.config();
        SourceLayout format = spec.format();
        DType dtype = spec.dtype();
        long shardBytes = spec.shardBytes();
        Files.createDirectories(dir);
        HiggsAudioConfig c = config.withLayout(format);
        WeightMap weights = HiggsAudioLayout.renameTo(weights(spec), format);
        ObjectNode json = (ObjectNode) Json.CONFIG.readTree(format == SourceLayout.BOSON ? c.toBosonJson() : c.toTransformersJson());
        json.put("torch_dtype", dtype.torchName());
        if (SyntheticTokenizer.fits(config)) {
            SyntheticTokenizer tokenizer = SyntheticTokenizer.of(config);
            int audioOutBos = tokenizer.specials().get("<|audio_out_bos|>");
            int eot = tokenizer.specials().get("<|eot_id|>");
            if (format == SourceLayout.BOSON) {
                json.put("audio_out_bos_token_id", audioOutBos);
                ObjectNode text = json.path("text_config").isObject() ? (ObjectNode) json.get("text_config") : json;
                text.put("eos_token_id", eot);
                text.put("bos_token_id", tokenizer.specials().get("<|begin_of_text|>"));
            } else {
                json.put("audio_bos_token_id", audioOutBos);
                json.put("eos_token_id", eot);
                json.put("bos_token_id", tokenizer.specials().get("<|begin_of_text|>"));
                json.put("pad_token_id", tokenizer.specials().get("<|end_of_text|>"));
            }
            AtomicOutput.writeString(dir.resolve(dev.higgstrt.text.HuggingFaceTextTokenizer.FILE_NAME), tokenizer.json());
        }
        AtomicOutput.writeString(dir.resolve(HiggsAudioConfig.FILE_NAME), Json.PRETTY.writeValueAsString(json) + "\n");
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
        AtomicOutput.writeString(dir.resolve(ShardIndex.FILE_NAME), Json.PRETTY.writeValueAsString(index) + "\n");
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
