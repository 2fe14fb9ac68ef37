package dev.higgstrt.layout;

import dev.higgstrt.model.SourceLayout;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Collectors;

/** Generates {@code docs/layout.md} from {@link HiggsAudioLayout#TARGETS}. */
public final class LayoutDoc {
    private LayoutDoc() {
    }

    /**
     * The markdown text of docs/layout.md.
     *
     * @return the markdown text of docs/layout.md
     */
    public static String markdown() {
        StringBuilder b = new StringBuilder();
        b.append("""
                # The converted checkpoint layout

                Generated from `HiggsAudioLayout.TARGETS` by `LayoutDoc` (a test fails when this file and the
                spec differ; regenerate with `java -cp core/target/classes dev.higgstrt.layout.LayoutDoc docs/layout.md`).

                A converted checkpoint is a folder with TensorRT-LLM's `config.json` and one
                `rank{r}.safetensors` per rank, `r = ppRank * tp + tpRank`. Pipeline rank `p` holds the layers
                of `torch.tensor_split(arange(L), pp)[p]` (the first `L % pp` ranks get one more); `{i}` is a
                layer's index within its pipeline stage. Shapes are per rank, for tp ranks; `H` hidden size,
                `I` intermediate size, `V` vocabulary, `A = num_codebooks * codebook_size`, `nH`/`nKV` heads,
                `d` head size, `kvR = max(1, nKV / tp)`. Every weight is written in the target dtype
                (`--dtype`, or the checkpoint's own with `auto`).

                What reads it: this library's engine builder (`HiggsEngine.build`, and `ParallelEngine` for
                tp x pp > 1), its CPU reference (`ReferenceModel.load`, which merges the ranks back) and the
                quantization tools. `config.json` names the architecture `HiggsAudioForCausalLM` with TensorRT-LLM's
                `PretrainedConfig` fields (`mapping`, `quantization`, `rotary_scaling`) plus the dual-FFN ones
                (`audio_dual_ffn_layers`, `num_codebooks`, `codebook_size`, `has_text_lm_head`). Stock TensorRT-LLM
                has no model class of that name (its Llama has no audio path), so `trtllm-build` does not load it
                as it is: a TensorRT-LLM model definition with the dual-FFN layer must read it. The text MLP's
                `gate_up_proj` holds gate first, then up, per rank (`[gate_r; up_r]`, the order the Higgs Audio
                TensorRT-LLM conversion fixed), and `config.json` records it as `mlp_gate_up_order: gate_up`, so a
                reader can check the order instead of assuming it.

                | target | placement | sources (transformers / Boson, `{L}` global layer) | fusion | tp split | shape per rank |
                |---|---|---|---|---|---|
                """);
        for (HiggsAudioLayout.Target t : HiggsAudioLayout.TARGETS) {
            String sources = t.sources().stream().map(s -> "`" + s.template(SourceLayout.TRANSFORMERS) + "` / `"
                    + s.template(SourceLayout.BOSON) + "`").collect(Collectors.joining("<br>"));
            String placement = switch (t.placement()) {
                case FIRST_PP -> "first PP stage, every tp rank";
                case LAST_PP -> "last PP stage, every tp rank" + (t.optional() ? "; only with a text head (own or tied)" : "");
                case EVERY_LAYER -> "every layer";
                case DUAL_FFN_LAYER -> "layers in `audio_dual_ffn_layers`";
            };
            String fusion = switch (t.fusion()) {
                case NONE -> "-";
                case QKV -> "`[q_r; k_r; v_r]`: each split first, then concatenated per rank";
                case GATE_UP -> "`[gate_r; up_r]`: split first, then concatenated per rank (gate first)";
            };
            String split = t.splitDim() < 0 ? "replicated"
                    : "dim " + t.splitDim() + (t.padRows() ? ", rows zero-padded to a multiple of tp" : "");
            b.append("| `").append(t.template()).append("` | ").append(placement).append(" | ").append(sources)
                    .append(" | ").append(fusion).append(" | ").append(split).append(" | ").append(shape(t)).append(" |\n");
        }
        b.append("""

                ## Rules, and why

                - **q/k/v** are fused per rank: rank `r` holds `[q_r; k_r; v_r]` where each of q, k and v is split
                  along dim 0 first. When `nKV < tp`, rank `r` holds kv head `r * nKV / tp` whole (replicated).
                - **Text MLP**: gate and up are split along dim 0 first and fused per rank as `[gate_r; up_r]`,
                  never split after fusing (that would hand a rank half of gate and half of up of different
                  channels). **Gate comes first**, as the Higgs Audio model here expects; this is the reverse of
                  TensorRT-LLM's own fused GatedMLP (`fc` + `gate`), whose checkpoints put up first. The order is
                  recorded in `config.json` as `"mlp_gate_up_order": "gate_up"`.
                - **Audio MLP** stays three separate weights (`audio_mlp.gate_proj`, `up_proj`, `down_proj`): the
                  dual-FFN plugin takes them apart.
                - **Heads**: the audio LM head becomes `lm_head` exactly once per rank of the last pipeline stage;
                  the text head, when the source has one, becomes `text_lm_head` beside it. With
                  `tie_word_embeddings` and no text head in the source, the text head is the token embedding
                  (the converter says so). Rows are zero-padded to a multiple of tp before the split.
                - **Embeddings** (`vocab_embedding`, `audio_codebook_embeddings`) are replicated over tp on the
                  first pipeline stage.
                - **Count**: the full model (28 layers, every layer dual-FFN) converts at tp 1 x pp 1 to 313
                  weights with a text head, 312 without: 2 embeddings + 28 x 11 + `ln_f` + `lm_head` (+ `text_lm_head`).
                - Boson checkpoints: the audio tower (`audio_tower.*`) and encoder projector
                  (`audio_encoder_proj.*`) are skipped and reported; variants with a separate audio self-attention,
                  an audio embedding projector, decoder projection layers or an adapter other than `dual_ffn`
                  are refused.
                """);
        return b.toString();
    }

    private static String shape(HiggsAudioLayout.Target t) {
        return switch (t.template()) {
            case "transformer.vocab_embedding.weight" -> "`[V, H]`";
            case "audio_codebook_embeddings.weight" -> "`[A, H]`";
            case "lm_head.weight" -> "`[ceil(A/tp), H]`";
            case "text_lm_head.weight" -> "`[ceil(V/tp), H]`";
            default -> switch (t.sources().getFirst()) {
                case Q -> "`[(nH/tp + 2 kvR) d, H]`";
                case O -> "`[H, nH d / tp]`";
                case GATE -> "`[2 I/tp, H]`";
                case DOWN, AUDIO_DOWN -> "`[H, I/tp]`";
                case AUDIO_GATE, AUDIO_UP -> "`[I/tp, H]`";
                default -> "`[H]`";
            };
        };
    }

    /**
     * Writes the markdown to {@code args[0]}.
     *
     * @param args the args
     * @throws IOException when a file cannot be read or written
     */
    public static void main(String[] args) throws IOException {
        Files.writeString(Path.of(args[0]), markdown());
    }
}
