#!/usr/bin/env python3
"""Transformers' eager forward of a synthetic transformers-layout checkpoint on the GPU, for the
engine benchmark of docs/performance.md: prefill positions/s and decode ms/step at batch 1, bf16.

    python3 transformers_eager.py CHECKPOINT_DIR PREFILL DECODE_STEPS
"""
import sys

import torch
from transformers import HiggsAudioV2ForConditionalGeneration


def main(path, prefill, steps):
    model = HiggsAudioV2ForConditionalGeneration.from_pretrained(path, dtype=torch.bfloat16,
                                                                attn_implementation="eager").cuda().eval()
    cfg = model.config
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(3, cfg.vocab_size - 10, (1, prefill), generator=g)
    audio = torch.zeros(prefill, dtype=torch.bool)
    audio[prefill // 4: prefill - prefill // 4] = True
    ids[0, audio] = cfg.audio_token_id
    frames = torch.randint(0, cfg.codebook_size, (1, int(audio.sum()), cfg.num_codebooks), generator=g)
    ids, frames = ids.cuda(), frames.cuda()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    with torch.no_grad():
        for run in range(6):
            start.record()
            out = model(input_ids=ids, audio_input_ids=frames, use_cache=True)
            end.record()
            torch.cuda.synchronize()
            if run > 0:
                times.append(start.elapsed_time(end))
        times.sort()
        past = out.past_key_values
        step_times = []
        for i in range(steps):
            start.record()
            out = model(input_ids=torch.tensor([[5]], device="cuda"), past_key_values=past, use_cache=True)
            end.record()
            torch.cuda.synchronize()
            past = out.past_key_values
            step_times.append(start.elapsed_time(end))
        step_times.sort()
    print(f"transformers eager bf16: prefill {prefill} positions {times[2]:.1f} ms -> {prefill / times[2] * 1e3:.0f} positions/s; "
          f"decode {step_times[steps // 2]:.2f} ms/step (median of {steps})")
    # the tensor-core floor of a prefill: its matrix FLOPs over the BF16 GEMM rate of this GPU, measured now
    a = torch.randn(8192, 8192, dtype=torch.bfloat16, device="cuda")
    b = torch.randn(8192, 8192, dtype=torch.bfloat16, device="cuda")
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    start.record()
    for _ in range(20):
        a @ b
    end.record()
    torch.cuda.synchronize()
    rate = 20 * 2 * 8192 ** 3 / (start.elapsed_time(end) / 1e3)
    t = getattr(cfg, "text_config", cfg)
    h, i, layers = t.hidden_size, t.intermediate_size, t.num_hidden_layers
    heads, kv = t.num_attention_heads, t.num_key_value_heads
    d = getattr(t, "head_dim", None) or h // heads
    per_token = layers * (h * (heads + 2 * kv) * d + heads * d * h + 3 * h * i) + h * cfg.num_codebooks * cfg.codebook_size
    attention = layers * 2 * 2 * heads * d * prefill * (prefill + 1) / 2
    flops = 2 * per_token * prefill + attention
    print(f"BF16 GEMM rate of this GPU, measured now (8192^3 torch.matmul): {rate / 1e12:.0f} TFLOP/s; "
          f"a {prefill}-position prefill's {flops / 1e12:.2f} TFLOP take at least {flops / rate * 1e3:.2f} ms")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
