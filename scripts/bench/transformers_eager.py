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


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
