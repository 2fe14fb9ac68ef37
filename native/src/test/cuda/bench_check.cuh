// What the hand-run benchmarks share: CHECK(call), their way out of a failed CUDA runtime call (file,
// line, the call and the error, then exit 1), and in namespace bench the BF16 buffers filled with
// hashed values, the median time of a call between two events, and the GPU's ceilings measured in
// the same run (the device-to-device copy, counted as bytes read + written, and a streaming read).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#define CHECK(x)                                                                                    \
    do {                                                                                            \
        cudaError_t checkError = (x);                                                               \
        if (checkError != cudaSuccess) {                                                            \
            std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(checkError)); \
            std::exit(1);                                                                           \
        }                                                                                           \
    } while (0)

namespace bench {

using B16 = __nv_bfloat16;

static __global__ void fillKernel(B16* p, long long n, unsigned seed, float scale) {
    for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<long long>(gridDim.x) * blockDim.x) {
        unsigned v = static_cast<unsigned>(i) * 2654435761u ^ seed;
        v ^= v >> 13;
        v *= 0x5bd1e995u;
        v ^= v >> 15;
        p[i] = __float2bfloat16((static_cast<float>(v & 0xffff) / 65535.f - 0.5f) * scale);
    }
}

static __global__ void readKernel(int4 const* p, long long n, int* sink) {
    int acc = 0;
    for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<long long>(gridDim.x) * blockDim.x) {
        int4 v = __ldcs(p + i);
        acc ^= v.x ^ v.y ^ v.z ^ v.w;
    }
    if (acc == 0x12345678) {
        *sink = acc;
    }
}

// n BF16 values in [-scale / 2, scale / 2], hashed from their index and seed.
inline B16* alloc(long long n, unsigned seed, float scale) {
    B16* p;
    CHECK(cudaMalloc(&p, n * sizeof(B16)));
    fillKernel<<<1024, 256>>>(p, n, seed, scale);
    CHECK(cudaGetLastError());
    return p;
}

// The median over `runs` runs of the milliseconds a call takes, each run `calls` calls of
// call(i) between two events on stream s.
template <typename F>
float medianMsPerCall(int runs, int calls, cudaStream_t s, cudaEvent_t a, cudaEvent_t b, F&& call) {
    std::vector<float> times;
    for (int r = 0; r < runs; r++) {
        CHECK(cudaEventRecord(a, s));
        for (int i = 0; i < calls; i++) {
            call(i);
        }
        CHECK(cudaEventRecord(b, s));
        CHECK(cudaEventSynchronize(b));
        float ms;
        CHECK(cudaEventElapsedTime(&ms, a, b));
        times.push_back(ms / calls);
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

// The copy and streaming-read rates of 2 GiB in bytes a second, printed on one line.
struct Ceilings {
    double copy;
    double read;
};

inline Ceilings measureCeilings(cudaStream_t s, cudaEvent_t a, cudaEvent_t b, int sms) {
    long long bytes = 2LL << 30;
    void *src, *dst;
    int* sink;
    CHECK(cudaMalloc(&src, bytes));
    CHECK(cudaMalloc(&dst, bytes));
    CHECK(cudaMalloc(&sink, 4));
    float copyMs = medianMsPerCall(7, 1, s, a, b, [&](int) {
        CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s));
    });
    float readMs = medianMsPerCall(7, 1, s, a, b, [&](int) {
        readKernel<<<sms * 8, 512, 0, s>>>(static_cast<int4 const*>(src), bytes / 16, sink);
    });
    Ceilings c{2.0 * bytes / (copyMs * 1e-3), bytes / (readMs * 1e-3)};
    std::printf("copy %.2f TB/s (read + write), streaming read %.2f TB/s, of 2 GiB\n", c.copy / 1e12, c.read / 1e12);
    CHECK(cudaFree(src));
    CHECK(cudaFree(dst));
    CHECK(cudaFree(sink));
    return c;
}

} // namespace bench
