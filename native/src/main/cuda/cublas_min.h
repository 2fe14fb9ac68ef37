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

// cuBLASLt, for its one feature the plugins need that cublasGemmEx lacks: D = A.B + C with D apart from C
// (the linear plugin's residual added without copying it into the output first).
struct cublasLtContext;
typedef cublasLtContext* cublasLtHandle_t;
struct cublasLtMatmulDescOpaque;
typedef cublasLtMatmulDescOpaque* cublasLtMatmulDesc_t;
struct cublasLtMatrixLayoutOpaque;
typedef cublasLtMatrixLayoutOpaque* cublasLtMatrixLayout_t;
struct cublasLtMatmulPreferenceOpaque;
typedef cublasLtMatmulPreferenceOpaque* cublasLtMatmulPreference_t;
struct cublasLtMatmulAlgo_t {
    unsigned long long data[8];
};
struct cublasLtMatmulHeuristicResult_t {
    cublasLtMatmulAlgo_t algo;
    size_t workspaceSize;
    cublasStatus_t state;
    float wavesCount;
    int reserved[4];
};
typedef int cublasLtAttribute_t;
constexpr cublasLtAttribute_t kCublasLtDescTransA = 3;           // CUBLASLT_MATMUL_DESC_TRANSA
constexpr cublasLtAttribute_t kCublasLtDescTransB = 4;           // CUBLASLT_MATMUL_DESC_TRANSB
constexpr cublasLtAttribute_t kCublasLtPrefMaxWorkspaceBytes = 1;   // CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES

struct CublasLtApi {
    cublasStatus_t (*create)(cublasLtHandle_t*);
    cublasStatus_t (*descCreate)(cublasLtMatmulDesc_t*, cublasComputeType_t, cudaDataType);
    cublasStatus_t (*descDestroy)(cublasLtMatmulDesc_t);
    cublasStatus_t (*descSetAttribute)(cublasLtMatmulDesc_t, cublasLtAttribute_t, void const*, size_t);
    cublasStatus_t (*layoutCreate)(cublasLtMatrixLayout_t*, cudaDataType, unsigned long long, unsigned long long, long long);
    cublasStatus_t (*layoutDestroy)(cublasLtMatrixLayout_t);
    cublasStatus_t (*preferenceCreate)(cublasLtMatmulPreference_t*);
    cublasStatus_t (*preferenceDestroy)(cublasLtMatmulPreference_t);
    cublasStatus_t (*preferenceSetAttribute)(cublasLtMatmulPreference_t, cublasLtAttribute_t, void const*, size_t);
    cublasStatus_t (*heuristic)(cublasLtHandle_t, cublasLtMatmulDesc_t, cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
        cublasLtMatrixLayout_t, cublasLtMatrixLayout_t, cublasLtMatmulPreference_t, int, cublasLtMatmulHeuristicResult_t*,
        int*);
    cublasStatus_t (*matmul)(cublasLtHandle_t, cublasLtMatmulDesc_t, void const*, void const*, cublasLtMatrixLayout_t,
        void const*, cublasLtMatrixLayout_t, void const*, void const*, cublasLtMatrixLayout_t, void*,
        cublasLtMatrixLayout_t, cublasLtMatmulAlgo_t const*, void*, size_t, cudaStream_t);
};
