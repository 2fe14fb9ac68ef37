package dev.higgstrt.convert;

import dev.higgstrt.layout.LayoutException;
import dev.higgstrt.layout.Mapping;
import dev.higgstrt.layout.SourceTensor;
import dev.higgstrt.layout.HiggsAudioLayout;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.higgstrt.io.FileTrees;
import dev.higgstrt.io.Json;
import dev.higgstrt.io.OutputLock;
import dev.higgstrt.quant.QuantFormat;
import dev.higgstrt.quant.QuantOptions;
import dev.higgstrt.quant.Quantizer;
import dev.higgstrt.quant.SmoothQuant;
import dev.higgstrt.weights.Provenance;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.SpeechTokens;
import dev.higgstrt.safetensors.SafetensorsCheckpoint;
import dev.higgstrt.safetensors.SafetensorsWriter;
import dev.higgstrt.safetensors.ShardIndex;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.TensorSource;
import dev.higgstrt.weights.WeightMap;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.LongConsumer;
import java.util.stream.Stream;

/**
 * Converts a Higgs Audio v2 checkpoint (transformers or Boson layout, one file or sharded,
 * F32/F16/BF16) into a TensorRT-LLM checkpoint folder: {@code config.json} and one
 * {@code rank{N}.safetensors} per rank, as {@link HiggsAudioLayout} specifies.
 *
 * <p>Conversion streams: each rank file is written tensor by tensor, a block at a time, from lazy
 * views of the memory-mapped source, so the model is never held in memory. Ranks are written in
 * parallel. The whole output folder is written under a temporary name beside the target and
 * renamed into place at the end: a failed or killed conversion leaves the previous output, or
 * none. A conversion holds a lock on {@code .NAME.lock} beside the output folder: a second
 * conversion into the same folder is refused while the first runs, and the next one removes what
 * a killed one left (its temporary folder). Source weights holding NaN or infinity are refused
 * unless {@link ConversionOptions#allowNonFinite()}. Conversions may run on several threads at
 * once, into different output folders.
 */
public final class Converter {
    /** The text tokenizer beside a checkpoint, copied into the converted folder so that it stands alone. */
    static final String TOKENIZER_FILE = "tokenizer.json";

    private Converter() {
    }

    /**
     * dtype and shape of one target tensor.
     *
     * @param dtype the element type
     * @param shape the shape
     */
    public record TensorSpec(DType dtype, Shape shape) {
    }

    /**
     * The tensors one rank will hold.
     *
     * @param mapping the rank mapping
     * @param tensors the tensors by name
     */
    public record RankPlan(Mapping mapping, SortedMap<String, TensorSpec> tensors) {
    }

    /**
     * What a conversion does.
     *
     * @param config     the source config
     * @param resolution how the source's tensors map to the layout
     * @param dtype      the target dtype of float weights (quantized weights take the quantization's types)
     * @param quant      the weight quantization ({@link QuantFormat#NONE} for none)
     * @param ranks      each rank's tensors
     */
    public record Plan(HiggsAudioConfig config, HiggsAudioLayout.Resolution resolution, DType dtype, QuantFormat quant,
                       List<RankPlan> ranks) {
        /**
         * Counts the tensors.
         *
         * @return tensors over all ranks
         */
        public int tensorCount() {
            return ranks.stream().mapToInt(r -> r.tensors().size()).sum();
        }

        /**
         * Sums the tensor data the conversion writes.
         *
         * @return the tensor data bytes the conversion writes over all ranks: the total of what
         *         {@link #convert}'s progress receives and of {@link Report#bytes()}
         */
        public long tensorBytes() {
            return ranks.stream().flatMap(r -> r.tensors().values().stream())
                    .mapToLong(t -> t.shape().elementCount() * t.dtype().byteSize()).sum();
        }

        /**
         * Remarks for the user: tied head, skipped tensors.
         *
         * @return remarks for the user: tied head, skipped tensors
         */
        public List<String> notes() {
            List<String> notes = new ArrayList<>();
            if (resolution.textHeadTied()) {
                notes.add("text_lm_head is tied to the token embedding (tie_word_embeddings): written from "
                        + SourceTensor.EMBED_TOKENS.name(config.layout(), 0));
            } else if (!resolution.textHead()) {
                notes.add("the source has no text head: no text_lm_head written");
            }
            if (!resolution.skipped().isEmpty()) {
                notes.add("skipped " + resolution.skipped().size() + " tensors that are not part of the decoder"
                        + " (audio tower, encoder projector), e.g. " + resolution.skipped().getFirst());
            }
            return notes;
        }
    }

    /**
     * The result of a conversion.
     *
     * @param plan      what was converted
     * @param output    the output folder
     * @param bytes     tensor data bytes written, the same as the sum of the progress callbacks and
     *                  {@link Plan#tensorBytes()}
     * @param fileBytes the size of the rank files written (tensor data, headers and padding)
     * @param seconds   wall time of the whole run (reading, quantizing and writing)
     */
    public record Report(Plan plan, Path output, long bytes, long fileBytes, double seconds) {
    }

    /**
     * The plan for converting {@code input}, from its {@code config.json} and tensor names only:
     * a folder's shard index, or the header of a single file. No tensor data is read.
     *
     * @param input   the input
     * @param options the options
     * @return the plan for converting {@code input}, from its {@code config.json} and tensor names only: a folder's shard index, or the header of a single file
     * @throws IOException when a file cannot be read or written
     */
    public static Plan plan(Path input, ConversionOptions options) throws IOException {
        HiggsAudioConfig config = HiggsAudioConfig.readFolder(input);
        Path index = input.resolve(ShardIndex.FILE_NAME);
        if (Files.isRegularFile(index)) {
            HiggsAudioLayout.Resolution r = HiggsAudioLayout.resolve(config, ShardIndex.read(index).weightMap().keySet());
            return plan(r, options.dtype().orElse(config.torchDtype().orElse(DType.BF16)), options);
        }
        try (SafetensorsCheckpoint ck = SafetensorsCheckpoint.open(input)) {
            HiggsAudioLayout.Resolution r = HiggsAudioLayout.resolve(config, ck.weights().names());
            return plan(r, options.dtype().orElse(sourceDtype(ck.weights(), config)), options);
        }
    }

    private static DType sourceDtype(WeightMap source, HiggsAudioConfig c) {
        return source.get(SourceTensor.EMBED_TOKENS.name(c.layout(), 0)).dtype();
    }

    static Plan plan(HiggsAudioLayout.Resolution r, DType dtype, ConversionOptions o) {
        HiggsAudioLayout.checkParallelism(r.config(), o.tp(), o.pp());
        List<RankPlan> ranks = new ArrayList<>();
        for (Mapping m : Mapping.all(o.tp(), o.pp())) {
            SortedMap<String, TensorSpec> tensors = new TreeMap<>();
            SortedMap<String, Shape> shapes = HiggsAudioLayout.rankShapes(r.config(), m, r.textHead());
            if (o.quant().smoothing().isPresent()) {
                WeightMap.Builder placeholders = WeightMap.builder();
                shapes.forEach((n, s) -> placeholders.put(n, new Planned(dtype, s), Provenance.memory("plan")));
                for (var w : SmoothQuant.rank(placeholders.build(), m, r.config(), o.quant(), null)) {
                    tensors.put(w.name(), new TensorSpec(w.tensor().dtype(), w.tensor().shape()));
                }
            } else {
                shapes.forEach((n, s) -> {
                    for (Quantizer.Planned q : Quantizer.plan(n, dtype, s, o.quant())) {
                        tensors.put(q.name(), new TensorSpec(q.dtype(), q.shape()));
                    }
                });
            }
            ranks.add(new RankPlan(m, tensors));
        }
        return new Plan(r.config(), r, dtype, o.quant().format(), List.copyOf(ranks));
    }

    /** A tensor of a plan: its dtype and shape, no values. */
    private record Planned(DType dtype, Shape shape) implements dev.higgstrt.tensor.TensorSource {
        @Override
        public void readRows(long firstRow, long rowCount, java.lang.foreign.MemorySegment dst) {
            throw new IllegalStateException("a planned tensor has no values");
        }
    }

    /**
     * Converts {@code input} into the folder {@code output}. {@code output} must not exist, be
     * empty, or hold an earlier conversion (which is replaced).
     *
     * @param progress receives bytes written, from several threads
     * @throws dev.higgstrt.model.ConfigException for an unsupported or invalid config
     * @throws LayoutException                    for missing, unexpected or misshapen tensors
     * @param input   the input
     * @param output  the output
     * @param options the options
     * @return what was written, with the plan, sizes and time
     * @throws IOException when a file cannot be read or written
     */
    public static Report convert(Path input, Path output, ConversionOptions options, LongConsumer progress)
            throws IOException {
        long t0 = System.nanoTime();
        HiggsAudioConfig.readFolder(input);
        if (Files.exists(output) && !Files.isDirectory(output)) {
            throw new java.nio.file.FileAlreadyExistsException(output.toString(), null, "a file, not a folder (expected the output folder)");
        }
        Path parent = output.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        try (OutputLock lock = OutputLock.acquire(output)) {
            removeLeftovers(parent, output.getFileName().toString());
            checkReplaceable(output);
            return convertLocked(input, output, parent, options, progress, t0);
        }
    }

    /** Temporary and replaced folders of earlier conversions into {@code name} that were killed before cleaning up. */
    private static void removeLeftovers(Path parent, String name) throws IOException {
        try (Stream<Path> s = Files.list(parent)) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                if (n.startsWith("." + name + ".tmp-") || n.startsWith("." + name + ".old-")) {
                    FileTrees.delete(p);
                }
            }
        }
    }

    private static Report convertLocked(Path input, Path output, Path parent, ConversionOptions options, LongConsumer progress,
                                        long t0) throws IOException {
        HiggsAudioConfig config = HiggsAudioConfig.readFolder(input);
        try (SafetensorsCheckpoint ck = SafetensorsCheckpoint.open(input)) {
            WeightMap source = options.allowNonFinite() ? ck.weights() : FiniteWeights.guard(ck.weights());
            HiggsAudioLayout.Resolution r = HiggsAudioLayout.resolve(config, source.names());
            WeightMap canonical = HiggsAudioLayout.canonical(r, source);
            SmoothQuant.Smoothed smoothed = null;
            if (options.quant().smoothing().isPresent()) {
                smoothed = SmoothQuant.smooth(config, canonical, options.quant().smoothing().get());
                canonical = smoothed.canonical();
            }
            DType dtype = options.dtype().orElse(sourceDtype(source, config));
            Plan plan = plan(r, dtype, options);
            Path temp = parent.resolve("." + output.getFileName() + ".tmp-" + Long.toHexString(ThreadLocalRandom.current().nextLong()));
            Files.createDirectory(temp);
            try {
                long bytes = writeRanks(r, canonical, smoothed, plan, options, temp, progress);
                ObjectNode trtllm = trtllmTree(config, options.tp(), options.pp(), dtype, r.textHead(), options.quant());
                SpeechTokens.read(input).writeTo(trtllm);
                Files.writeString(temp.resolve(HiggsAudioConfig.FILE_NAME), Json.pretty(trtllm) + "\n");
                Path tokenizer = input.resolve(TOKENIZER_FILE);
                if (Files.isRegularFile(tokenizer)) {
                    Files.copy(tokenizer, temp.resolve(TOKENIZER_FILE));
                }
                replace(temp, output);
                return new Report(plan, output, plan.tensorBytes(), bytes, (System.nanoTime() - t0) / 1e9);
            } finally {
                FileTrees.delete(temp);
            }
        }
    }

    private static long writeRanks(HiggsAudioLayout.Resolution r, WeightMap canonical, SmoothQuant.Smoothed smoothed, Plan plan,
                                   ConversionOptions o, Path dir, LongConsumer progress) throws IOException {
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(o.threads(), plan.ranks().size()),
                Thread.ofPlatform().name("convert-rank-", 0).daemon().factory());
        try {
            List<Future<Long>> done = new ArrayList<>();
            for (RankPlan rp : plan.ranks()) {
                done.add(pool.submit(() -> {
                    WeightMap rank = HiggsAudioLayout.rank(r, canonical, rp.mapping(), plan.dtype());
                    rank = smoothed != null ? SmoothQuant.rank(rank, rp.mapping(), r.config(), o.quant(), smoothed)
                            : Quantizer.apply(rank, o.quant(), rp.mapping().layers(r.config().numLayers()));
                    return SafetensorsWriter.write(dir.resolve(rp.mapping().fileName()), rank, Map.of("format", "pt"), progress);
                }));
            }
            long total = 0;
            for (Future<Long> f : done) {
                total += f.get();
            }
            return total;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("conversion interrupted");
        } catch (ExecutionException e) {
            switch (e.getCause()) {
                case IOException io -> throw io;
                case RuntimeException re -> throw re;
                case Error err -> throw err;
                default -> throw new IOException(e.getCause());
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * TensorRT-LLM's {@code PretrainedConfig} for the converted model, unquantized.
     *
     * @param c        the model config
     * @param tp       the tensor-parallel size
     * @param pp       the pipeline-parallel size
     * @param dtype    the element type
     * @param textHead whether the model has a text head
     * @return TensorRT-LLM's {@code PretrainedConfig} for the converted model, unquantized
     */
    public static String trtllmConfig(HiggsAudioConfig c, int tp, int pp, DType dtype, boolean textHead) {
        return trtllmConfig(c, tp, pp, dtype, textHead, QuantOptions.NONE);
    }

    /**
     * TensorRT-LLM's {@code PretrainedConfig} for the converted model.
     *
     * @param c        the model config
     * @param tp       the tensor-parallel size
     * @param pp       the pipeline-parallel size
     * @param dtype    the element type
     * @param textHead whether the model has a text head
     * @param quant    the quantization
     * @return TensorRT-LLM's {@code PretrainedConfig} for the converted model
     */
    public static String trtllmConfig(HiggsAudioConfig c, int tp, int pp, DType dtype, boolean textHead,
                                      QuantOptions quant) {
        return Json.pretty(trtllmTree(c, tp, pp, dtype, textHead, quant));
    }

    private static ObjectNode trtllmTree(HiggsAudioConfig c, int tp, int pp, DType dtype, boolean textHead, QuantOptions quant) {
        ObjectNode n = Json.PRETTY.createObjectNode();
        n.put("architecture", HiggsAudioConfig.TRTLLM_ARCHITECTURE);
        n.put("dtype", dtype.torchName());
        n.put("logits_dtype", "float32");
        n.put("vocab_size", c.vocabSize());
        n.put("hidden_size", c.hiddenSize());
        n.put("num_hidden_layers", c.numLayers());
        n.put("num_attention_heads", c.numHeads());
        n.put("num_key_value_heads", c.numKvHeads());
        n.put("head_size", c.headDim());
        n.put("intermediate_size", c.intermediateSize());
        n.put("hidden_act", "silu");
        n.put("norm_epsilon", c.rmsNormEps());
        n.put("max_position_embeddings", c.maxPositionEmbeddings());
        n.put("position_embedding_type", "rope_gpt_neox");
        n.put("rotary_base", c.rope().theta());
        if (c.rope().scaled()) {
            ObjectNode s = n.putObject("rotary_scaling");
            s.put("type", "llama3");
            s.put("factor", c.rope().factor());
            s.put("low_freq_factor", c.rope().lowFreqFactor());
            s.put("high_freq_factor", c.rope().highFreqFactor());
            s.put("original_max_position_embeddings", c.rope().originalMaxPositionEmbeddings());
        } else {
            n.putNull("rotary_scaling");
        }
        ObjectNode mapping = n.putObject("mapping");
        mapping.put("world_size", tp * pp);
        mapping.put("tp_size", tp);
        mapping.put("pp_size", pp);
        ObjectNode q = n.putObject("quantization");
        if (quant.format() == QuantFormat.NONE) {
            q.putNull("quant_algo");
            quant.smoothing().ifPresent(s -> {
                q.put("smoothquant_val", s.alpha());
                q.put("higgs_smoothing_folded_only", true);
            });
        } else {
            q.put("quant_algo", quant.format().quantAlgo());
            if (quant.format() == QuantFormat.INT4_GROUP) {
                q.put("group_size", quant.groupSize());
                q.put("has_zero_point", false);
                q.put("pre_quant_scale", false);
            }
            quant.smoothing().ifPresent(s -> q.put("smoothquant_val", s.alpha()));
            var excluded = q.putArray("exclude_modules");
            quant.exclude().forEach(p -> excluded.add(p.pattern()));
        }
        q.putNull("kv_cache_quant_algo");
        n.put("num_codebooks", c.numCodebooks());
        n.put("codebook_size", c.codebookSize());
        var ids = n.putArray("audio_token_ids");
        c.audioTokenIds().forEach(ids::add);
        n.put("audio_stream_bos_id", c.audioStreamBosId());
        n.put("audio_stream_eos_id", c.audioStreamEosId());
        var dual = n.putArray("audio_dual_ffn_layers");
        c.dualFfnLayers().forEach(dual::add);
        n.put("has_text_lm_head", textHead);
        n.put("tie_word_embeddings", c.tieWordEmbeddings());
        n.put("mlp_gate_up_order", "gate_up");
        n.put("source_layout", c.layout().id());
        return n;
    }

    private static void checkReplaceable(Path output) throws IOException {
        if (!Files.exists(output)) {
            return;
        }
        if (!Files.isDirectory(output)) {
            throw new FileAlreadyExistsException(output.toString(), null, "exists and is not a folder");
        }
        try (Stream<Path> s = Files.list(output)) {
            if (s.findAny().isEmpty()) {
                return;
            }
        }
        Path cfg = output.resolve(HiggsAudioConfig.FILE_NAME);
        boolean converted = Files.isRegularFile(cfg) && Files.readString(cfg).contains(HiggsAudioConfig.TRTLLM_ARCHITECTURE);
        if (!converted) {
            throw new FileAlreadyExistsException(output.toString(), null,
                    "exists, is not empty and is not an earlier conversion: refusing to replace it");
        }
    }

    /** Moves {@code temp} to {@code output}, replacing an earlier conversion there. */
    private static void replace(Path temp, Path output) throws IOException {
        Path old = null;
        if (Files.exists(output)) {
            old = output.resolveSibling("." + output.getFileName() + ".old-" + Long.toHexString(ThreadLocalRandom.current().nextLong()));
            Files.move(output, old, StandardCopyOption.ATOMIC_MOVE);
        }
        Files.move(temp, output, StandardCopyOption.ATOMIC_MOVE);
        if (old != null) {
            FileTrees.delete(old);
        }
    }

}
