// cuBLAS for the plugins of the library: loaded once at run time (cublas_min.h says why), and one
// handle per device that every plugin instance shares (a handle per layer would hold its own
// workspace for nothing). A handle's stream and workspace are set before each call, so calls on
// the shared handles are serialised by cublasMutex().
#pragma once

#include "cublas_min.h"

#include <cuda_runtime.h>

#include <mutex>
#include <string>

namespace higgs {

// The loaded entry points; every pointer is null until loadCublas has succeeded.
CublasApi const& cublas();

// Loads cuBLAS 12 or 13 once (HIGGS_TRT_CUBLAS first); false with the reason in *error.
bool loadCublas(std::string* error);

// The shared handle of the current device, created on first use; null with the reason in *error.
cublasHandle_t cublasHandle(std::string* error);

// Held while a handle's stream and workspace are set and its GEMMs enqueued.
std::mutex& cublasMutex();

// C[n, m] = X[n, k] . W[m, k]^T + beta C in row-major terms (column-major C^T = W^T(op T) . X^T),
// FP32 accumulation; false with the reason in *error.
bool gemmRowMajor(cublasHandle_t handle, int m, int n, int k, void const* w, int ldw, void const* x, int ldx, float beta,
    void* c, cudaDataType cType, int ldc, cudaDataType abType, std::string* error);

// Whether gemmStridedRowMajor can run (the loaded cuBLAS has cublasGemmStridedBatchedEx).
inline bool hasStridedGemm() { return cublas().gemmStridedBatchedEx != nullptr; }

// batch GEMMs as gemmRowMajor's (beta 0), the i-th with w + i * strideW, x + i * strideX and
// c + i * strideC (strides in elements); false with the reason in *error.
bool gemmStridedRowMajor(cublasHandle_t handle, int m, int n, int k, void const* w, int ldw, long long strideW,
    void const* x, int ldx, long long strideX, void* c, cudaDataType cType, int ldc, long long strideC, int batch,
    cudaDataType abType, std::string* error);

// D[n, m] = X[n, k] . W[m, k]^T + C[n, m] in row-major terms, D and C apart (both with leading dimension ldc),
// through cuBLASLt: the algorithm for each shape is chosen once a device and kept. On the stream given, with
// workspaceBytes of workspace; hold cublasMutex(). False with the reason in *error; *error is empty when the
// process has no cuBLASLt or it offers no algorithm for the shape, so the caller can copy C into D and call
// gemmRowMajor with beta 1 instead.
bool gemmAddRowMajor(int m, int n, int k, void const* w, int ldw, void const* x, int ldx, void const* c, void* d,
    int ldc, cudaDataType type, void* workspace, size_t workspaceBytes, cudaStream_t stream, std::string* error);

} // namespace higgs
