// What the plugins of the library share: the export macro and plugin namespace, a last-error
// slot for the Java side, the element count of a shape, float conversions in device code, and
// dependent (programmatically serialised) kernel launches.
// Each plugin keeps its own error slot, so each reports its own errors.
#pragma once

#include "trt_plugin_abi.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cuda_runtime.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

// The library's C entry points, which the Java side binds through JNA.
#define HX_EXPORT extern "C" __attribute__((visibility("default")))

namespace higgs {

// The namespace both plugins register under (DualFfnPlugin.NAMESPACE on the Java side).
constexpr char kPluginNamespace[] = "higgs_trt";

// The last error of one plugin, written by any thread, read and cleared by the Java side.
class ErrorSlot {
public:
    void set(char const* format, ...) {
        char buffer[1024];
        va_list args;
        va_start(args, format);
        vsnprintf(buffer, sizeof buffer, format, args);
        va_end(args);
        std::lock_guard<std::mutex> lock(mutex_);
        last_ = buffer;
    }

    // Writes the message (truncated to capacity) and returns its full length.
    int copyTo(char* message, int capacity) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (message != nullptr && capacity > 0) {
            std::snprintf(message, static_cast<size_t>(capacity), "%s", last_.c_str());
        }
        return static_cast<int>(last_.size());
    }

    void clear() {
        std::lock_guard<std::mutex> lock(mutex_);
        last_.clear();
    }

private:
    std::mutex mutex_;
    std::string last_;
};

// FLOAT, HALF or BF16: the compute types the plugins run in.
inline bool isComputeType(nvinfer1::DataType t) {
    return t == nvinfer1::DataType::kFLOAT || t == nvinfer1::DataType::kHALF || t == nvinfer1::DataType::kBF16;
}

inline long long volume(nvinfer1::Dims const& d) {
    long long n = 1;
    for (int i = 0; i < d.nbDims; i++) {
        n *= d.d[i];
    }
    return n;
}

// Programmatic dependent launch (Hopper). A kernel launched with launchDependent may start while
// the kernel before it in the stream still runs, so that its launch overlaps that kernel's last
// blocks. Such a kernel calls gridDependencyWait() before it reads what any kernel of the step
// wrote and before it writes anything; before it, it reads only the step's inputs (the mask,
// positions, tables), constants (weights) and what earlier steps wrote (the KV cache's past rows).
// It calls allowDependents() once its main loop is done (after its wait), so that the next kernel's
// blocks, waiting, hold no SM that this kernel's loop still needs (with the trigger right after the
// wait, a batch-1 step took 3.12 ms against 2.66 without dependent launches); or, with
// kDependentEarlyWeights, at its start, so that the next kernel's first weight loads go out
// meanwhile. Both are no-ops in a kernel launched without the attribute.
__device__ inline void gridDependencyWait() { asm volatile("griddepcontrol.wait;" ::: "memory"); }
__device__ inline void allowDependents() { asm volatile("griddepcontrol.launch_dependents;" ::: "memory"); }

// The kernels that may be launched dependently, a bit each.
constexpr int kDependentLinear = 1;      // the linear plugin's skinny kernel
constexpr int kDependentFfn = 2;         // the dual-FFN plugin's skinny gate/up and down kernels
constexpr int kDependentAttention = 4;   // the paged attention's one-kernel decode
// The kernels of many-token calls (prefill, larger decode batches) around their cuBLAS GEMMs: the
// RMSNorms, path compaction, SiLU and scatter-add, the K/V write and the attention kernels. They wait
// at their start and let the next kernel start as their blocks exit. In a 512-position prefill on
// the H200 (CUPTI timeline, stream launches) the GPU idled 1.9 us between kernels on average, 0.85 ms
// a prefill; with these launches the prefill took 7.74-7.88 ms against 7.95-8.05 (session 18).
constexpr int kDependentManyTokens = 8;
// The one-kernel decode attention lets the next kernel start at its own start rather than after its
// keys: its blocks are one wave, and the next (skinny) kernel's blocks may prefetch their weights into
// L2 meanwhile (skinny_gemm.cuh, HIGGS_TRT_PREFETCH_MB). Not a default: without the prefetch a
// batch-1 step took 2.23 ms on the H200 with it and without it.
constexpr int kDependentEarlyAttention = 16;
// The skinny kernels (linear, gate/up, down) let the next kernel start at their own start, and issue
// their first weight loads before their own wait, so that a kernel's weights stream while the one
// before still finishes.
constexpr int kDependentEarlyWeights = 32;
constexpr int kDependentAll = kDependentLinear | kDependentFfn | kDependentAttention | kDependentManyTokens
    | kDependentEarlyAttention | kDependentEarlyWeights;

// Which kernels launchDependent launches dependently: HIGGS_TRT_PDL's bits where it is set, else
// kDependentDefault (one mask for the whole library: an inline function's static is one object
// across its translation units).
// all three: on the H200 a batch-1 step with CUDA graphs took 2.56-2.64 ms with them against 2.74-2.84
// without, batch 8 the same within the spread (docs/performance.md, session 16)
constexpr int kDependentDefault = kDependentAll & ~(kDependentEarlyAttention | kDependentEarlyWeights);
inline std::atomic<int>& dependentLaunches() {
    static std::atomic<int> mask{[] {
        char const* v = std::getenv("HIGGS_TRT_PDL");
        return v == nullptr ? kDependentDefault : static_cast<int>(std::strtol(v, nullptr, 0)) & kDependentAll;
    }()};
    return mask;
}

// Whether a skinny kernel of kind is launched to start early (kDependentEarlyWeights with its own bit).
inline bool earlyWeights(int kind) {
    int mask = dependentLaunches().load(std::memory_order_relaxed);
    return (mask & kind) != 0 && (mask & kDependentEarlyWeights) != 0;
}

// kernel<<<grid, block, sharedBytes, stream>>>(args...), with programmatic stream serialisation
// where dependentLaunches() has the kernel's bit (kind), and a thread-block cluster of cluster.z
// blocks along z where cluster.z > 1. The kernel must follow the gridDependencyWait() contract above.
template <typename... Params, typename... Args>
cudaError_t launchDependent(int kind, void (*kernel)(Params...), dim3 grid, dim3 block, size_t sharedBytes,
    cudaStream_t stream, dim3 cluster, Args&&... args) {
    cudaLaunchConfig_t config{};
    config.gridDim = grid;
    config.blockDim = block;
    config.dynamicSmemBytes = sharedBytes;
    config.stream = stream;
    cudaLaunchAttribute attributes[2]{};
    unsigned n = 0;
    if ((dependentLaunches().load(std::memory_order_relaxed) & kind) != 0) {
        attributes[n].id = cudaLaunchAttributeProgrammaticStreamSerialization;
        attributes[n].val.programmaticStreamSerializationAllowed = 1;
        n++;
    }
    if (cluster.x * cluster.y * cluster.z > 1) {
        attributes[n].id = cudaLaunchAttributeClusterDimension;
        attributes[n].val.clusterDim.x = cluster.x;
        attributes[n].val.clusterDim.y = cluster.y;
        attributes[n].val.clusterDim.z = cluster.z;
        n++;
    }
    config.attrs = attributes;
    config.numAttrs = n;
    return cudaLaunchKernelEx(&config, kernel, static_cast<Params>(args)...);
}

__device__ inline float toFloat(float v) { return v; }
__device__ inline float toFloat(__half v) { return __half2float(v); }
__device__ inline float toFloat(__nv_bfloat16 v) { return __bfloat162float(v); }

// Sets every accumulator of a register tile to 0.
template <int R, int C>
__device__ inline void zero(float (&tile)[R][C]) {
#pragma unroll
    for (int r = 0; r < R; r++) {
#pragma unroll
        for (int c = 0; c < C; c++) {
            tile[r][c] = 0.f;
        }
    }
}

template <typename T> __device__ inline T fromFloat(float v);
template <> __device__ inline float fromFloat<float>(float v) { return v; }
template <> __device__ inline __half fromFloat<__half>(float v) { return __float2half_rn(v); }
template <> __device__ inline __nv_bfloat16 fromFloat<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

} // namespace higgs
