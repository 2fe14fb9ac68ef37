#!/usr/bin/env python3
"""Golden fixtures for higgs-trt's CPU reference, from the independent transformers implementation.

Run where torch and transformers (with HiggsAudioV2ForConditionalGeneration) are installed:

    python3 make_goldens.py OUT_DIR

For each case it builds a tiny random HiggsAudioV2ForConditionalGeneration (weights re-drawn so that
activations have unit scale), saves it with save_pretrained, and for each input writes
<input>.json (the token-file format of `higgs-trt reference`) and <input>.expected.safetensors
with `logits` (F32 [T, num_codebooks*codebook_size]) and, with a text head, `text_logits`.
Everything runs in float32 on the CPU with eager attention.
"""
import json
import math
import pathlib
import sys

import torch
from safetensors.torch import save_file
from transformers import HiggsAudioV2Config, HiggsAudioV2ForConditionalGeneration

LLAMA3 = dict(rope_type="llama3", rope_theta=10000.0, factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
              original_max_position_embeddings=16)

CASES = [
    # grouped-query attention, llama3 RoPE scaling that matters at these positions, text head
    dict(name="gqa_llama3_texthead", text_head=True, seed=11, cfg=dict(
        vocab_size=300, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, num_codebooks=4, codebook_size=18, audio_token_id=290,
        audio_delay_token_id=291, rope_parameters=LLAMA3)),
    # plain multi-head attention, default RoPE, no text head
    dict(name="mha_default_rope", text_head=False, seed=12, cfg=dict(
        vocab_size=256, hidden_size=32, intermediate_size=80, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=4, head_dim=8, num_codebooks=3, codebook_size=10, audio_token_id=250,
        audio_delay_token_id=251, rope_parameters=dict(rope_type="default", rope_theta=500000.0))),
    # multi-query attention (one kv head), three layers, two codebooks, text head
    dict(name="mqa_three_layers", text_head=True, seed=13, cfg=dict(
        vocab_size=200, hidden_size=64, intermediate_size=64, num_hidden_layers=3, num_attention_heads=8,
        num_key_value_heads=1, head_dim=8, num_codebooks=2, codebook_size=10, audio_token_id=190,
        audio_delay_token_id=191, rope_parameters=LLAMA3)),
    # heads wider than hidden / heads (4 x 16 = 64 over hidden 48), 8 codebooks
    dict(name="wide_heads", text_head=False, seed=14, cfg=dict(
        vocab_size=128, hidden_size=48, intermediate_size=72, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, num_codebooks=8, codebook_size=6, audio_token_id=120,
        audio_delay_token_id=121, rope_parameters=LLAMA3)),
]


def reinit(model, seed, matrix_scale=1.0):
    """Re-draws the weights: norms 1 +- 0.1, embeddings N(0, 1), matrices N(0, matrix_scale^2 / fan_in)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 1:
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            elif "embed" in name:
                p.copy_(torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * matrix_scale / math.sqrt(p.shape[1]))


def inputs_for(cfg, seed):
    g = torch.Generator().manual_seed(seed + 1000)
    a, d = cfg["audio_token_id"], cfg["audio_delay_token_id"]
    text = lambda: int(torch.randint(3, a - 1, (1,), generator=g))
    # text, then audio frames (placeholder and delay ids), text again, audio again
    pattern = "tttaaadtta" + "td" + "aa"
    ids = [text() if c == "t" else (a if c == "a" else d) for c in pattern]
    n_audio = sum(c != "t" for c in pattern)
    frames = torch.randint(0, cfg["codebook_size"], (n_audio, cfg["num_codebooks"]), generator=g)
    audio_only = torch.randint(0, cfg["codebook_size"], (7, cfg["num_codebooks"]), generator=g)
    return {"mixed": (ids, frames), "audio_only": (None, audio_only)}


def main(out):
    out.mkdir(parents=True, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    index = {}
    for case in CASES:
        v = case["cfg"]["vocab_size"]
        cfg = HiggsAudioV2Config(**case["cfg"], max_position_embeddings=256, rms_norm_eps=1e-5,
                                 pad_token_id=0, bos_token_id=1, eos_token_id=2, audio_bos_token_id=v - 3,
                                 audio_stream_bos_id=case["cfg"]["codebook_size"] - 2,
                                 audio_stream_eos_id=case["cfg"]["codebook_size"] - 1,
                                 attn_implementation="eager")
        torch.manual_seed(case["seed"])
        model = HiggsAudioV2ForConditionalGeneration(cfg, use_text_head=case["text_head"]).eval()
        reinit(model, case["seed"])
        d = out / case["name"]
        model.save_pretrained(d, safe_serialization=True)
        index[case["name"]] = []
        for input_name, (ids, frames) in inputs_for(case["cfg"], case["seed"]).items():
            kwargs = {"audio_input_ids": frames[None]}
            if ids is not None:
                kwargs["input_ids"] = torch.tensor([ids])
            with torch.no_grad():
                hidden = model.model(**kwargs, use_cache=False).last_hidden_state[0]
                logits = model.audio_lm_head(hidden)
                full = model(**kwargs, use_cache=False).logits[0]
                assert torch.equal(full, logits), "model() and model.model() + audio_lm_head disagree"
                tensors = {"logits": logits.contiguous().float()}
                if case["text_head"]:
                    tensors["text_logits"] = model.text_lm_head(hidden).contiguous().float()
            save_file(tensors, str(d / f"{input_name}.expected.safetensors"))
            tokens = {"audio_input_ids": frames.tolist()}
            if ids is not None:
                tokens["input_ids"] = ids
            (d / f"{input_name}.json").write_text(json.dumps(tokens) + "\n")
            index[case["name"]].append(input_name)
            print(f"{case['name']}/{input_name}: T={logits.shape[0]} logits {tuple(logits.shape)} "
                  f"max|logit|={logits.abs().max().item():.3f}")
    (out / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
    import transformers
    (out / "PROVENANCE.txt").write_text(
        f"generated by scripts/golden/make_goldens.py with torch {torch.__version__}, "
        f"transformers {transformers.__version__}, float32 on CPU, eager attention\n")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
