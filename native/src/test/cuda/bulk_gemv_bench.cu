// One-token matrix-vector products (y = W x, BF16, FP32 sums) of the decode step's four weight
// shapes, two ways, against the GPU's own copy and read rates in the same run: the plugins' warp
// kernel (skinny_gemm.cuh's dotRowsVec: a warp per 4 rows, 16-byte loads past L1), and a kernel that
// streams contiguous tiles of rows into shared memory with the Hopper bulk copy (cp.async.bulk, an
// mbarrier per stage, STAGES tiles in flight an SM), one block an SM. The question it answers: does
// the bulk copy bring the GEMVs nearer the copy rate? On the H200 (2026-12-04) it did not: the bulk
// kernel read at 0.95-2.05 TB/s where the warp kernel read at 1.31-3.75 (docs/performance.md, session
// 16). Not part of the build: compile and run by hand.
//
//   nvcc -O3 -std=c++17 -gencode arch=compute_90,code=sm_90 -o /tmp/bulk_gemv_bench bulk_gemv_bench.cu && /tmp/bulk_gemv_bench
//
// Each shape rotates over enough copies of its matrix (over 300 MB) that L2 holds none between
// calls; median of 7 runs of 200 calls, timed with CUDA events; every variant's y is compared with
// a double-precision sum on the host for one copy.
#include "../../main/cuda/skinny_gemm.cuh"
#include "bench_check.cuh"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

using B16 = __nv_bfloat16;
using namespace higgs;


// ---- baselines

__global__ void readKernel(int4 const* p, long long n, float* sink) {
    int4 acc{0, 0, 0, 0};
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        int4 v;
        asm volatile("ld.global.nc.L1::no_allocate.v4.s32 {%0, %1, %2, %3}, [%4];"
                     : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                     : "l"(p + i));
        acc.x ^= v.x;
        acc.y ^= v.y;
        acc.z ^= v.z;
        acc.w ^= v.w;
    }
    if ((acc.x ^ acc.y ^ acc.z ^ acc.w) == 0x12345678) {
        sink[0] = 1.f;
    }
}

// ---- the warp kernel: 8 warps a block, C rows a warp
template <int C, int U>
__global__ void __launch_bounds__(256) warpGemv(B16 const* w, B16 const* x, B16* y, int rows, int k) {
    int r0 = (blockIdx.x * 8 + (threadIdx.x >> 5)) * C;
    if (r0 >= rows) {
        return;
    }
    B16 const* wr[C];
#pragma unroll
    for (int c = 0; c < C; c++) {
        wr[c] = w + (long long)(r0 + c) * k;
    }
    float acc[C][1];
    float squares[1];
    zero(acc);
    squares[0] = 0.f;
    dotRowsVec<B16, 1, C, U>(wr, PlainRows<B16>{x}, acc, squares, k, 0, k, 1u);
#pragma unroll
    for (int c = 0; c < C; c++) {
        float s = warpSum(acc[c][0]);
        if ((threadIdx.x & 31) == 0) {
            y[r0 + c] = fromFloat<B16>(s);
        }
    }
}

// ---- the bulk-copy kernel
__device__ inline unsigned smemAddress(void const* p) { return static_cast<unsigned>(__cvta_generic_to_shared(p)); }

__device__ inline void barrierInit(unsigned long long* bar, unsigned count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smemAddress(bar)), "r"(count) : "memory");
}

__device__ inline void barrierExpect(unsigned long long* bar, unsigned bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smemAddress(bar)), "r"(bytes) : "memory");
}

__device__ inline void bulkLoad(void* dst, void const* src, unsigned bytes, unsigned long long* bar, unsigned long long policy) {
    asm volatile(
        "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes.L2::cache_hint [%0], [%1], %2, [%3], %4;" ::"r"(
            smemAddress(dst)),
        "l"(src), "r"(bytes), "r"(smemAddress(bar)), "l"(policy)
        : "memory");
}

__device__ inline void barrierWait(unsigned long long* bar, unsigned phase) {
    asm volatile(
        "{\n .reg .pred p;\n WAIT_%=:\n mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;\n @!p bra WAIT_%=;\n }" ::"r"(
            smemAddress(bar)),
        "r"(phase)
        : "memory");
}

__device__ inline unsigned long long evictFirst() {
    unsigned long long policy;
    asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(policy));
    return policy;
}

// One block an SM walks its share of the tiles (R consecutive rows each, contiguous in W); thread 0
// keeps STAGES tiles' bulk copies in flight. Warp w works on row w % R, slice w / R of it.
template <int R, int STAGES>
__global__ void __launch_bounds__(256) bulkGemv(B16 const* w, B16 const* x, B16* y, int rows, int k) {
    constexpr int kWarps = 8;
    constexpr int kSlices = kWarps / R;
    static_assert(kWarps % R == 0, "warps over rows");
    extern __shared__ __align__(128) unsigned char smem[];
    auto bars = reinterpret_cast<unsigned long long*>(smem);
    auto xs = reinterpret_cast<float*>(smem + 128);
    auto tiles = reinterpret_cast<B16*>(smem + 128 + ((k * 4 + 127) / 128) * 128);
    __shared__ float partial[2][R][kSlices];
    int total = rows / R;
    int t0 = (int)((long long)blockIdx.x * total / gridDim.x);
    int t1 = (int)((long long)(blockIdx.x + 1) * total / gridDim.x);
    int n = t1 - t0;
    unsigned tileBytes = (unsigned)R * k * sizeof(B16);
    unsigned long long policy = evictFirst();
    if (threadIdx.x == 0) {
        for (int s = 0; s < STAGES; s++) {
            barrierInit(&bars[s], 1);
        }
        asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
        for (int s = 0; s < STAGES && s < n; s++) {
            barrierExpect(&bars[s], tileBytes);
            bulkLoad(tiles + (size_t)s * R * k, w + (size_t)(t0 + s) * R * k, tileBytes, &bars[s], policy);
        }
    }
    for (int i = threadIdx.x; i < k; i += blockDim.x) {
        xs[i] = toFloat(x[i]);
    }
    __syncthreads();
    int warp = threadIdx.x >> 5;
    int lane = threadIdx.x & 31;
    int row = warp % R;
    int slice = warp / R;
    int from = k / kSlices * slice;
    int to = slice == kSlices - 1 ? k : from + k / kSlices;
    for (int i = 0; i < n; i++) {
        int s = i % STAGES;
        barrierWait(&bars[s], (i / STAGES) & 1);
        B16 const* wr = tiles + (size_t)s * R * k + (size_t)row * k;
        float acc = 0.f;
#pragma unroll 4
        for (int e = from + lane * 8; e < to; e += 32 * 8) {
            Vec<B16> v = *reinterpret_cast<Vec<B16> const*>(wr + e);
            float4 xa = *reinterpret_cast<float4 const*>(xs + e);
            float4 xb = *reinterpret_cast<float4 const*>(xs + e + 4);
            acc += toFloat(v.v[0]) * xa.x + toFloat(v.v[1]) * xa.y + toFloat(v.v[2]) * xa.z + toFloat(v.v[3]) * xa.w
                + toFloat(v.v[4]) * xb.x + toFloat(v.v[5]) * xb.y + toFloat(v.v[6]) * xb.z + toFloat(v.v[7]) * xb.w;
        }
        acc = warpSum(acc);
        if (lane == 0) {
            partial[i & 1][row][slice] = acc;
        }
        __syncthreads();   // stage s read by every warp; partials of tile i visible
        if (threadIdx.x == 0 && i + STAGES < n) {
            barrierExpect(&bars[s], tileBytes);
            bulkLoad(tiles + (size_t)s * R * k, w + (size_t)(t0 + i + STAGES) * R * k, tileBytes, &bars[s], policy);
        }
        if (threadIdx.x < R) {
            float sum = 0.f;
#pragma unroll
            for (int p = 0; p < kSlices; p++) {
                sum += partial[i & 1][threadIdx.x][p];
            }
            y[(size_t)(t0 + i) * R + threadIdx.x] = fromFloat<B16>(sum);
        }
    }
}

// ---- driver

float median(std::vector<float> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

template <typename F>
float usPerCall(int calls, cudaEvent_t a, cudaEvent_t b, F&& call) {
    std::vector<float> runs;
    for (int r = 0; r < 7; r++) {
        CHECK(cudaEventRecord(a));
        for (int i = 0; i < calls; i++) {
            call(i);
        }
        CHECK(cudaEventRecord(b));
        CHECK(cudaEventSynchronize(b));
        float ms;
        CHECK(cudaEventElapsedTime(&ms, a, b));
        runs.push_back(ms * 1000.f / calls);
    }
    CHECK(cudaGetLastError());
    return median(runs);
}

struct Shape {
    char const* name;
    int rows, k;
};

template <int R, int STAGES>
size_t bulkSmem(int k) {
    return 128 + ((size_t)(k * 4 + 127) / 128) * 128 + (size_t)STAGES * R * k * sizeof(B16);
}

int main() {
    int sms;
    CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    cudaDeviceProp prop;
    CHECK(cudaGetDeviceProperties(&prop, 0));
    std::printf("%s, %d SMs, L2 %d MB\n", prop.name, sms, prop.l2CacheSize >> 20);
    cudaEvent_t a, b;
    CHECK(cudaEventCreate(&a));
    CHECK(cudaEventCreate(&b));
    float* sink;
    CHECK(cudaMalloc(&sink, 4));

    size_t big = 1ull << 30;
    void *src, *dst;
    CHECK(cudaMalloc(&src, big));
    CHECK(cudaMalloc(&dst, big));
    CHECK(cudaMemset(src, 1, big));
    float copyUs = usPerCall(10, a, b, [&](int) { CHECK(cudaMemcpyAsync(dst, src, big, cudaMemcpyDeviceToDevice)); });
    float readUs = usPerCall(10, a, b, [&](int) { readKernel<<<sms * 8, 512>>>((int4 const*)src, big / 16, sink); });
    std::printf("device-to-device copy of 1 GiB: %.2f TB/s (bytes copied / time); streaming read: %.2f TB/s\n",
        big / copyUs / 1e6, big / readUs / 1e6);
    CHECK(cudaFree(dst));

    Shape shapes[] = {{"gate/up (16384 x 3072)", 16384, 3072}, {"down (3072 x 8192)", 3072, 8192},
        {"q/k/v (5120 x 3072)", 5120, 3072}, {"o-proj (3072 x 3072)", 3072, 3072}};
    for (Shape const& sh : shapes) {
        size_t bytes = (size_t)sh.rows * sh.k * sizeof(B16);
        int copies = (int)std::max<size_t>(2, (320ull << 20) / bytes + 1);
        B16* w;
        CHECK(cudaMalloc(&w, bytes * copies));
        std::vector<B16> hw((size_t)sh.rows * sh.k), hx(sh.k);
        unsigned seed = 1;
        auto rnd = [&]() {
            seed = seed * 1664525u + 1013904223u;
            return ((seed >> 8) & 0xffff) / 65536.f - 0.5f;
        };
        for (auto& v : hw) {
            v = __float2bfloat16(rnd());
        }
        for (auto& v : hx) {
            v = __float2bfloat16(rnd());
        }
        for (int c = 0; c < copies; c++) {
            CHECK(cudaMemcpy(w + (size_t)c * sh.rows * sh.k, hw.data(), bytes, cudaMemcpyHostToDevice));
        }
        B16 *x, *y;
        CHECK(cudaMalloc(&x, sh.k * sizeof(B16)));
        CHECK(cudaMalloc(&y, sh.rows * sizeof(B16)));
        CHECK(cudaMemcpy(x, hx.data(), sh.k * sizeof(B16), cudaMemcpyHostToDevice));
        std::vector<double> want(sh.rows);
        for (int r = 0; r < sh.rows; r++) {
            double s = 0;
            for (int i = 0; i < sh.k; i++) {
                s += (double)__bfloat162float(hw[(size_t)r * sh.k + i]) * __bfloat162float(hx[i]);
            }
            want[r] = s;
        }
        auto check = [&](char const* what) {
            std::vector<B16> hy(sh.rows);
            CHECK(cudaMemcpy(hy.data(), y, sh.rows * sizeof(B16), cudaMemcpyDeviceToHost));
            double worst = 0, peak = 0;
            for (int r = 0; r < sh.rows; r++) {
                worst = std::max(worst, std::abs(__bfloat162float(hy[r]) - want[r]));
                peak = std::max(peak, std::abs(want[r]));
            }
            return worst <= 1e-2 * peak + 1e-3 ? "ok" : (std::printf("  %s: max error %.3e of %.3e\n", what, worst, peak), "WRONG");
        };
        std::printf("%s, %.1f MB, %d copies\n", sh.name, bytes / 1e6, copies);
        auto report = [&](char const* what, float us) {
            std::printf("  %-40s %7.2f us  %5.2f TB/s  %s\n", what, us, bytes / us / 1e6, check(what));
        };
        auto matrix = [&](int i) { return w + (size_t)(i % copies) * sh.rows * sh.k; };
        report("warp kernel, 4 rows a warp, U=1", usPerCall(200, a, b, [&](int i) {
            warpGemv<4, 1><<<(sh.rows / 4 + 7) / 8, 256>>>(matrix(i), x, y, sh.rows, sh.k);
        }));
        report("warp kernel, 2 rows a warp, U=2", usPerCall(200, a, b, [&](int i) {
            warpGemv<2, 2><<<(sh.rows / 2 + 7) / 8, 256>>>(matrix(i), x, y, sh.rows, sh.k);
        }));
        auto bulk = [&](auto rTag, auto sTag, char const* what) {
            constexpr int R = decltype(rTag)::value;
            constexpr int S = decltype(sTag)::value;
            size_t smem = bulkSmem<R, S>(sh.k);
            if (smem > (size_t)prop.sharedMemPerBlockOptin) {
                std::printf("  %-40s (needs %zu KB of shared memory)\n", what, smem >> 10);
                return;
            }
            CHECK(cudaFuncSetAttribute(bulkGemv<R, S>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
            report(what, usPerCall(200, a, b, [&](int i) { bulkGemv<R, S><<<sms, 256, smem>>>(matrix(i), x, y, sh.rows, sh.k); }));
        };
        using I1 = std::integral_constant<int, 1>;
        using I2 = std::integral_constant<int, 2>;
        using I4 = std::integral_constant<int, 4>;
        using I8 = std::integral_constant<int, 8>;
        using I3 = std::integral_constant<int, 3>;
        using I6 = std::integral_constant<int, 6>;
        bulk(I2{}, I4{}, "bulk, 2-row tiles, 4 stages");
        bulk(I2{}, I8{}, "bulk, 2-row tiles, 8 stages");
        bulk(I4{}, I3{}, "bulk, 4-row tiles, 3 stages");
        bulk(I4{}, I4{}, "bulk, 4-row tiles, 4 stages");
        bulk(I4{}, I6{}, "bulk, 4-row tiles, 6 stages");
        bulk(I1{}, I8{}, "bulk, 1-row tiles, 8 stages");
        bulk(I8{}, I2{}, "bulk, 8-row tiles, 2 stages");
        bulk(I8{}, I3{}, "bulk, 8-row tiles, 3 stages");
        CHECK(cudaFree(w));
        CHECK(cudaFree(x));
        CHECK(cudaFree(y));
    }
    return 0;
}
