#!/usr/bin/env python3
"""Where the wall time of each profiled engine call goes, from a GPU timeline.

Usage: trace_gaps.py GPU_TRACE.csv [API_TRACE.csv]

GPU_TRACE.csv has the columns of `nsys stats --report cuda_gpu_trace --format csv` (Start, Duration,
CorrId, Name), API_TRACE.csv, optional, those of `--report cuda_api_trace`; the CUPTI recorder
native/src/test/cuda/cupti_trace.cpp writes both where Nsight Systems is not installed. Kernels and copies are split into calls where the GPU idles more than
200 us. For each call: its span on the GPU, the time in kernels, the idle time between them (and
the ten largest gaps with the kernels on either side), the kernel time by kind; and, with the API
trace, how long the host took to issue the call's launches, to tell a host-bound call (the GPU
waits for launches) from gaps on the GPU itself.
"""
import csv
import re
import sys
from collections import defaultdict

SPLIT_NS = 200_000


def rows(path):
    with open(path, newline="") as f:
        lines = [l for l in f if l.strip() and not l.startswith("Generating") and not l.startswith("Processing")]
    header = next(i for i, l in enumerate(lines) if "Start" in l and "Duration" in l)
    return list(csv.DictReader(lines[header:]))


def column(row, *names):
    for n in names:
        for k in row:
            if k and k.strip().startswith(n):
                return row[k]
    raise KeyError(names)


def kind(name):
    n = name.lower()
    for pattern, label in [("skinnygateup", "FFN gate/up (skinny)"), ("skinnydown", "FFN down (skinny)"),
                           ("skinnylinear", "linear (skinny)"),
                           ("gemm|cutlass|sm90_xmma|nvjet|cublas", "cuBLAS GEMM"), ("attendmma", "prefill attention"),
                           ("attend|decode", "other attention"), ("norm", "RMSNorm"), ("silu", "SiLU"),
                           ("scatter", "scatter-add"), ("compact", "compaction"), ("writekv|kvwrite|write", "K/V write"),
                           ("embed", "embedding"), ("skinny|linear|gemv", "skinny GEMV")]:
        if re.search(pattern, n):
            return label
    return "other: " + name[:60]


def main():
    gpu = []
    for r in rows(sys.argv[1]):
        start = int(float(column(r, "Start")))
        gpu.append((start, start + int(float(column(r, "Duration"))), column(r, "Name"), column(r, "CorrId", "CorrID")))
    gpu.sort()
    calls, current = [], []
    for e in gpu:
        if current and e[0] - max(x[1] for x in current) > SPLIT_NS:
            calls.append(current)
            current = []
        current.append(e)
    if current:
        calls.append(current)
    api = {}   # correlation id -> (host start, host end, name)
    if len(sys.argv) > 2:
        for r in rows(sys.argv[2]):
            start = int(float(column(r, "Start")))
            api[column(r, "CorrId", "CorrID")] = (start, start + int(float(column(r, "Duration"))), column(r, "Name"))
    for i, call in enumerate(calls):
        span = call[-1][1] - call[0][0]
        busy, gaps, end = 0, [], call[0][0]
        for j, (s, e, n, _) in enumerate(call):
            if s > end:
                gaps.append((s - end, call[j - 1][2] if j else "", n))
            busy += max(0, e - max(s, end))
            end = max(end, e)
        by_kind = defaultdict(lambda: [0, 0])
        for s, e, n, _ in call:
            by_kind[kind(n)][0] += e - s
            by_kind[kind(n)][1] += 1
        print(f"call {i}: {len(call)} kernels and copies, span {span / 1e3:.1f} us, busy {busy / 1e3:.1f} us, "
              f"idle {(span - busy) / 1e3:.1f} us in {len(gaps)} gaps")
        hist = defaultdict(int)
        for g, _, _ in gaps:
            hist["<1 us" if g < 1000 else "1-2 us" if g < 2000 else "2-5 us" if g < 5000 else "5-20 us" if g < 20000 else ">20 us"] += g
        print("  idle by gap size (us): " + ", ".join(f"{k} {v / 1e3:.1f}" for k, v in sorted(hist.items())))
        for g, before, after in sorted(gaps, reverse=True)[:10]:
            print(f"  gap {g / 1e3:8.1f} us  after {before[:70]}  before {after[:70]}")
        for k, (t, n) in sorted(by_kind.items(), key=lambda kv: -kv[1][0]):
            print(f"  {k:40s} {t / 1e3:9.1f} us  {n:5d} launches")
        issued = sorted((api[c], s) for s, _, _, c in call if c in api)
        if issued:
            first = call[0][0]
            # how far the GPU started each piece of work after the host issued it: near zero all along
            # means the GPU waited for the host
            lead = [s - host[1] for host, s in issued]
            starved = sum(1 for x in lead if x < 5000)
            print(f"  host: {len(issued)} API calls issued from {(issued[0][0][0] - first) / 1e3:.1f} to "
                  f"{(issued[-1][0][1] - first) / 1e3:.1f} us after the call's first GPU work, "
                  f"{sum(h[1] - h[0] for h, _ in issued) / 1e3:.1f} us inside them; the GPU started "
                  f"{starved} of them within 5 us of their issue (host-bound there)")
            slow = defaultdict(lambda: [0, 0])
            for h, _ in issued:
                slow[h[2]][0] += h[1] - h[0]
                slow[h[2]][1] += 1
            for n, (t, k) in sorted(slow.items(), key=lambda kv: -kv[1][0])[:6]:
                print(f"    {n:40s} {t / 1e3:9.1f} us host in {k} calls")


if __name__ == "__main__":
    main()
