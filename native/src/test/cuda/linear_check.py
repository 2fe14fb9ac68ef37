#!/usr/bin/env python3
"""Checks the linear plugin's kernels outside TensorRT, against PyTorch, on a GPU.

Calls the plugin library's C entry point higgs_linear_run through ctypes on tensors made by
PyTorch and compares with a float64 reference: residual + (RMSNorm(x) * norm weight) . W^T, the
norm weight of each token's path where the norm is per path. Cases cover every dtype, both norm
weight types, no norm / one norm / per-path norms, with and without the residual, token counts on
both sides of the skinny kernel's limit, and sizes that take the vector tiling (both splits) and
the element-load fallback.

  HIGGS_TRT_LIB=.../libhiggs_dual_ffn.so python3 linear_check.py
      (a library the native build made; without it, nvcc builds one from the sources here)
Prints one line per case and exits 1 on a failure.
"""
import ctypes, os, subprocess, sys, tempfile
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "..", "main", "cuda")
TYPES = {torch.float32: 0, torch.float16: 1, torch.bfloat16: 7}
# of the largest reference value, plus a floor: FP32 accumulation order; 16-bit output rounding
RELATIVE = {torch.float32: 1e-5, torch.float16: 1.0 / 512, torch.bfloat16: 1.0 / 64}


def build():
    out = os.environ.get("HIGGS_TRT_LIB")
    if not out:
        out = os.path.join(tempfile.mkdtemp(), "liblinear.so")
        subprocess.check_call(["nvcc", "-O3", "-std=c++17", "-shared", "-Xcompiler", "-fPIC", "-gencode",
                               "arch=compute_90,code=sm_90", "-o", out, os.path.join(SRC, "linear_plugin.cu"),
                               os.path.join(SRC, "cublas_runtime.cu"), "-ldl"])
    lib = ctypes.CDLL(out)
    lib.higgs_linear_run.restype = ctypes.c_int
    lib.higgs_linear_run.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                     ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_float,
                                     ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                     ctypes.c_void_p, ctypes.c_void_p]
    lib.higgs_linear_workspace.restype = ctypes.c_size_t
    lib.higgs_linear_workspace.argtypes = [ctypes.c_longlong, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.higgs_linear_small_tokens.restype = ctypes.c_int
    lib.higgs_linear_last_error.argtypes = [ctypes.c_char_p, ctypes.c_int]
    return lib


def ptr(t):
    return ctypes.c_void_p(t.data_ptr() if t is not None else 0)


def run_case(lib, gen, dtype, norm_type, cols, rows, tokens, norm, residual, eps=1e-5):
    def randn(*shape):
        return torch.randn(*shape, generator=gen, device="cuda")

    x = (randn(tokens, cols) * 1.5).to(dtype)
    w = (randn(rows, cols) * 0.05).to(dtype)
    text_norm = (1 + 0.3 * randn(cols)).to(norm_type)
    audio_norm = (1 + 0.3 * randn(cols)).to(norm_type)
    audio = torch.rand(tokens, generator=gen, device="cuda") < 0.5
    res = randn(tokens, rows).to(dtype) if residual else None

    xd = x.double()
    if norm:
        inv = torch.rsqrt(xd.pow(2).mean(dim=1, keepdim=True) + eps)
        nw = torch.where(audio[:, None] if norm == 2 else torch.zeros(tokens, 1, dtype=torch.bool, device="cuda"),
                         audio_norm.double()[None, :], text_norm.double()[None, :])
        xd = xd * inv * nw
    ref = xd @ w.double().t()
    if residual:
        ref = ref + res.double()

    gm = audio.to(torch.uint8)
    out = torch.full((tokens, rows), float("nan"), dtype=dtype, device="cuda")
    ws = torch.empty(lib.higgs_linear_workspace(tokens, cols, TYPES[dtype], norm) // 4 + 64, dtype=torch.float32,
                     device="cuda")
    status = lib.higgs_linear_run(TYPES[dtype], TYPES[norm_type], ptr(x), ptr(w), norm, ptr(text_norm), ptr(audio_norm),
                                  ptr(gm), 0, eps, ptr(res), ptr(out), tokens, cols, rows, ptr(ws),
                                  ctypes.c_void_p(torch.cuda.current_stream().cuda_stream))
    torch.cuda.synchronize()
    if status != 0:
        message = ctypes.create_string_buffer(1024)
        lib.higgs_linear_last_error(message, 1024)
        return False, "run failed: " + message.value.decode()
    diff = (out.double() - ref).abs().max().item()
    peak = ref.abs().max().item()
    bound = RELATIVE[dtype] * peak + 1e-4
    ok = diff <= bound   # also false for NaN (an output the kernels never wrote)
    return ok, "max |diff| %.3e (bound %.3e, peak %.3g)" % (diff, bound, peak)


def main():
    lib = build()
    gen = torch.Generator(device="cuda").manual_seed(5)
    small = lib.higgs_linear_small_tokens()
    print("skinny kernel up to %d tokens" % small)
    sizes = [(3072, 5120, "q/k/v-like, 2-warp split"), (3072, 3072, "output-like, 4-warp split"),
             (256, 192, "small, vector"), (100, 36, "unaligned: element loads"), (96, 4098, "4098 rows: the 2-warp split")]
    failures = 0
    cases = 0
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        norm_types = [torch.float32] if dtype == torch.float32 else [torch.float32, dtype]
        for cols, rows, what in sizes:
            for tokens in sorted({1, small, small + 1, 7, 64}):
                for norm in (0, 1, 2):
                    for residual in (False, True):
                        for norm_type in (norm_types if norm else norm_types[:1]):
                            ok, line = run_case(lib, gen, dtype, norm_type, cols, rows, tokens, norm, residual)
                            cases += 1
                            failures += 0 if ok else 1
                            if not ok or (tokens in (1, small + 1) and residual and norm == 2):
                                print("%-4s %-9s norm %-8s %-30s T=%-3d norm=%d residual=%d: %s" % (
                                    "ok" if ok else "FAIL", str(dtype).replace("torch.", ""),
                                    str(norm_type).replace("torch.", ""), what, tokens, norm, int(residual), line))
    lib.higgs_linear_lt_gemms.restype = ctypes.c_longlong
    # the many-token cases with a residual go to cuBLASLt unless HIGGS_TRT_CUBLASLT=0 (the copy and cublasGemmEx)
    print("%d cases, %d failed; %d residual GEMMs through cuBLASLt" % (cases, failures, lib.higgs_linear_lt_gemms()))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
