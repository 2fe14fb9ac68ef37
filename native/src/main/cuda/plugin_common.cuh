// What both plugins of the library share: the export macro and plugin namespace, a last-error
// slot for the Java side, the element count of a shape, and float conversions in device code.
// Each plugin keeps its own error slot, so each reports its own errors.
#pragma once

#include "trt_plugin_abi.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdarg>
#include <cstdio>
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
