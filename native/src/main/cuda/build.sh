#!/usr/bin/env bash
# Compiles the TensorRT plugins, dual FFN, linear, all-reduce and paged attention, into one library (called by the native
# module's Maven build).
#   build.sh OUTPUT_DIR
# Uses $NVCC, else $CUDA_HOME/bin/nvcc, else nvcc on the PATH, else /usr/local/cuda/bin/nvcc.
# Without nvcc it says so and exits 0: the jar then carries no plugin and engines fall back to
# computing both FFN paths. Rebuilds only when a source is newer than the library.
set -euo pipefail
src="$(cd "$(dirname "$0")" && pwd)"
out="$1"
lib="$out/libhiggs_dual_ffn.so"
nvcc="${NVCC:-}"
if [[ -z "$nvcc" && -n "${CUDA_HOME:-}" && -x "$CUDA_HOME/bin/nvcc" ]]; then nvcc="$CUDA_HOME/bin/nvcc"; fi
if [[ -z "$nvcc" ]]; then nvcc="$(command -v nvcc || true)"; fi
if [[ -z "$nvcc" && -x /usr/local/cuda/bin/nvcc ]]; then nvcc=/usr/local/cuda/bin/nvcc; fi
if [[ -z "$nvcc" ]]; then
  echo "[higgs-trt] nvcc not found (set NVCC or CUDA_HOME): the dual-FFN plugin is NOT built;" \
       "engines will compute both FFN paths"
  exit 0
fi
if [[ -f "$lib" ]] && [[ -z "$(find "$src" -newer "$lib" -type f)" ]]; then
  echo "[higgs-trt] plugin library up to date: $lib"
  exit 0
fi
mkdir -p "$out"
tmp="$lib.tmp.$$"
objs="$(mktemp -d)"
trap 'rm -rf "$tmp" "$objs"' EXIT
# sm_90 machine code for Hopper plus compute_90 PTX that newer GPUs JIT-compile. The units compile
# in parallel (the build's longest step), then link into one library.
flags=(-O3 -std=c++17 -Xcompiler -fPIC,-fvisibility=hidden,-Wall
  -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90)
pids=()
for unit in cublas_runtime dual_ffn_plugin linear_plugin all_reduce_plugin paged_attention_plugin; do
  "$nvcc" "${flags[@]}" -c -o "$objs/$unit.o" "$src/$unit.cu" &
  pids+=("$!")
done
for pid in "${pids[@]}"; do
  wait "$pid"
done
"$nvcc" -shared -Xcompiler -static-libstdc++,-static-libgcc -o "$tmp" "$objs"/*.o -ldl
mv "$tmp" "$lib"
echo "[higgs-trt] plugin library (dual FFN, linear, all-reduce, paged attention) built with $("$nvcc" --version | tail -1): $lib"
