package dev.higgstrt.layout;

import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.model.SourceLayout;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.TensorSource;
import dev.higgstrt.weights.Provenance;
import dev.higgstrt.weights.Weight;
import dev.higgstrt.weights.WeightMap;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;

import static dev.higgstrt.layout.SourceTensor.*;

/**
 * The declarative spec of every weight of a converted Higgs Audio v2 TensorRT-LLM checkpoint:
 * target name, sources, fusion, tensor-parallel split, pipeline placement and per-rank shape.
 * The converter, its checks, the merge back into the source and {@code docs/layout.md} all come
 * from {@link #TARGETS}.
 *
 * <p>Rules that always hold: q/k/v are fused per rank as {@code [q_r; k_r; v_r]}; the text MLP's
 * gate and up are split first and fused per rank as {@code [gate_r; up_r]} (gate first, the
 * reverse of TensorRT-LLM's own GatedMLP order); the audio MLP stays three separate weights; the
 * audio head becomes {@code lm_head} once, on the last pipeline rank; the text head, when the
 * source has one or ties it to the embedding, becomes {@code text_lm_head} there too.
 */
public final class HiggsAudioLayout {

    /** Where a target lives. */
    public enum Placement {
        /** On every rank of the first pipeline stage. */
        FIRST_PP,
        /** On every rank of the last pipeline stage. */
        LAST_PP,
        /** Once per layer of the rank's pipeline stage. */
        EVERY_LAYER,
        /** Once per layer with the audio path. */
        DUAL_FFN_LAYER
    }

    /** How the sources combine. */
    public enum Fusion {
        /** One source. */
        NONE,
        /** q, k, v split per rank, then concatenated: {@code [q_r; k_r; v_r]}. */
        QKV,
        /** gate and up split per rank, then concatenated: {@code [gate_r; up_r]}. */
        GATE_UP
    }

    /**
     * One target weight.
     *
     * @param template  name, with {@code {i}} for the layer's index within its pipeline stage
     * @param placement where it lives
     * @param fusion    how its sources combine
     * @param sources   its source tensors, in fusion order
     * @param splitDim  tensor-parallel split dimension, or -1 when replicated
     * @param padRows   whether rows are zero-padded to a multiple of tp before splitting
     * @param optional  whether it exists only when the source has (or ties) a text head
     */
    public record Target(String template, Placement placement, Fusion fusion, List<SourceTensor> sources,
                         int splitDim, boolean padRows, boolean optional) {
        /**
         * The name for local layer {@code i}.
         *
         * @param localLayer the local layer
         * @return the name for local layer {@code i}
         */
        public String name(int localLayer) {
            return template.replace("{i}", Integer.toString(localLayer));
        }

        /**
         * Whether it is one per layer.
         *
         * @return whether it is one per layer
         */
        public boolean perLayer() {
            return placement == Placement.EVERY_LAYER || placement == Placement.DUAL_FFN_LAYER;
        }

        /**
         * Its shape on a rank of a layout of {@code tp} tensor-parallel ranks.
         *
         * @param c  the model config
         * @param tp the tensor-parallel size
         * @return its shape on a rank of a layout of {@code tp} tensor-parallel ranks
         */
        public Shape rankShape(HiggsAudioConfig c, int tp) {
            long h = c.hiddenSize();
            return switch (fusion) {
                case QKV -> Shape.of(((long) c.numHeads() / tp + 2L * kvHeadsPerRank(c, tp)) * c.headDim(), h);
                case GATE_UP -> Shape.of(2L * c.intermediateSize() / tp, h);
                case NONE -> {
                    Shape full = sources.getFirst().shape(c);
                    if (splitDim < 0) {
                        yield full;
                    }
                    long n = full.dim(splitDim);
                    yield full.withDim(splitDim, padRows ? (n + tp - 1) / tp : n / tp);
                }
            };
        }
    }

    /** Every target, in a stable order. */
    public static final List<Target> TARGETS = List.of(
            new Target("transformer.vocab_embedding.weight", Placement.FIRST_PP, Fusion.NONE, List.of(EMBED_TOKENS), -1, false, false),
            new Target("audio_codebook_embeddings.weight", Placement.FIRST_PP, Fusion.NONE, List.of(AUDIO_EMBED), -1, false, false),
            new Target("transformer.layers.{i}.input_layernorm.weight", Placement.EVERY_LAYER, Fusion.NONE, List.of(INPUT_LN), -1, false, false),
            new Target("transformer.layers.{i}.attention.qkv.weight", Placement.EVERY_LAYER, Fusion.QKV, List.of(Q, K, V), 0, false, false),
            new Target("transformer.layers.{i}.attention.dense.weight", Placement.EVERY_LAYER, Fusion.NONE, List.of(O), 1, false, false),
            new Target("transformer.layers.{i}.post_layernorm.weight", Placement.EVERY_LAYER, Fusion.NONE, List.of(POST_LN), -1, false, false),
            new Target("transformer.layers.{i}.mlp.gate_up_proj.weight", Placement.EVERY_LAYER, Fusion.GATE_UP, List.of(GATE, UP), 0, false, false),
            new Target("transformer.layers.{i}.mlp.down_proj.weight", Placement.EVERY_LAYER, Fusion.NONE, List.of(DOWN), 1, false, false),
            new Target("transformer.layers.{i}.audio_input_layernorm.weight", Placement.DUAL_FFN_LAYER, Fusion.NONE, List.of(AUDIO_INPUT_LN), -1, false, false),
            new Target("transformer.layers.{i}.audio_post_attention_layernorm.weight", Placement.DUAL_FFN_LAYER, Fusion.NONE, List.of(AUDIO_POST_LN), -1, false, false),
            new Target("transformer.layers.{i}.audio_mlp.gate_proj.weight", Placement.DUAL_FFN_LAYER, Fusion.NONE, List.of(AUDIO_GATE), 0, false, false),
            new Target("transformer.layers.{i}.audio_mlp.up_proj.weight", Placement.DUAL_FFN_LAYER, Fusion.NONE, List.of(AUDIO_UP), 0, false, false),
            new Target("transformer.layers.{i}.audio_mlp.down_proj.weight", Placement.DUAL_FFN_LAYER, Fusion.NONE, List.of(AUDIO_DOWN), 1, false, false),
            new Target("transformer.ln_f.weight", Placement.LAST_PP, Fusion.NONE, List.of(NORM), -1, false, false),
            new Target("lm_head.weight", Placement.LAST_PP, Fusion.NONE, List.of(AUDIO_HEAD), 0, true, false),
            new Target("text_lm_head.weight", Placement.LAST_PP, Fusion.NONE, List.of(TEXT_HEAD), 0, true, true));

    /** Source name prefixes of the Boson layout that are not part of the decoder. */
    public static final List<String> BOSON_SKIPPED_PREFIXES = List.of("audio_tower.", "audio_encoder_proj.");

    private HiggsAudioLayout() {
    }

    /** kv heads each rank holds: a split when kv >= tp, one replicated head otherwise. */
    static int kvHeadsPerRank(HiggsAudioConfig c, int tp) {
        return Math.max(1, c.numKvHeads() / tp);
    }

    /**
     * Checks that a tp x pp layout divides the model.
     *
     * @throws LayoutException naming what does not divide
     * @param c  the model config
     * @param tp the tensor-parallel size
     * @param pp the pipeline-parallel size
     */
    public static void checkParallelism(HiggsAudioConfig c, int tp, int pp) {
        if (tp <= 0 || pp <= 0) {
            throw new LayoutException("tp and pp must be positive, got tp " + tp + ", pp " + pp);
        }
        if (c.numHeads() % tp != 0) {
            throw new LayoutException("tp " + tp + " does not divide num_attention_heads " + c.numHeads());
        }
        if (c.numKvHeads() % tp != 0 && tp % c.numKvHeads() != 0) {
            throw new LayoutException("tp " + tp + " and num_key_value_heads " + c.numKvHeads()
                    + " must divide one another");
        }
        if (c.intermediateSize() % tp != 0) {
            throw new LayoutException("tp " + tp + " does not divide intermediate_size " + c.intermediateSize());
        }
        if (pp > c.numLayers()) {
            throw new LayoutException("pp " + pp + " exceeds num_hidden_layers " + c.numLayers());
        }
    }

    /**
     * The source after resolution: which tensors it holds (in transformers names), whether a text
     * head exists and whether it is the tied embedding, and what was skipped.
     *
     * @param config       the config
     * @param names        source name of each canonical (transformers) name used
     * @param textHead     whether {@code text_lm_head} is written
     * @param textHeadTied whether that head is the token embedding ({@code tie_word_embeddings})
     * @param skipped      source tensors that are not part of the decoder (audio tower, ...)
     */
    public record Resolution(HiggsAudioConfig config, SortedMap<String, String> names, boolean textHead,
                             boolean textHeadTied, List<String> skipped) {
    }

    /**
     * Matches the source's tensor names against the layout: every required tensor present,
     * nothing unexpected (Boson's audio tower and encoder projector are skipped and reported).
     *
     * @throws LayoutException for a missing or unexpected tensor
     * @param c           the model config
     * @param sourceNames the source names
     * @return how the source's tensors map to the layout
     */
    public static Resolution resolve(HiggsAudioConfig c, Set<String> sourceNames) {
        SourceLayout layout = c.layout();
        TreeMap<String, String> names = new TreeMap<>();
        TreeSet<String> unused = new TreeSet<>(sourceNames);
        List<String> skipped = new ArrayList<>();
        if (layout == SourceLayout.BOSON) {
            for (String n : sourceNames) {
                if (BOSON_SKIPPED_PREFIXES.stream().anyMatch(n::startsWith)) {
                    skipped.add(n);
                    unused.remove(n);
                }
            }
        }
        for (SourceTensor t : SourceTensor.values()) {
            if (t == TEXT_HEAD) {
                continue;
            }
            for (int layer : t.perLayer() ? layersOf(c, t) : new int[]{0}) {
                String src = t.name(layout, layer);
                if (!sourceNames.contains(src)) {
                    throw new LayoutException("missing tensor '" + src + "'" + (t.perLayer() ? " (layer " + layer + ")" : "")
                            + ", expected " + t.shape(c) + " for the " + layout.id() + " layout");
                }
                names.put(t.name(SourceLayout.TRANSFORMERS, layer), src);
                unused.remove(src);
            }
        }
        String textHead = TEXT_HEAD.name(layout, 0);
        boolean hasHead = sourceNames.contains(textHead);
        boolean tied = !hasHead && c.tieWordEmbeddings();
        if (hasHead) {
            names.put(TEXT_HEAD.name(SourceLayout.TRANSFORMERS, 0), textHead);
            unused.remove(textHead);
        } else if (tied) {
            names.put(TEXT_HEAD.name(SourceLayout.TRANSFORMERS, 0), EMBED_TOKENS.name(layout, 0));
        }
        if (!unused.isEmpty()) {
            String first = unused.first();
            String why = first.contains("audio_mlp") || first.contains("audio_input_layernorm")
                    || first.contains("audio_post_attention_layernorm")
                    ? " (an audio-path weight in a layer outside audio_dual_ffn_layers " + c.dualFfnLayers() + ")"
                    : first.contains("audio_attn") ? " (a separate audio self-attention is not supported)" : "";
            throw new LayoutException("unexpected tensor '" + first + "'" + why
                    + (unused.size() > 1 ? " and " + (unused.size() - 1) + " more" : ""));
        }
        return new Resolution(c, names, hasHead || tied, tied, List.copyOf(skipped));
    }

    private static int[] layersOf(HiggsAudioConfig c, SourceTensor t) {
        return t.audioPath() ? c.dualFfnLayers().stream().mapToInt(Integer::intValue).toArray()
                : java.util.stream.IntStream.range(0, c.numLayers()).toArray();
    }

    /**
     * The source as a map in transformers names (the canonical names), after checking every
     * tensor's shape against the config and its dtype (F32, F16 or BF16). A tied text head is
     * the embedding under the text head's name.
     *
     * @throws LayoutException naming the tensor whose shape or dtype is wrong
     * @param r      the r
     * @param source the source
     * @return the source as a map in transformers names (the canonical names), after checking every tensor's shape against the config and its dtype (F32, F16 or BF16)
     */
    public static WeightMap canonical(Resolution r, WeightMap source) {
        WeightMap.Builder b = WeightMap.builder();
        HiggsAudioConfig c = r.config();
        for (Map.Entry<String, String> e : r.names().entrySet()) {
            Weight w = source.get(e.getValue());
            Shape expected = sourceShape(c, e.getKey());
            if (!w.shape().equals(expected)) {
                throw new LayoutException("tensor '" + e.getValue() + "' has shape " + w.shape() + ", expected " + expected
                        + " (" + w.provenance().describe() + ")");
            }
            if (w.dtype() != DType.F32 && w.dtype() != DType.F16 && w.dtype() != DType.BF16) {
                throw new LayoutException("tensor '" + e.getValue() + "' is " + w.dtype() + ", expected F32, F16 or BF16");
            }
            Provenance p = r.textHeadTied() && e.getKey().equals(TEXT_HEAD.name(SourceLayout.TRANSFORMERS, 0))
                    ? Provenance.derived("tied to the token embedding", List.of(w.provenance())) : w.provenance();
            b.put(e.getKey(), w.tensor(), p);
        }
        return b.build();
    }

    /** The shape the config implies for a canonical (transformers) source name. */
    static Shape sourceShape(HiggsAudioConfig c, String canonicalName) {
        for (SourceTensor t : SourceTensor.values()) {
            String template = t.template(SourceLayout.TRANSFORMERS);
            if (!t.perLayer() ? template.equals(canonicalName)
                    : canonicalName.matches(template.replace(".", "\\.").replace("{L}", "\\d+"))) {
                return t.shape(c);
            }
        }
        throw new IllegalArgumentException("not a source tensor: " + canonicalName);
    }

    /**
     * The tensors of one rank, as lazy views of the canonical source, cast to {@code dtype}.
     *
     * @param r         the r
     * @param canonical the weights under canonical names
     * @param m         the rank mapping
     * @param dtype     the element type
     * @return the tensors of one rank, as lazy views of the canonical source, cast to {@code dtype}
     */
    public static WeightMap rank(Resolution r, WeightMap canonical, Mapping m, DType dtype) {
        HiggsAudioConfig c = r.config();
        WeightMap.Builder b = WeightMap.builder();
        forEachTarget(c, m, r.textHead(), (target, local, global) -> {
            List<Weight> inputs = target.sources().stream()
                    .map(s -> canonical.get(s.name(SourceLayout.TRANSFORMERS, global))).toList();
            TensorSource t = assemble(c, target, inputs.stream().map(Weight::tensor).toList(), m).cast(dtype);
            b.put(target.name(local), t, Provenance.derived(describe(target, m),
                    inputs.stream().map(Weight::provenance).toList()));
        });
        return b.build();
    }

    private static String describe(Target t, Mapping m) {
        String how = switch (t.fusion()) {
            case QKV -> "qkv of tp rank " + m.tpRank();
            case GATE_UP -> "gate_up of tp rank " + m.tpRank();
            case NONE -> t.splitDim() < 0 ? "replicated" : "part " + m.tpRank() + "/" + m.tpSize() + " of dim " + t.splitDim();
        };
        return t.template() + " " + how;
    }

    /**
     * What one rank holds, by name: dtype aside, the plan of a dry run.
     *
     * @param c        the model config
     * @param m        the rank mapping
     * @param textHead whether the model has a text head
     * @return what one rank holds, by name: dtype aside, the plan of a dry run
     */
    public static SortedMap<String, Shape> rankShapes(HiggsAudioConfig c, Mapping m, boolean textHead) {
        TreeMap<String, Shape> out = new TreeMap<>();
        forEachTarget(c, m, textHead, (target, local, global) -> out.put(target.name(local), target.rankShape(c, m.tpSize())));
        return out;
    }

    @FunctionalInterface
    private interface TargetVisitor {
        void visit(Target target, int localLayer, int globalLayer);
    }

    private static void forEachTarget(HiggsAudioConfig c, Mapping m, boolean textHead, TargetVisitor v) {
        checkParallelism(c, m.tpSize(), m.ppSize());
        int[] layers = m.layers(c.numLayers());
        for (Target t : TARGETS) {
            if (t.optional() && !textHead) {
                continue;
            }
            switch (t.placement()) {
                case FIRST_PP -> {
                    if (m.isFirstPpRank()) {
                        v.visit(t, 0, 0);
                    }
                }
                case LAST_PP -> {
                    if (m.isLastPpRank()) {
                        v.visit(t, 0, 0);
                    }
                }
                case EVERY_LAYER, DUAL_FFN_LAYER -> {
                    for (int i = 0; i < layers.length; i++) {
                        if (t.placement() == Placement.EVERY_LAYER || c.isDualFfn(layers[i])) {
                            v.visit(t, i, layers[i]);
                        }
                    }
                }
            }
        }
    }

    private static TensorSource assemble(HiggsAudioConfig c, Target t, List<TensorSource> in, Mapping m) {
        int tp = m.tpSize();
        int r = m.tpRank();
        return switch (t.fusion()) {
            case QKV -> TensorSource.concat(List.of(in.get(0).chunk(0, r, tp), kvPart(c, in.get(1), m), kvPart(c, in.get(2), m)), 0);
            case GATE_UP -> TensorSource.concat(List.of(in.get(0).chunk(0, r, tp), in.get(1).chunk(0, r, tp)), 0);
            case NONE -> {
                TensorSource s = in.getFirst();
                if (t.splitDim() < 0) {
                    yield s;
                }
                if (t.padRows()) {
                    long rows = s.shape().dim(0);
                    s = s.padRows((rows + tp - 1) / tp * tp - rows);
                }
                yield s.chunk(t.splitDim(), r, tp);
            }
        };
    }

    private static TensorSource kvPart(HiggsAudioConfig c, TensorSource kv, Mapping m) {
        int tp = m.tpSize();
        if (c.numKvHeads() >= tp) {
            return kv.chunk(0, m.tpRank(), tp);
        }
        long head = (long) m.tpRank() * c.numKvHeads() / tp;
        return kv.slice(0, head * c.headDim(), (head + 1) * c.headDim());
    }

    /**
     * Merges the per-rank maps of a converted checkpoint back into the canonical source (the
     * inverse of {@link #rank}): split weights concatenated over their tp ranks with padding
     * rows dropped, fused ones taken apart, replicated ones from tp rank 0.
     *
     * @param ranks the maps of ranks 0 .. tp*pp-1, in rank order
     * @param c  the model config
     * @param tp the tensor-parallel size
     * @param pp the pipeline-parallel size
     * @return the canonical weights of the whole model
     */
    public static WeightMap merge(HiggsAudioConfig c, List<WeightMap> ranks, int tp, int pp) {
        if (ranks.size() != tp * pp) {
            throw new LayoutException("expected " + tp * pp + " ranks, got " + ranks.size());
        }
        checkParallelism(c, tp, pp);
        boolean textHead = ranks.getLast().contains("text_lm_head.weight");
        WeightMap.Builder out = WeightMap.builder();
        for (int p = 0; p < pp; p++) {
            Mapping stage = new Mapping(tp, pp, p * tp);
            int stageRank = p * tp;
            forEachTarget(c, stage, textHead, (target, local, global) -> {
                List<Weight> parts = new ArrayList<>();
                for (int r = 0; r < tp; r++) {
                    parts.add(ranks.get(stageRank + r).get(target.name(local)));
                }
                List<String> names = target.sources().stream().map(s -> s.name(SourceLayout.TRANSFORMERS, global)).toList();
                unassemble(c, target, parts, tp, names).forEach(out::put);
            });
        }
        return out.build();
    }

    /**
     * One rank's map under canonical names (global layer indices), with the rank's own shapes:
     * {@code qkv} taken apart into the q, k and v rows of the rank's heads, {@code gate_up} into
     * its gate and up rows, everything else renamed as it is (a split weight keeps the rank's part,
     * the LM head its padding rows).
     *
     * @throws LayoutException when a tensor of the rank is missing or has another shape than the layout's
     * @param c    the model config
     * @param rank the rank
     * @param m    the rank mapping
     * @return one rank's map under canonical names (global layer indices), with the rank's own shapes: {@code qkv} taken apart into the q, k and v rows of the rank's heads, {@code gate_up} into its gate and up rows, everything else renamed as it is (a split weight keeps the rank's part, the LM head its padding rows)
     */
    public static WeightMap unfuse(HiggsAudioConfig c, WeightMap rank, Mapping m) {
        boolean textHead = rank.contains("text_lm_head.weight");
        long q = (long) c.numHeads() / m.tpSize() * c.headDim();
        long kv = (long) kvHeadsPerRank(c, m.tpSize()) * c.headDim();
        long inter = c.intermediateSize() / m.tpSize();
        WeightMap.Builder out = WeightMap.builder();
        forEachTarget(c, m, textHead, (target, local, global) -> {
            String stored = target.name(local);
            if (!rank.contains(stored)) {
                throw new LayoutException("rank " + m.rank() + " has no " + stored);
            }
            Weight w = rank.get(stored);
            Shape expected = target.rankShape(c, m.tpSize());
            if (w.tensor().shape().rank() != expected.rank() || w.tensor().shape().dim(0) != expected.dim(0)) {
                throw new LayoutException(w.provenance() + ": " + stored + " has shape " + w.tensor().shape()
                        + ", expected " + expected + " for tp " + m.tpSize());
            }
            List<String> names = target.sources().stream().map(s -> s.name(SourceLayout.TRANSFORMERS, global)).toList();
            TensorSource t = w.tensor();
            switch (target.fusion()) {
                case QKV -> {
                    out.put(names.get(0), t.slice(0, 0, q), w.provenance());
                    out.put(names.get(1), t.slice(0, q, q + kv), w.provenance());
                    out.put(names.get(2), t.slice(0, q + kv, q + 2 * kv), w.provenance());
                }
                case GATE_UP -> {
                    out.put(names.get(0), t.slice(0, 0, inter), w.provenance());
                    out.put(names.get(1), t.slice(0, inter, 2 * inter), w.provenance());
                }
                case NONE -> out.put(names.getFirst(), t, w.provenance());
            }
        });
        return out.build();
    }

    private static List<Weight> unassemble(HiggsAudioConfig c, Target t, List<Weight> parts, int tp, List<String> names) {
        List<Provenance> provenance = parts.stream().map(Weight::provenance).toList();
        switch (t.fusion()) {
            case QKV -> {
                long q = (long) c.numHeads() / tp * c.headDim();
                long kv = (long) kvHeadsPerRank(c, tp) * c.headDim();
                List<TensorSource> qs = new ArrayList<>();
                List<TensorSource> ks = new ArrayList<>();
                List<TensorSource> vs = new ArrayList<>();
                for (int r = 0; r < tp; r++) {
                    TensorSource s = parts.get(r).tensor();
                    qs.add(s.slice(0, 0, q));
                    boolean firstOfHead = c.numKvHeads() >= tp || (long) r * c.numKvHeads() % tp == 0;
                    if (firstOfHead) {
                        ks.add(s.slice(0, q, q + kv));
                        vs.add(s.slice(0, q + kv, q + 2 * kv));
                    }
                }
                return List.of(merged(names.get(0), qs, provenance), merged(names.get(1), ks, provenance),
                        merged(names.get(2), vs, provenance));
            }
            case GATE_UP -> {
                long i = (long) c.intermediateSize() / tp;
                return List.of(
                        merged(names.get(0), parts.stream().map(p -> p.tensor().slice(0, 0, i)).toList(), provenance),
                        merged(names.get(1), parts.stream().map(p -> p.tensor().slice(0, i, 2 * i)).toList(), provenance));
            }
            default -> {
                if (t.splitDim() < 0) {
                    return List.of(new Weight(names.getFirst(), parts.getFirst().tensor(), parts.getFirst().provenance()));
                }
                TensorSource whole = TensorSource.concat(parts.stream().map(Weight::tensor).toList(), t.splitDim());
                long rows = t.sources().getFirst().shape(c).dim(0);
                if (t.padRows() && whole.shape().dim(0) != rows) {
                    whole = whole.slice(0, 0, rows);
                }
                return List.of(new Weight(names.getFirst(), whole, Provenance.derived("merge", provenance)));
            }
        }
    }

    private static Weight merged(String name, List<TensorSource> parts, List<Provenance> provenance) {
        return new Weight(name, TensorSource.concat(parts, 0), Provenance.derived("merge", provenance));
    }

    /**
     * The canonical map renamed into {@code layout}'s names (for writing a source checkpoint).
     *
     * @param canonical the weights under canonical names
     * @param layout    the layout
     * @return the canonical map renamed into {@code layout}'s names (for writing a source checkpoint)
     */
    public static WeightMap renameTo(WeightMap canonical, SourceLayout layout) {
        Map<String, String> rename = new TreeMap<>();
        for (SourceTensor t : SourceTensor.values()) {
            String template = t.template(SourceLayout.TRANSFORMERS);
            for (String n : canonical.names()) {
                if (t.perLayer()) {
                    String prefix = "model.layers.";
                    String suffix = template.substring(template.indexOf("{L}") + 3);
                    if (n.startsWith(prefix) && n.endsWith(suffix)) {
                        String layer = n.substring(prefix.length(), n.length() - suffix.length());
                        if (layer.chars().allMatch(Character::isDigit)) {
                            rename.put(n, t.name(layout, Integer.parseInt(layer)));
                        }
                    }
                } else if (n.equals(template)) {
                    rename.put(n, t.name(layout, 0));
                }
            }
        }
        return canonical.rename(n -> rename.getOrDefault(n, n));
    }
}
