#include "cublas_runtime.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <tuple>
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

// The first of the library named by the environment variable (where set), then base.so.13 and
// base.so.12 by soname and under /usr/local/cuda/lib64, then base.so, that loads and whose functions
// resolveAll finds (it fills api); what each failed try gave is appended to *tried.
template <typename Api, typename Resolve>
bool openFirst(char const* variable, char const* base, Resolve resolveAll, Api* api, std::string* tried) {
    std::string b(base);
    std::string const candidates[] = {std::getenv(variable) != nullptr ? std::getenv(variable) : "", b + ".so.13",
        b + ".so.12", "/usr/local/cuda/lib64/" + b + ".so.13", "/usr/local/cuda/lib64/" + b + ".so.12", b + ".so"};
    for (std::string const& name : candidates) {
        if (name.empty()) {
            continue;
        }
        void* lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (lib == nullptr) {
            *tried += " " + name + " (" + dlerror() + ");";
            continue;
        }
        Api found{};
        if (!resolveAll(lib, found)) {
            *tried += " " + name + " (loaded, but without the functions);";
            dlclose(lib);
            continue;
        }
        *api = found;
        return true;
    }
    return false;
}

// The current device, or false with the reason in *error.
bool currentDevice(int* device, std::string* error) {
    if (cudaGetDevice(device) != cudaSuccess) {
        *error = "cudaGetDevice failed";
        return false;
    }
    return true;
}

bool loadLocked() {
    if (gLoaded) {
        return true;
    }
    if (!gLoadError.empty()) {
        return false;
    }
    std::string tried;
    gLoaded = openFirst("HIGGS_TRT_CUBLAS", "libcublas", [](void* lib, CublasApi& api) {
        bool ok = resolve(lib, "cublasCreate_v2", api.create) && resolve(lib, "cublasDestroy_v2", api.destroy)
            && resolve(lib, "cublasSetStream_v2", api.setStream)
            && resolve(lib, "cublasSetWorkspace_v2", api.setWorkspace)
            && resolve(lib, "cublasSetMathMode", api.setMathMode) && resolve(lib, "cublasGemmEx", api.gemmEx)
            && resolve(lib, "cublasGetStatusString", api.statusString);
        if (ok) {
            resolve(lib, "cublasGemmStridedBatchedEx", api.gemmStridedBatchedEx);   // optional
        }
        return ok;
    }, &gApi, &tried);
    if (!gLoaded) {
        gLoadError = "cuBLAS 12 or 13 could not be loaded; set HIGGS_TRT_CUBLAS to its path. Tried:" + tried;
    }
    return gLoaded;
}

// cuBLASLt: loaded on first use beside cuBLAS (which links it, so its soname is usually loaded already);
// HIGGS_TRT_CUBLASLT names the library, or 0 to do without it.
CublasLtApi gLt{};
bool gLtTried = false;
bool gLtLoaded = false;
std::unordered_map<int, cublasLtHandle_t> gLtHandles;

// One shape's descriptors and chosen algorithm (none found: usable false).
struct LtPlan {
    bool usable;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t a, b, cd;
    cublasLtMatmulAlgo_t algo;
};
using LtKey = std::tuple<int, int, int, int, int, int, int, int, size_t>;
std::map<LtKey, LtPlan> gLtPlans;

bool loadLtLocked() {
    if (gLtTried) {
        return gLtLoaded;
    }
    gLtTried = true;
    char const* named = std::getenv("HIGGS_TRT_CUBLASLT");
    if (named != nullptr && std::strcmp(named, "0") == 0) {
        return false;
    }
    std::string tried;   // unused: without cuBLASLt the caller takes the copy and cublasGemmEx
    gLtLoaded = openFirst("HIGGS_TRT_CUBLASLT", "libcublasLt", [](void* lib, CublasLtApi& api) {
        return resolve(lib, "cublasLtCreate", api.create) && resolve(lib, "cublasLtMatmulDescCreate", api.descCreate)
            && resolve(lib, "cublasLtMatmulDescDestroy", api.descDestroy)
            && resolve(lib, "cublasLtMatmulDescSetAttribute", api.descSetAttribute)
            && resolve(lib, "cublasLtMatrixLayoutCreate", api.layoutCreate)
            && resolve(lib, "cublasLtMatrixLayoutDestroy", api.layoutDestroy)
            && resolve(lib, "cublasLtMatmulPreferenceCreate", api.preferenceCreate)
            && resolve(lib, "cublasLtMatmulPreferenceDestroy", api.preferenceDestroy)
            && resolve(lib, "cublasLtMatmulPreferenceSetAttribute", api.preferenceSetAttribute)
            && resolve(lib, "cublasLtMatmulAlgoGetHeuristic", api.heuristic) && resolve(lib, "cublasLtMatmul", api.matmul);
    }, &gLt, &tried);
    return gLtLoaded;
}

// The plan for a shape on the current device, made on first use; null where cuBLASLt is missing.
LtPlan const* ltPlan(int device, cublasLtHandle_t handle, int m, int n, int k, int ldw, int ldx, int ldc, cudaDataType type,
    size_t workspaceBytes) {
    LtKey key{device, m, n, k, ldw, ldx, ldc, static_cast<int>(type), workspaceBytes};
    auto it = gLtPlans.find(key);
    if (it != gLtPlans.end()) {
        return &it->second;
    }
    LtPlan plan{};
    cublasOperation_t opT = kCublasOpT;
    cublasOperation_t opN = kCublasOpN;
    bool ok = gLt.descCreate(&plan.desc, kCublasCompute32F, CUDA_R_32F) == kCublasSuccess;
    ok = ok && gLt.descSetAttribute(plan.desc, kCublasLtDescTransA, &opT, sizeof opT) == kCublasSuccess
        && gLt.descSetAttribute(plan.desc, kCublasLtDescTransB, &opN, sizeof opN) == kCublasSuccess;
    // column-major, as gemmRowMajor: A = W^T stored k x m, B = X^T stored k x n, C and D m x n
    ok = ok && gLt.layoutCreate(&plan.a, type, k, m, ldw) == kCublasSuccess
        && gLt.layoutCreate(&plan.b, type, k, n, ldx) == kCublasSuccess
        && gLt.layoutCreate(&plan.cd, type, m, n, ldc) == kCublasSuccess;
    cublasLtMatmulPreference_t preference = nullptr;
    ok = ok && gLt.preferenceCreate(&preference) == kCublasSuccess
        && gLt.preferenceSetAttribute(preference, kCublasLtPrefMaxWorkspaceBytes, &workspaceBytes, sizeof workspaceBytes)
            == kCublasSuccess;
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    ok = ok && gLt.heuristic(handle, plan.desc, plan.a, plan.b, plan.cd, plan.cd, preference, 1, &result, &found)
            == kCublasSuccess
        && found > 0 && result.state == kCublasSuccess;
    if (preference != nullptr) {
        gLt.preferenceDestroy(preference);
    }
    if (!ok) {   // kept unusable, so that the shape is not tried again: its descriptors are not needed
        if (plan.desc != nullptr) {
            gLt.descDestroy(plan.desc);
        }
        for (cublasLtMatrixLayout_t layout : {plan.a, plan.b, plan.cd}) {
            if (layout != nullptr) {
                gLt.layoutDestroy(layout);
            }
        }
        plan = LtPlan{};
    }
    plan.usable = ok;
    plan.algo = result.algo;
    return &gLtPlans.emplace(key, plan).first->second;
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
    if (!currentDevice(&device, error)) {
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

bool gemmAddRowMajor(int m, int n, int k, void const* w, int ldw, void const* x, int ldx, void const* c, void* d,
    int ldc, cudaDataType type, void* workspace, size_t workspaceBytes, cudaStream_t stream, std::string* error) {
    error->clear();
    std::lock_guard<std::mutex> lock(gLoadMutex);
    if (!loadLtLocked()) {
        return false;
    }
    int device = 0;
    if (!currentDevice(&device, error)) {
        return false;
    }
    auto h = gLtHandles.find(device);
    if (h == gLtHandles.end()) {
        cublasLtHandle_t handle = nullptr;
        if (gLt.create(&handle) != kCublasSuccess) {
            return false;   // the caller takes the copy and cublasGemmEx
        }
        h = gLtHandles.emplace(device, handle).first;
    }
    LtPlan const* plan = ltPlan(device, h->second, m, n, k, ldw, ldx, ldc, type, workspaceBytes);
    if (!plan->usable) {
        return false;
    }
    float one = 1.f;
    cublasStatus_t status = gLt.matmul(h->second, plan->desc, &one, w, plan->a, x, plan->b, &one, c, plan->cd, d, plan->cd,
        &plan->algo, workspace, workspaceBytes, stream);
    if (status != kCublasSuccess) {
        char buffer[160];
        std::snprintf(buffer, sizeof buffer, "cublasLtMatmul (%d x %d x %d) failed: %s", m, n, k, gApi.statusString(status));
        *error = buffer;
        return false;
    }
    return true;
}

} // namespace higgs
