// The few cuBLAS entry points the plugin calls, resolved at run time with dlopen: the plugin then
// builds without the cuBLAS headers and libraries (they are not on every build machine) and runs
// with either cuBLAS 12 or 13. Values are those of cublas_api.h; the signatures are the public C API.
#pragma once

#include <cstddef>
#include <library_types.h>

struct cublasContext;
typedef cublasContext* cublasHandle_t;
typedef int cublasStatus_t;
typedef int cublasOperation_t;
typedef int cublasComputeType_t;
typedef int cublasGemmAlgo_t;
typedef int cublasMath_t;

constexpr cublasStatus_t kCublasSuccess = 0;
constexpr cublasOperation_t kCublasOpN = 0;
constexpr cublasOperation_t kCublasOpT = 1;
constexpr cublasComputeType_t kCublasCompute32F = 68;
constexpr cublasGemmAlgo_t kCublasGemmDefault = -1;
constexpr cublasMath_t kCublasDefaultMath = 0;

struct CublasApi {
    cublasStatus_t (*create)(cublasHandle_t*);
    cublasStatus_t (*destroy)(cublasHandle_t);
    cublasStatus_t (*setStream)(cublasHandle_t, cudaStream_t);
    cublasStatus_t (*setWorkspace)(cublasHandle_t, void*, size_t);
    cublasStatus_t (*setMathMode)(cublasHandle_t, cublasMath_t);
    cublasStatus_t (*gemmEx)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, void const*,
        void const*, cudaDataType, int, void const*, cudaDataType, int, void const*, void*, cudaDataType, int,
        cublasComputeType_t, cublasGemmAlgo_t);
    char const* (*statusString)(cublasStatus_t);
    // optional (null where the library lacks it): cublasGemmStridedBatchedEx
    cublasStatus_t (*gemmStridedBatchedEx)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
        void const*, void const*, cudaDataType, int, long long, void const*, cudaDataType, int, long long, void const*,
        void*, cudaDataType, int, long long, int, cublasComputeType_t, cublasGemmAlgo_t);
};
