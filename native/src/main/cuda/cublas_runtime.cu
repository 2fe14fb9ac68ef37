#include "cublas_runtime.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <unordered_map>

namespace higgs {
namespace {

CublasApi gApi{};
bool gLoaded = false;
std::string gLoadError;
std::mutex gLoadMutex;   // guards the fields above and the handle map
std::unordered_map<int, cublasHandle_t> gHandles;

template <typename F>
bool resolve(void* lib, char const* name, F& fn) {
    fn = reinterpret_cast<F>(dlsym(lib, name));
    return fn != nullptr;
}

bool loadLocked() {
    if (gLoaded) {
        return true;
    }
    if (!gLoadError.empty()) {
        return false;
    }
    char const* candidates[] = {std::getenv("HIGGS_TRT_CUBLAS"), "libcublas.so.13", "libcublas.so.12",
        "/usr/local/cuda/lib64/libcublas.so.13", "/usr/local/cuda/lib64/libcublas.so.12", "libcublas.so"};
    std::string tried;
    for (char const* name : candidates) {
        if (name == nullptr || *name == 0) {
            continue;
        }
        void* lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
        if (lib == nullptr) {
            tried += std::string(" ") + name + " (" + dlerror() + ");";
            continue;
        }
        CublasApi api{};
        bool ok = resolve(lib, "cublasCreate_v2", api.create) && resolve(lib, "cublasDestroy_v2", api.destroy)
            && resolve(lib, "cublasSetStream_v2", api.setStream)
            && resolve(lib, "cublasSetWorkspace_v2", api.setWorkspace)
            && resolve(lib, "cublasSetMathMode", api.setMathMode) && resolve(lib, "cublasGemmEx", api.gemmEx)
            && resolve(lib, "cublasGetStatusString", api.statusString);
        if (!ok) {
            tried += std::string(" ") + name + " (loaded, but without the cuBLAS functions);";
            dlclose(lib);
            continue;
        }
        resolve(lib, "cublasGemmStridedBatchedEx", api.gemmStridedBatchedEx);   // optional
        gApi = api;
        gLoaded = true;
        return true;
    }
    gLoadError = "cuBLAS 12 or 13 could not be loaded; set HIGGS_TRT_CUBLAS to its path. Tried:" + tried;
    return false;
}

} // namespace

CublasApi const& cublas() { return gApi; }

bool loadCublas(std::string* error) {
    std::lock_guard<std::mutex> lock(gLoadMutex);
    if (loadLocked()) {
        return true;
    }
    *error = gLoadError;
    return false;
}

cublasHandle_t cublasHandle(std::string* error) {
    std::lock_guard<std::mutex> lock(gLoadMutex);
    if (!loadLocked()) {
        *error = gLoadError;
        return nullptr;
    }
    int device = 0;
    if (cudaGetDevice(&device) != cudaSuccess) {
        *error = "cudaGetDevice failed";
        return nullptr;
    }
    auto it = gHandles.find(device);
    if (it != gHandles.end()) {
        return it->second;
    }
    cublasHandle_t handle = nullptr;
    cublasStatus_t status = gApi.create(&handle);
    if (status != kCublasSuccess) {
        *error = std::string("cublasCreate failed: ") + gApi.statusString(status);
        return nullptr;
    }
    gApi.setMathMode(handle, kCublasDefaultMath);
    gHandles[device] = handle;
    return handle;
}

std::mutex& cublasMutex() {
    static std::mutex m;
    return m;
}

bool gemmRowMajor(cublasHandle_t handle, int m, int n, int k, void const* w, int ldw, void const* x, int ldx, float beta,
    void* c, cudaDataType cType, int ldc, cudaDataType abType, std::string* error) {
    float one = 1.f;
    cublasStatus_t status = gApi.gemmEx(handle, kCublasOpT, kCublasOpN, m, n, k, &one, w, abType, ldw, x, abType, ldx,
        &beta, c, cType, ldc, kCublasCompute32F, kCublasGemmDefault);
    if (status != kCublasSuccess) {
        char buffer[160];
        std::snprintf(buffer, sizeof buffer, "cublasGemmEx (%d x %d x %d) failed: %s", m, n, k, gApi.statusString(status));
        *error = buffer;
        return false;
    }
    return true;
}

bool gemmStridedRowMajor(cublasHandle_t handle, int m, int n, int k, void const* w, int ldw, long long strideW,
    void const* x, int ldx, long long strideX, void* c, cudaDataType cType, int ldc, long long strideC, int batch,
    cudaDataType abType, std::string* error) {
    if (gApi.gemmStridedBatchedEx == nullptr) {
        *error = "this cuBLAS has no cublasGemmStridedBatchedEx";
        return false;
    }
    float one = 1.f;
    float zero = 0.f;
    cublasStatus_t status = gApi.gemmStridedBatchedEx(handle, kCublasOpT, kCublasOpN, m, n, k, &one, w, abType, ldw,
        strideW, x, abType, ldx, strideX, &zero, c, cType, ldc, strideC, batch, kCublasCompute32F, kCublasGemmDefault);
    if (status != kCublasSuccess) {
        char buffer[192];
        std::snprintf(buffer, sizeof buffer, "cublasGemmStridedBatchedEx (%d x %d x %d, %d of them) failed: %s", m, n, k,
            batch, gApi.statusString(status));
        *error = buffer;
        return false;
    }
    return true;
}

} // namespace higgs
