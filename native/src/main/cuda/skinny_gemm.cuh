// The skinny (few-token) GEMM primitives and the RMSNorm kernel that the dual-FFN and linear plugins
// share: warp and block sums, 16-byte weight loads past L1, the input-row readers (plain rows, or
// hidden states times an RMSNorm weight whose 1/rms is applied afterwards), the dot products of
// several weight rows with the tokens' rows (which also sum the squares of the hidden states that
// an RMSNorm needs), and the per-token path mask.
//
// The kernel here is static: each plugin's translation unit gets its own copy (the library is
// compiled without relocatable device code, and each unit registers the kernels it launches).
#pragma once

#include "plugin_common.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>

namespace higgs {

__device__ inline bool isAudio(void const* mask, bool maskIsInt, long long t) {
    return maskIsInt ? static_cast<int const*>(mask)[t] != 0 : static_cast<unsigned char const*>(mask)[t] != 0;
}

__device__ inline float warpSum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, offset);
    }
    return v;
}

__device__ inline float blockSum(float v, float* shared) {
    v = warpSum(v);
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    if (lane == 0) {
        shared[warp] = v;
    }
    __syncthreads();
    int warps = (blockDim.x + 31) >> 5;
    v = threadIdx.x < warps ? shared[threadIdx.x] : 0.f;
    if (warp == 0) {
        v = warpSum(v);
    }
    if (threadIdx.x == 0) {
        shared[0] = v;
    }
    __syncthreads();
    float total = shared[0];
    __syncthreads();
    return total;
}


// Row r of the compacted order: text tokens first, then audio tokens.
__device__ inline int sourceRow(int r, int textCount, int const* textIdx, int const* audioIdx) {
    return r < textCount ? textIdx[r] : audioIdx[r - textCount];
}

// Where block b of an RMSNorm reads its input row (src), where it writes its output row (dst), and
// whether it takes the audio path's weight:
//   reading idx lists (large path): b is the compacted row, read from the token the lists give;
//   compacting (large path, COMPACT): b is the token, written to its compacted row, whose place in
//     its path's list the block also writes, so that no compaction kernel runs before;
//   neither (small path): b is the token, in place; without a mask every row takes the text weight.
// The compacted order is the text tokens, then the audio tokens, each in token order.
struct NormRow {
    int src;
    int dst;
    bool audio;
    bool skip;   // compacting with a text count that disagrees with the mask: nothing to write in bounds
};

template <bool COMPACT>
__device__ inline NormRow normRow(int b, void const* mask, bool maskIsInt, int* textIdx, int* audioIdx,
    int textCount) {
    if constexpr (COMPACT) {
        int audioBefore = 0;   // one vote a round of blockDim.x tokens before b: every thread gets the count
        for (int base = 0; base < b; base += blockDim.x) {
            int j = base + static_cast<int>(threadIdx.x);
            audioBefore += __syncthreads_count(j < b && isAudio(mask, maskIsInt, j));
        }
        bool audio = isAudio(mask, maskIsInt, b);
        int rank = audio ? audioBefore : b - audioBefore;
        bool inBounds = audio ? rank < static_cast<int>(gridDim.x) - textCount : rank < textCount;
        if (inBounds && threadIdx.x == 0) {
            (audio ? audioIdx : textIdx)[rank] = b;
        }
        return {b, audio ? textCount + rank : rank, audio, !inBounds};
    } else {
        if (textIdx != nullptr) {
            return {sourceRow(b, textCount, textIdx, audioIdx), b, b >= textCount, false};
        }
        return {b, b, mask != nullptr && isAudio(mask, maskIsInt, b), false};
    }
}

// RMSNorm of each row with its path's weight (rows and paths as normRow says), one block per row.
template <typename T, typename NW, typename Out, bool COMPACT>
static __global__ void normKernel(T const* hidden, void const* mask, bool maskIsInt, int* textIdx,
    int* audioIdx, int textCount, NW const* textNorm, NW const* audioNorm, Out* out, int h, float eps) {
    __shared__ float shared[32];
    gridDependencyWait();
    NormRow row = normRow<COMPACT>(blockIdx.x, mask, maskIsInt, textIdx, audioIdx, textCount);
    if (row.skip) {
        return;   // the whole block: row is the same in every thread
    }
    T const* x = hidden + static_cast<long long>(row.src) * h;
    float sum = 0.f;
    for (int i = threadIdx.x; i < h; i += blockDim.x) {
        float v = toFloat(x[i]);
        sum += v * v;
    }
    float inv = rsqrtf(blockSum(sum, shared) / h + eps);
    NW const* w = row.audio ? audioNorm : textNorm;
    Out* o = out + static_cast<long long>(row.dst) * h;
    for (int i = threadIdx.x; i < h; i += blockDim.x) {
        o[i] = fromFloat<Out>(toFloat(x[i]) * inv * toFloat(w[i]));
    }
}

// Vector loads of 16 bytes when rows are aligned; element loads otherwise.
template <typename T>
struct Vec {
    static constexpr int N = 16 / sizeof(T);
    T v[N];
};

// normKernel for rows of at most kNormThreads * V 16-byte chunks: each thread loads its chunks
// once, keeps them in registers for the sum and the scaling, and writes 16 bytes at a time (the
// element loop above reads each row twice, 2 bytes a thread at a time: 0.61 ms of a 512-position
// prefill on the H200, 0.52 ms with this one).
constexpr int kNormThreads = 128;

template <typename T, typename NW, int V, bool COMPACT>
static __global__ void __launch_bounds__(kNormThreads) normVecKernel(T const* hidden, void const* mask,
    bool maskIsInt, int* textIdx, int* audioIdx, int textCount, NW const* textNorm, NW const* audioNorm,
    T* out, int h, float eps) {
    constexpr int N = Vec<T>::N;
    __shared__ float shared[32];
    gridDependencyWait();
    NormRow row = normRow<COMPACT>(blockIdx.x, mask, maskIsInt, textIdx, audioIdx, textCount);
    if (row.skip) {
        return;
    }
    int chunks = h / N;
    auto x = reinterpret_cast<Vec<T> const*>(hidden + static_cast<long long>(row.src) * h);
    Vec<T> held[V];
    float sum = 0.f;
#pragma unroll
    for (int k = 0; k < V; k++) {
        int c = threadIdx.x + k * kNormThreads;
        if (c < chunks) {
            held[k] = x[c];
#pragma unroll
            for (int e = 0; e < N; e++) {
                float v = toFloat(held[k].v[e]);
                sum += v * v;
            }
        }
    }
    float inv = rsqrtf(blockSum(sum, shared) / h + eps);
    NW const* w = row.audio ? audioNorm : textNorm;
    auto o = reinterpret_cast<Vec<T>*>(out + static_cast<long long>(row.dst) * h);
#pragma unroll
    for (int k = 0; k < V; k++) {
        int c = threadIdx.x + k * kNormThreads;
        if (c < chunks) {
            Vec<T> y;
#pragma unroll
            for (int e = 0; e < N; e++) {
                y.v[e] = fromFloat<T>(toFloat(held[k].v[e]) * inv * toFloat(w[c * N + e]));
            }
            o[c] = y;
        }
    }
}

// RMSNorm of rows rows (see normRow for the idx lists, compacting and the mask): the vector kernel
// where the rows are 16-byte aligned and short enough, the element kernel otherwise.
template <typename T, typename NW, bool COMPACT>
static void launchNorm(int rows, T const* hidden, void const* mask, bool maskIsInt, int* textIdx, int* audioIdx,
    int textCount, NW const* textNorm, NW const* audioNorm, T* out, int h, float eps, cudaStream_t stream) {
    constexpr int N = Vec<T>::N;
    bool aligned = h % N == 0 && (reinterpret_cast<uintptr_t>(hidden) | reinterpret_cast<uintptr_t>(out)) % 16 == 0;
    int perThread = (h / N + kNormThreads - 1) / kNormThreads;
    dim3 one(1, 1, 1);
    if (aligned && perThread <= 2) {
        launchDependent(kDependentManyTokens, normVecKernel<T, NW, 2, COMPACT>, rows, kNormThreads, 0, stream, one,
            hidden, mask, maskIsInt, textIdx, audioIdx, textCount, textNorm, audioNorm, out, h, eps);
    } else if (aligned && perThread <= 4) {
        launchDependent(kDependentManyTokens, normVecKernel<T, NW, 4, COMPACT>, rows, kNormThreads, 0, stream, one,
            hidden, mask, maskIsInt, textIdx, audioIdx, textCount, textNorm, audioNorm, out, h, eps);
    } else {
        launchDependent(kDependentManyTokens, normKernel<T, NW, T, COMPACT>, rows, 256, 0, stream, one,
            hidden, mask, maskIsInt, textIdx, audioIdx, textCount, textNorm, audioNorm, out, h, eps);
    }
}

// Without compacting: rows read in place (no idx lists) or through the idx lists a compaction wrote.
// Compacting: the tokens' rows into the compacted order (text tokens, then audio), textCount of
// them text, with the idx lists written on the way.
template <typename T, typename NW>
static void normRows(bool compacting, int rows, T const* hidden, void const* mask, bool maskIsInt, int* textIdx,
    int* audioIdx, int textCount, NW const* textNorm, NW const* audioNorm, T* out, int h, float eps,
    cudaStream_t stream) {
    auto launch = compacting ? launchNorm<T, NW, true> : launchNorm<T, NW, false>;
    launch(rows, hidden, mask, maskIsInt, textIdx, audioIdx, textCount, textNorm, audioNorm, out, h, eps, stream);
}

// Starts pulling bytes [p, p + bytes) of weights into L2 without waiting for them (sm_90's bulk
// prefetch; p 16-byte aligned, bytes rounded down to 16). A skinny kernel issues it before its
// gridDependencyWait: weights do not depend on the kernel before, whose last blocks (or, after the
// decode attention, whole run) leave DRAM idle meanwhile. Off unless HIGGS_TRT_PREFETCH_MB is set:
// on the H200 a batch-1 step took 2.23 ms without it, 2.24 with 4 MB, 2.29 with 12 and 2.37 with
// half the L2 (docs/performance.md, session 20).
__device__ inline void prefetchL2(void const* p, unsigned bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    bytes &= ~15u;
    if (bytes != 0) {
        asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(p), "r"(bytes) : "memory");
    }
#endif
}

// The bytes of each of `slices` weight slices of sliceBytes that a skinny kernel prefetches: all of
// them while they fit in the budget of HIGGS_TRT_PREFETCH_MB megabytes a kernel (none where it is
// unset or 0), else the same share of each. Host side.
inline unsigned prefetchShare(long long slices, long long sliceBytes) {
    static long long budget = [] {
        char const* v = std::getenv("HIGGS_TRT_PREFETCH_MB");
        return v == nullptr ? 0LL : static_cast<long long>(std::strtol(v, nullptr, 10)) << 20;
    }();
    long long total = slices * sliceBytes;
    if (budget <= 0 || total <= 0) {
        return 0;
    }
    long long share = total <= budget ? sliceBytes : sliceBytes * budget / total;
    return static_cast<unsigned>(share / 16 * 16);
}

// gridDependencyWait() unless this thread has (waited), for a kernel that waits where its first
// loads have gone out.
__device__ inline void waitOnce(bool& waited) {
    if (!waited) {
        gridDependencyWait();
        waited = true;
    }
}

// A weight chunk loaded past L1 (each weight byte is read once; L1 keeps the activations, which
// every warp reads again). Volatile, so that the compiler keeps it before a gridDependencyWait that
// follows it (an early kernel's first loads; the asm is otherwise free to move past it).
template <typename T>
__device__ inline Vec<T> loadStreaming(T const* p) {
    int4 r;
    asm volatile("ld.global.nc.L1::no_allocate.v4.s32 {%0, %1, %2, %3}, [%4];"
        : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
        : "l"(p));
    Vec<T> v;
    static_assert(sizeof(v) == sizeof(r), "16-byte chunks");
    memcpy(&v, &r, sizeof r);
    return v;
}

// The input rows of a skinny GEMM, read N elements (one 16-byte weight chunk's worth) at a time as
// FP32: the activations act [tokens, n] as they are (in the weights' type), or the hidden states
// [tokens, n] times the path's RMSNorm weight (the norm's 1/rms is applied to the dot products
// afterwards, so the normalised input is never written out). prepare() reads what all tokens share
// at a chunk, load() one token's chunk and adds the squares of its hidden states to squares (the
// norm's sum, found on the way: a warp that reads a whole row has it whole), at() one element.
template <typename T>
struct PlainRows {
    T const* x;

    struct Shared {};

    template <int N>
    __device__ inline Shared prepare(int) const {
        return {};
    }

    template <int N>
    __device__ inline void load(Shared, int t, int n, int i, float (&v)[N], float&) const {
        static_assert(N == Vec<T>::N, "one input chunk per weight chunk");
        Vec<T> xv = *reinterpret_cast<Vec<T> const*>(x + static_cast<long long>(t) * n + i);
#pragma unroll
        for (int e = 0; e < N; e++) {
            v[e] = toFloat(xv.v[e]);
        }
    }

    __device__ inline float at(int t, int n, int i, float&) const { return toFloat(x[static_cast<long long>(t) * n + i]); }
};

template <typename T, typename NW>
struct NormWeightedRows {
    T const* hidden;
    NW const* norm;

    template <int N>
    struct Weights {
        float w[N];
    };
    using Shared = Weights<Vec<T>::N>;

    template <int N>
    __device__ inline Shared prepare(int i) const {
        Shared s;
        if constexpr (sizeof(NW) == sizeof(T)) {
            Vec<NW> nv = *reinterpret_cast<Vec<NW> const*>(norm + i);
#pragma unroll
            for (int e = 0; e < N; e++) {
                s.w[e] = toFloat(nv.v[e]);
            }
        } else {
            // FP32 norm weights beside 16-bit hidden states: N floats, N / 4 vector loads
#pragma unroll
            for (int e = 0; e < N; e += 4) {
                float4 q = *reinterpret_cast<float4 const*>(norm + i + e);
                s.w[e] = q.x;
                s.w[e + 1] = q.y;
                s.w[e + 2] = q.z;
                s.w[e + 3] = q.w;
            }
        }
        return s;
    }

    template <int N>
    __device__ inline void load(Shared const& s, int t, int n, int i, float (&v)[N], float& squares) const {
        static_assert(N == Vec<T>::N, "one hidden chunk per weight chunk");
        Vec<T> hv = *reinterpret_cast<Vec<T> const*>(hidden + static_cast<long long>(t) * n + i);
#pragma unroll
        for (int e = 0; e < N; e++) {
            float h = toFloat(hv.v[e]);
            squares += h * h;
            v[e] = h * s.w[e];
        }
    }

    __device__ inline float at(int t, int n, int i, float& squares) const {
        float h = toFloat(hidden[static_cast<long long>(t) * n + i]);
        squares += h * h;
        return h * toFloat(norm[i]);
    }
};

// acc_r[t] += w_r[from, to) . x_t[from, to) for the R weight rows w_r and the tokens t < NT in
// tokenSet; every row of x has n elements; squares[t] gathers what X adds (the lane's share of the
// sum of squares of x_t[from, to) for an RMSNorm). Each lane first issues its next U chunks of every
// row (U * R loads of 16 bytes in flight), then multiplies them; each input chunk it loads serves all
// R rows. Where waited points at false, the lane's first weight loads are issued before its
// gridDependencyWait (weights do not depend on the kernel before), and *waited is set.
template <typename T, int NT, int R, int U, typename X>
__device__ inline void dotRowsVec(T const* const (&w)[R], X const& x, float (&acc)[R][NT], float (&squares)[NT], int n,
    int from, int to, unsigned tokenSet, bool* waited = nullptr) {
    constexpr int N = Vec<T>::N;
    int lane = threadIdx.x & 31;
    for (int base = from + lane * N; base < to; base += 32 * N * U) {
        Vec<T> chunk[R][U];
#pragma unroll
        for (int k = 0; k < U; k++) {
            int i = base + k * 32 * N;
            if (i < to) {
#pragma unroll
                for (int r = 0; r < R; r++) {
                    chunk[r][k] = loadStreaming(w[r] + i);
                }
            }
        }
        if (waited != nullptr) {
            waitOnce(*waited);
        }
#pragma unroll
        for (int k = 0; k < U; k++) {
            int i = base + k * 32 * N;
            if (i >= to) {
                break;
            }
            auto shared = x.template prepare<N>(i);
#pragma unroll
            for (int t = 0; t < NT; t++) {
                if (tokenSet & (1u << t)) {
                    float xv[N];
                    x.template load<N>(shared, t, n, i, xv, squares[t]);
#pragma unroll
                    for (int r = 0; r < R; r++) {
                        float s = 0.f;
#pragma unroll
                        for (int e = 0; e < N; e++) {
                            s += toFloat(chunk[r][k].v[e]) * xv[e];
                        }
                        acc[r][t] += s;
                    }
                }
            }
        }
    }
}

// The same for rows that are not 16-byte aligned: element loads.
template <typename T, int NT, int R, typename X>
__device__ inline void dotRowsScalar(T const* const (&w)[R], X const& x, float (&acc)[R][NT], float (&squares)[NT],
    int n, int from, int to, unsigned tokenSet, bool* waited = nullptr) {
    if (waited != nullptr) {
        waitOnce(*waited);
    }
    int lane = threadIdx.x & 31;
#pragma unroll 4
    for (int i = from + lane; i < to; i += 32) {
#pragma unroll
        for (int t = 0; t < NT; t++) {
            if (tokenSet & (1u << t)) {
                float xv = x.at(t, n, i, squares[t]);
#pragma unroll
                for (int r = 0; r < R; r++) {
                    acc[r][t] += toFloat(w[r][i]) * xv;
                }
            }
        }
    }
}

template <typename T, bool VEC, int NT, int R, int U, typename X>
__device__ inline void dotRows(T const* const (&w)[R], X const& x, float (&acc)[R][NT], float (&squares)[NT], int n,
    int from, int to, unsigned tokenSet, bool* waited = nullptr) {
    if (VEC) {
        dotRowsVec<T, NT, R, U>(w, x, acc, squares, n, from, to, tokenSet, waited);
    } else {
        dotRowsScalar<T, NT, R>(w, x, acc, squares, n, from, to, tokenSet, waited);
    }
}

__device__ inline unsigned audioSet(void const* mask, bool maskIsInt, int tokens) {
    unsigned set = 0;
    for (int t = 0; t < tokens; t++) {
        if (isAudio(mask, maskIsInt, t)) {
            set |= 1u << t;
        }
    }
    return set;
}

// The end of an early kernel's dot products (dots(audioSet) computes them all), which began before
// its gridDependencyWait on the paths that the mask gave then: waits where no load of this thread
// did, reads the mask again and computes again where the guess was wrong (the mask is an engine
// input, so it should never be).
template <typename Dots>
__device__ inline void settleGuess(bool& waited, unsigned guess, void const* mask, bool maskIsInt, int tokens,
    Dots&& dots) {
    waitOnce(waited);
    unsigned actual = audioSet(mask, maskIsInt, tokens);
    if (actual != guess) {
        dots(actual);
    }
}

} // namespace higgs
