#!/usr/bin/env python3
"""Checks the paged-attention plugin's kernels outside TensorRT, against PyTorch, on a GPU.

Compiles native/src/main/cuda/paged_attention_plugin.cu with nvcc into a shared library, calls its
C entry point higgs_paged_attention_run through ctypes on tensors made by PyTorch, and compares
with a float64 reference: RoPE (rotate-half) at each token's position, GQA, causal attention over
the sequence's positions so far. Each case runs four calls, as a runtime would: the prompts'
prefill, a mixed call (one sequence decoding one token, one continuing its prefill by a chunk, one
new sequence), one sequence decoding, then every sequence decoding one token in one call, with the
blocks of each sequence scattered over the cache; the calls alternate between q and kv apart and
both in one qkv row (fused_qkv). Every case runs five ways: CUDA-core kernels with
decode calls in three kernels; the same with decode calls in one (higgs_paged_attention_set_fused_decode),
attendKernel's decode mode, then decodeKernel (higgs_paged_attention_set_decode_kernel; lanes over the
head dimension) with clusters of up to 8 splits, of up to 5 (higgs_paged_attention_set_decode_cluster), and
of up to 8 in blocks of 128 threads only (higgs_paged_attention_set_decode_wide); and decodeKernel with
the tensor-core prefill kernel as well (higgs_paged_attention_set_tiled;
it takes 16-bit types and head sizes 64 and 128, and leaves the other cases to the CUDA-core kernel).
Then times decode calls against the bytes of K/V they must read, with L2 warm (the calls back to back)
and cold (a 256 MB memset before each, its own time subtracted: in an engine's step the layer's
weights pass through L2 between two attention calls), and a 512-position prefill.

  python3 paged_attention_check.py [--timing]      (prints one line per case, exits 1 on a failure)
  python3 paged_attention_check.py --prefill       (the prefill timings alone, for a profiler)
  python3 paged_attention_check.py --decode        (batch-1 decode at context 512 alone, likewise)
"""
import ctypes, math, os, subprocess, sys, tempfile, time
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "..", "main", "cuda")
TYPES = {torch.float32: 0, torch.float16: 1, torch.bfloat16: 7}
BOUND = {torch.float32: 2e-5, torch.float16: 4e-3, torch.bfloat16: 3e-2}


def build():
    out = os.environ.get("HIGGS_TRT_PA_LIB")   # a library built beforehand with the same command
    if not out:
        out = os.path.join(tempfile.mkdtemp(), "libpa.so")
        subprocess.check_call(["nvcc", "-O3", "-std=c++17", "-shared", "-Xcompiler", "-fPIC", "-gencode",
                               "arch=compute_90,code=sm_90", "-o", out, os.path.join(SRC, "paged_attention_plugin.cu")])
    lib = ctypes.CDLL(out)
    lib.higgs_paged_attention_run.restype = ctypes.c_int
    lib.higgs_paged_attention_run.argtypes = [ctypes.c_int] + [ctypes.c_void_p] * 8 + [ctypes.c_longlong] + \
        [ctypes.c_longlong] + [ctypes.c_int] * 8 + [ctypes.c_void_p] * 2
    lib.higgs_paged_attention_workspace.restype = ctypes.c_size_t
    lib.higgs_paged_attention_workspace.argtypes = [ctypes.c_longlong, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.higgs_paged_attention_last_error.argtypes = [ctypes.c_char_p, ctypes.c_int]
    lib.higgs_paged_attention_set_tiled.argtypes = [ctypes.c_int]
    lib.higgs_paged_attention_set_fused_decode.argtypes = [ctypes.c_int]
    lib.higgs_paged_attention_set_decode_kernel.argtypes = [ctypes.c_int]
    if hasattr(lib, "higgs_paged_attention_set_decode_cluster"):   # absent from libraries built before it
        lib.higgs_paged_attention_set_decode_cluster.argtypes = [ctypes.c_int]
    if hasattr(lib, "higgs_paged_attention_set_decode_wide"):
        lib.higgs_paged_attention_set_decode_wide.argtypes = [ctypes.c_int]
    return lib


def set_wide(lib, on):
    if hasattr(lib, "higgs_paged_attention_set_decode_wide"):
        lib.higgs_paged_attention_set_decode_wide(on)


def set_cluster(lib, splits):
    if hasattr(lib, "higgs_paged_attention_set_decode_cluster"):
        lib.higgs_paged_attention_set_decode_cluster(splits)


def inv_freq(d, theta=500000.0):
    return (1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d)).float()


def rope(x, pos, freq):   # x [n, heads, d] float64, pos [n]
    half = x.shape[-1] // 2
    ang = pos.double()[:, None] * freq.double()[None, :]
    c, s = ang.cos()[:, None, :], ang.sin()[:, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1)


class Case:
    def __init__(self, lib, dtype, heads, kv_heads, d, block, lengths, chunk_after, gen, fused_first):
        self.lib, self.dtype, self.h, self.kvh, self.d, self.b = lib, dtype, heads, kv_heads, d, block
        self.gen = gen
        self.fused_next = fused_first   # calls alternate: q and kv apart, then in one qkv row (fused_qkv)
        max_len = max(lengths) + chunk_after + 8
        self.m = (max_len + block - 1) // block
        self.n = self.m * (len(lengths) + 2) + 3
        self.cache = torch.zeros(self.n, 2, kv_heads, block, d, dtype=dtype, device="cuda")
        perm = torch.randperm(self.n, generator=gen)
        self.tables = perm[: (len(lengths) + 1) * self.m].view(len(lengths) + 1, self.m).int().cuda()
        self.freq = inv_freq(d)
        self.q_all = {}
        self.kv_all = {}

    def call(self, entries):   # entries: (slot, first position, count)
        pos, slots = [], []
        for slot, p0, n in entries:
            pos += list(range(p0, p0 + n))
            slots += [slot] * n
        t = len(pos)
        q = (torch.randn(t, self.h * self.d, generator=self.gen) * 0.5).to(self.dtype).cuda()
        kv = (torch.randn(t, 2 * self.kvh * self.d, generator=self.gen) * 0.5).to(self.dtype).cuda()
        out = torch.empty(t, self.h * self.d, dtype=self.dtype, device="cuda")
        ws = torch.empty(self.lib.higgs_paged_attention_workspace(t, self.h, self.kvh, self.d) // 4 + 64,
                         dtype=torch.float32, device="cuda")
        positions = torch.tensor(pos, dtype=torch.int32, device="cuda")
        slot_t = torch.tensor(slots, dtype=torch.int32, device="cuda")
        f = self.freq.cuda()
        # each entry is one sequence's run at consecutive positions: the promise of the consecutive field
        # holds where no sequence has two entries
        consecutive = int(len({s for s, _, _ in entries}) == len(entries))
        fused = self.fused_next
        self.fused_next = not fused
        qkv = torch.cat([q, kv], dim=1).contiguous() if fused else None
        rc = self.lib.higgs_paged_attention_run(TYPES[self.dtype], (qkv if fused else q).data_ptr(),
                                                None if fused else kv.data_ptr(), positions.data_ptr(),
                                                slot_t.data_ptr(), self.tables.data_ptr(), f.data_ptr(),
                                                self.cache.data_ptr(), out.data_ptr(), t, len(set(slots)), self.h,
                                                self.kvh, self.d,
                                                self.b, self.m, self.n, consecutive, int(fused), ws.data_ptr(), None)
        torch.cuda.synchronize()
        if rc != 0:
            msg = ctypes.create_string_buffer(1024)
            self.lib.higgs_paged_attention_last_error(msg, 1024)
            raise RuntimeError(msg.value.decode())
        worst = 0.0
        for i in range(t):
            s, p = slots[i], pos[i]
            self.q_all.setdefault(s, {})[p] = q[i].double().cpu()
            self.kv_all.setdefault(s, {})[p] = kv[i].double().cpu()
        keys, values = {}, {}   # each sequence's K (rotated) and V up to its last position in this call
        for s in set(slots):
            n = max(p for p, si in zip(pos, slots) if si == s) + 1
            rows = torch.stack([self.kv_all[s][j] for j in range(n)])
            # K is cached in the compute type after RoPE, as the plugin (and the reference model) stores it
            keys[s] = rope(rows[:, : self.kvh * self.d].reshape(n, self.kvh, self.d), torch.arange(n),
                           self.freq).to(self.dtype).double()
            values[s] = rows[:, self.kvh * self.d:].reshape(n, self.kvh, self.d)
        for i in range(t):
            s, p = slots[i], pos[i]
            ks, vs = keys[s][: p + 1], values[s][: p + 1]
            qi = rope(q[i].double().cpu().view(1, self.h, self.d), torch.tensor([p]), self.freq)[0]
            g = self.h // self.kvh
            ref = []
            for hh in range(self.h):
                sc = ks[:, hh // g, :] @ qi[hh] / math.sqrt(self.d)
                ref.append(torch.softmax(sc, 0) @ vs[:, hh // g, :])
            ref = torch.cat(ref)
            got = out[i].double().cpu()
            worst = max(worst, ((got - ref).abs().max() / ref.abs().max().clamp_min(1e-6)).item())
        return worst


DECODE_MODES = {(0, 0): "split", (1, 0): "fused", (1, 1): "rows "}


def check(lib, tiled, fused, rows, cluster=8, wide=1):
    set_cluster(lib, cluster)
    set_wide(lib, wide)
    lib.higgs_paged_attention_set_tiled(tiled)
    lib.higgs_paged_attention_set_fused_decode(fused)
    lib.higgs_paged_attention_set_decode_kernel(rows)
    gen = torch.Generator().manual_seed(3)
    failures = 0
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        for index, (heads, kvh, d, block, lengths) in enumerate(((24, 8, 128, 16, (37, 5, 64)), (4, 2, 16, 4, (9, 1, 13)),
                                              (6, 6, 64, 32, (40, 33)), (8, 1, 256, 8, (17,)),
                                              (4, 2, 16, 4, (70, 3, 41)), (40, 8, 128, 32, (66, 1)),
                                              (8, 2, 64, 16, (520, 3, 300)), (24, 8, 128, 16, (200,)),
                                              (8, 2, 64, 16, (45,)))):
            c = Case(lib, dtype, heads, kvh, d, block, lengths, 6, gen, index % 2 == 1)
            w1 = c.call([(s, 0, n) for s, n in enumerate(lengths)])
            mixed = [(0, lengths[0], 1)]
            if len(lengths) > 1:
                mixed.append((1, lengths[1], 6))
            mixed.append((len(lengths), 0, 7))
            w2 = c.call(mixed)
            w3 = c.call([(0, lengths[0] + 1, 1)])
            # every sequence decoding one token in one call (a decode call: as many tokens as sequences)
            past = list(lengths)
            past[0] += 2   # the decode steps of w2 and w3
            if len(lengths) > 1:
                past[1] += 6
            w4 = c.call([(s, p, 1) for s, p in enumerate(past)] + [(len(lengths), 7, 1)])
            worst = max(w1, w2, w3, w4)
            ok = worst <= BOUND[dtype]
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {'tiled ' if tiled else 'tokens'} {DECODE_MODES[(fused, rows)]} "
                  f"{'cluster ' + str(cluster) + (' wide ' if wide else ' ') if rows else ''}{str(dtype):15} heads {heads}/{kvh} d {d} block {block} lengths {lengths}: "
                  f"worst {worst:.2e} of the peak (bound {BOUND[dtype]:.0e})")
    return failures


def per_call_us(lib, dtype, q, kv, pos, slots, tables, cache, out, heads, kv_heads, d, block, reps, sequences, cold=False,
                consecutive=1):
    """Microseconds of GPU time a call of the plugin's kernels takes on these tensors: reps calls captured in one CUDA
    graph (as the engine's decode steps are replayed), the graph replayed after a warm-up, timed by CUDA events. Cold:
    each call after a memset of 256 MB, the memsets' own graph timed alike and subtracted."""
    tokens, m, n = q.shape[0], tables.shape[1], cache.shape[0]
    ws = torch.empty(lib.higgs_paged_attention_workspace(tokens, heads, kv_heads, d) // 4 + 64, dtype=torch.float32,
                     device="cuda")
    f = inv_freq(d).cuda()
    args = (TYPES[dtype], q.data_ptr(), kv.data_ptr(), pos.data_ptr(), slots.data_ptr(), tables.data_ptr(), f.data_ptr(),
            cache.data_ptr(), out.data_ptr(), tokens, sequences, heads, kv_heads, d, block, m, n, consecutive, 0,
            ws.data_ptr())
    stream = torch.cuda.Stream()
    flush = torch.empty(64 << 20, dtype=torch.float32, device="cuda") if cold else None

    def graph_us(with_call):
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, stream=stream, capture_error_mode="relaxed"):
            for _ in range(reps):
                if cold:
                    flush.zero_()
                if with_call:
                    lib.higgs_paged_attention_run(*args, stream.cuda_stream)
        graph.replay()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record(stream)
        graph.replay()
        end.record(stream)
        end.synchronize()
        return start.elapsed_time(end) / reps * 1e3

    with torch.cuda.stream(stream):
        for _ in range(3):
            lib.higgs_paged_attention_run(*args, stream.cuda_stream)
        stream.synchronize()
        us = graph_us(True)
        if cold:
            us -= graph_us(False)
    return us


def timing(lib, prefill_only=False, decode_only=False):
    dtype = torch.bfloat16
    h, kvh, d, block, layers = 24, 8, 128, 32, 28
    shapes = () if prefill_only else ((1, 512),) if decode_only else ((1, 512), (1, 533), (1, 1024), (1, 2048),
                                                                      (8, 1536), (64, 1536), (256, 1536))
    for batch, ctx in shapes:
        m = (ctx + block) // block + 1
        n = batch * m
        cache = torch.randn(n, 2, kvh, block, d, dtype=dtype, device="cuda")
        tables = torch.arange(n, dtype=torch.int32, device="cuda").view(batch, m)
        q = torch.randn(batch, h * d, dtype=dtype, device="cuda")
        kv = torch.randn(batch, 2 * kvh * d, dtype=dtype, device="cuda")
        pos = torch.full((batch,), ctx - 1, dtype=torch.int32, device="cuda")
        slots = torch.arange(batch, dtype=torch.int32, device="cuda")
        out = torch.empty(batch, h * d, dtype=dtype, device="cuda")
        kv_bytes = batch * ctx * kvh * d * 2 * 2
        modes = ((1, 1, 8, 1),) if decode_only else ((0, 0, 8, 1), (1, 0, 8, 1), (1, 1, 8, 0), (1, 1, 8, 1))
        for fused, rows, cluster, wide in modes:
            lib.higgs_paged_attention_set_fused_decode(fused)
            lib.higgs_paged_attention_set_decode_kernel(rows)
            set_cluster(lib, cluster)
            set_wide(lib, wide)
            name = (f" (decodeKernel where it applies, clusters up to {cluster}, {'512 threads where one wave' if wide else '128 threads'})"
                    if rows else " (attendKernel alone)") if fused else " (three kernels)"
            for cold in (False, True):
                us = per_call_us(lib, dtype, q, kv, pos, slots, tables, cache, out, h, kvh, d, block, 50, batch, cold)
                print(f"decode attention{name}, batch {batch}, context {ctx}, L2 {'cold' if cold else 'warm'}: "
                      f"{us:.1f} us a layer ({us * layers / 1000:.2f} ms for {layers}), "
                      f"K/V read {kv_bytes / 1e6:.1f} MB: {kv_bytes / us / 1e3:.0f} GB/s")
    if decode_only:
        return
    # prefill of 512 positions: a block a token, in tiles, and torch's SDPA on the same shapes
    t = 512
    m = t // block + 1
    cache = torch.zeros(m, 2, kvh, block, d, dtype=dtype, device="cuda")
    tables = torch.arange(m, dtype=torch.int32, device="cuda").view(1, m)
    q = torch.randn(t, h * d, dtype=dtype, device="cuda")
    kv = torch.randn(t, 2 * kvh * d, dtype=dtype, device="cuda")
    pos = torch.arange(t, dtype=torch.int32, device="cuda")
    slots = torch.zeros(t, dtype=torch.int32, device="cuda")
    out = torch.empty(t, h * d, dtype=dtype, device="cuda")
    for tiled, consecutive in ((0, 1), (1, 0), (1, 1)):
        lib.higgs_paged_attention_set_tiled(tiled)
        us = per_call_us(lib, dtype, q, kv, pos, slots, tables, cache, out, h, kvh, d, block, 20, 1,
                         consecutive=consecutive)
        name = (' (tiled, consecutive)' if consecutive else ' (tiled, per-token grid too)') if tiled else ''
        print(f"prefill attention{name}, {t} positions: {us:.1f} us a layer ({us * layers / 1000:.2f} ms for {layers})")
    lib.higgs_paged_attention_set_tiled(0)
    qh = q.view(t, h, d).transpose(0, 1)
    kh = kv[:, : kvh * d].view(t, kvh, d).transpose(0, 1).repeat_interleave(h // kvh, 0)
    vh = kv[:, kvh * d:].view(t, kvh, d).transpose(0, 1).repeat_interleave(h // kvh, 0)
    for _ in range(3):
        torch.nn.functional.scaled_dot_product_attention(qh, kh, vh, is_causal=True)
    torch.cuda.synchronize()
    t1 = time.perf_counter()
    for _ in range(20):
        torch.nn.functional.scaled_dot_product_attention(qh, kh, vh, is_causal=True)
    torch.cuda.synchronize()
    print(f"torch SDPA on the same shapes: {(time.perf_counter() - t1) / 20 * 1e6:.1f} us")


if __name__ == "__main__":
    lib = build()
    if "--prefill" in sys.argv:   # the prefill timing alone (e.g. under ncu)
        timing(lib, prefill_only=True)
        sys.exit(0)
    if "--decode" in sys.argv:   # the batch-1 decode timing alone, context 512, the engine's kernel (e.g. under ncu)
        timing(lib, decode_only=True)
        sys.exit(0)
    failures = check(lib, 0, 0, 0) + check(lib, 0, 1, 0) + check(lib, 0, 1, 1) + check(lib, 0, 1, 1, 5) + check(lib, 0, 1, 1, 8, 0) \
        + check(lib, 1, 1, 1)
    lib.higgs_paged_attention_set_tiled(0)
    if "--timing" in sys.argv:
        timing(lib)
    sys.exit(1 if failures else 0)
