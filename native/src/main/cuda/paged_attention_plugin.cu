// Causal self-attention over a paged KV cache as a TensorRT 10 IPluginV3 (HiggsPagedAttention):
// the packed tokens of many sequences in one call, some in prefill and some decoding. Each token
// carries its absolute position and the row of the block table of its sequence; RoPE is applied
// on the device from the position, the token's new K and V are written in place into the cache,
// and each token attends to positions 0..position of its own sequence (which, for a prefill
// chunk, includes the chunk's earlier tokens: they are written first).
//
//   inputs   0 q [T, nH * d]             FLOAT, HALF or BF16 (the compute type)
//            1 kv [T, 2 * nKV * d]        k heads then v heads, the compute type
//            (with fused_qkv = 1 one input in their place, qkv [T, (nH + 2 * nKV) * d]: each
//            token's q, k and v heads in one row, as one projection GEMM writes them; the other
//            inputs then move one index down)
//            2 positions INT32 [T]
//            3 slots INT32 [T]            the row of block_tables that holds the token's blocks
//            4 block_tables INT32 [S, M]  physical block of each logical block of a sequence
//            5 inv_freq FLOAT [d / 2]     RoPE's inverse frequencies (llama3 scaling applied)
//            6 kv_cache [N, 2, nKV, B, d] the compute type; block n holds positions of one
//                                         sequence, keys then values. Written in place.
//   output   0 attention [T, nH * d]      the compute type, before the output projection
//   fields   num_heads, num_kv_heads, head_dim, block_size (INT32); consecutive (INT32 0 or 1,
//            default 0): 1 promises that each sequence's tokens of a call lie together in the
//            packing at consecutive positions, as the Java runtime packs them. A call with one
//            sequence then goes to the tensor-core prefill kernel alone: no per-token grid is
//            launched to find the tiles it leaves (0.13 ms of kernels and 28 launch gaps of a
//            512-position prefill on the H200). fused_qkv (INT32 0 or 1, default 0), above.
//
// The host side (Java) checks positions, slots and block ids before each call; the kernels skip a
// token whose block lookup falls outside the cache rather than write out of bounds.
//
// Kernels, all on the enqueue stream and without host synchronisation (so a call can be captured
// in a CUDA graph):
//   writeKv   one block per (token, kv head): rotates k, writes k and v at the token's slot.
//   attend    one block per (token, kv head, split): the G = nH / nKV query heads of that kv head
//             (rotated and scaled in shared memory) against a contiguous range of the token's
//             keys, in tiles of 128 keys: a thread scores one key for all G heads, an online
//             softmax over the tiles, then each thread sums the weighted value rows for its
//             output elements; the partial (max, sum, weighted values) goes to the workspace, or,
//             when a call has one split, the normalised attention to the output.
//             Decode steps split each token's keys over up to 16 blocks (flash-decoding), so that
//             a few tokens still fill the GPU; prefill tokens take one split each.
//   attendMma (16-bit types) the prefill tokens in tiles on tensor cores, flash-attention
//             style (see attendMmaKernel), writing the output; attend skips the tokens it takes.
//   combine   (more than one split) one block per (token, head): merges the splits' partials
//             into the output.
// A decode call (as many tokens as block-table rows: each sequence's one new token) launches one
// kernel: the token's own K/V written by one block of its splits, the splits (up to 8) of a token one
// thread-block cluster that merges its partials in distributed shared memory. With few tokens (at
// least kDecodeRowsSplits splits each) that kernel is decodeKernel, lanes over the head dimension,
// one memory trip for a round of keys, in blocks of 512 threads where the call's clusters fit on the
// GPU at once (HIGGS_TRT_DECODE_WIDE=0: always 128); otherwise attend in its decode mode.
// HIGGS_TRT_FUSED_DECODE=0 or higgs_paged_attention_set_fused_decode(0) turns both off (writeKv,
// attend and combine, as for other calls); HIGGS_TRT_DECODE_KERNEL=0 leaves every decode call to
// attend. Both decode kernels may be launched as dependent launches (plugin_common.cuh).
#include "trt_plugin_abi.h"
#include "plugin_common.cuh"

#include <cooperative_groups.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

using namespace nvinfer1;
namespace cg = cooperative_groups;

namespace {

constexpr char kPluginName[] = "HiggsPagedAttention";
constexpr char kPluginVersion[] = "1";
constexpr int kInputs = 7;
constexpr int kFields = 6;
constexpr int kThreads = 128;
constexpr int kMaxGroup = 8;
constexpr int kMaxHeadDim = 256;
constexpr int kMaxPerThread = kMaxHeadDim / kThreads;
constexpr int kAcc = 8 > kMaxPerThread ? 8 : kMaxPerThread;   // accumulators a thread keeps per head
constexpr int kMaxSplits = 16;
constexpr int kMaxClusterSplits = 8;   // the portable cluster size, and the most splits of a decode call
constexpr int kTargetBlocks = 264;   // about two blocks per SM of an H100/H200
constexpr size_t kAlign = 256;

higgs::ErrorSlot gErrors;
std::atomic<long long> gLivePlugins{0};
std::atomic<long long> gEnqueues{0};
// A kernel choice that is on unless the environment variable name is set to 0.
bool onUnlessZero(char const* name) {
    char const* v = std::getenv(name);
    return v == nullptr || v[0] != '0';
}

// the choices below are also set from the C entry points
// the tensor-core prefill kernel (attendMmaKernel)
std::atomic<bool> gTiledPrefill{onUnlessZero("HIGGS_TRT_TILED_PREFILL")};
// decode calls in one kernel (attendKernel's decode mode, or decodeKernel)
std::atomic<bool> gFusedDecode{onUnlessZero("HIGGS_TRT_FUSED_DECODE")};
// those calls with lanes over the head dimension (decodeKernel) where it takes the head size and the tokens are few
std::atomic<bool> gDecodeKernel{onUnlessZero("HIGGS_TRT_DECODE_KERNEL")};
// the most splits (one cluster) decodeKernel gives a token: HIGGS_TRT_DECODE_CLUSTER, 1 to 8
int clampDecodeCluster(int splits) { return splits < 1 ? 1 : splits > kMaxClusterSplits ? kMaxClusterSplits : splits; }
int decodeClusterSetting() {
    char const* v = std::getenv("HIGGS_TRT_DECODE_CLUSTER");
    return clampDecodeCluster(v == nullptr ? kMaxClusterSplits : std::atoi(v));
}
std::atomic<int> gDecodeCluster{decodeClusterSetting()};
// decodeKernel in blocks of 512 threads where the call's blocks are one wave (wideDecode)
std::atomic<int> gDecodeWide{onUnlessZero("HIGGS_TRT_DECODE_WIDE") ? 1 : 0};

using higgs::fromFloat;
using higgs::toFloat;

struct Geometry {
    int heads;
    int kvHeads;
    int headDim;
    int blockSize;
    int maxBlocks;   // M, the block table's width
    int numBlocks;   // N, the cache's blocks
    int qStride;     // elements from one token's q row to the next: nH * d, or (nH + 2 nKV) * d fused
    int kvStride;    // the same for the kv rows
    int blockShift;  // log2 of blockSize where it is a power of two (a shift, not a division, a key), else -1
};

// The geometry of rows apart (fused false) or of q, k and v in one row (fused true).
inline Geometry geometryOf(int heads, int kvHeads, int headDim, int blockSize, int maxBlocks, int numBlocks, bool fused) {
    int qkv = (heads + 2 * kvHeads) * headDim;
    int shift = -1;
    for (int s = 0; s < 31; s++) {
        if ((1 << s) == blockSize) {
            shift = s;
        }
    }
    return Geometry{heads, kvHeads, headDim, blockSize, maxBlocks, numBlocks, fused ? qkv : heads * headDim,
        fused ? qkv : 2 * kvHeads * headDim, shift};
}

// The physical block of position pos of the sequence in table row slot, or -1 outside the cache.
__device__ inline int physicalBlock(int const* tables, Geometry g, int slot, int pos) {
    int logical = g.blockShift >= 0 ? pos >> g.blockShift : pos / g.blockSize;
    if (pos < 0 || logical >= g.maxBlocks) {
        return -1;
    }
    int block = tables[static_cast<long long>(slot) * g.maxBlocks + logical];
    return block >= 0 && block < g.numBlocks ? block : -1;
}

// sin and cos of a rotary angle (|angle| well under 2^23): the angle reduced to [-pi, pi] by two
// fused multiply-adds with 2 pi split in two floats, then the fast hardware sine and cosine, whose
// error there is about 2^-21. sincosf's full range reduction took 3.4 us of the tensor-core prefill
// kernel's 44 at 512 positions (its rows' angles are computed before the first key tile).
__device__ inline void ropeSinCos(float angle, float* s, float* c) {
    constexpr float kTwoPiHi = 6.28318548202514648f;     // 2 pi rounded to a float
    constexpr float kTwoPiLo = -1.7484556025237907e-7f;   // 2 pi - kTwoPiHi
    float k = rintf(angle * 0.159154943091895336f);
    float r = fmaf(-k, kTwoPiHi, angle);
    r = fmaf(-k, kTwoPiLo, r);
    __sincosf(r, s, c);
}

// 1 / the softmax's sum, 0 for a row that saw no key (its output is zeros, not NaN).
__device__ inline float inverseSum(float sum) { return sum > 0.f ? 1.f / sum : 0.f; }

// Position pos's slot in its block.
__device__ inline int inBlock(Geometry g, int pos) {
    return g.blockShift >= 0 ? pos & (g.blockSize - 1) : pos % g.blockSize;
}

// Elements from a key's row in the cache to its value's.
__device__ inline long long valuePlane(Geometry g) {
    return static_cast<long long>(g.kvHeads) * g.blockSize * g.headDim;
}

// Element offset of (block, k or v, kv head, slot in block) in the cache.
__device__ inline long long cacheRow(Geometry g, int block, int kOrV, int kvHead, int inBlock) {
    return ((((static_cast<long long>(block) * 2 + kOrV) * g.kvHeads + kvHead) * g.blockSize) + inBlock) * g.headDim;
}

// Token t's kv head h: k rotated to position pos into kOut, v copied into vOut; threads first,
// first + stride, ... each take pairs of elements.
template <typename T>
__device__ inline void writeRotatedKv(T const* kv, int t, int h, int pos, float const* invFreq, T* kOut, T* vOut,
    Geometry g, int first, int stride) {
    int d = g.headDim;
    int half = d / 2;
    T const* k = kv + static_cast<long long>(t) * g.kvStride + static_cast<long long>(h) * d;
    T const* v = k + static_cast<long long>(g.kvHeads) * d;
    for (int i = first; i < half; i += stride) {
        float s;
        float c;
        sincosf(static_cast<float>(pos) * invFreq[i], &s, &c);
        float x1 = toFloat(k[i]);
        float x2 = toFloat(k[i + half]);
        kOut[i] = fromFloat<T>(x1 * c - x2 * s);
        kOut[i + half] = fromFloat<T>(x2 * c + x1 * s);
        vOut[i] = v[i];
        vOut[i + half] = v[i + half];
    }
}

template <typename T>
__global__ void writeKvKernel(T const* kv, int const* positions, int const* slots, int const* tables,
    float const* invFreq, T* cache, Geometry g) {
    higgs::gridDependencyWait();
    int t = blockIdx.x;
    int h = blockIdx.y;
    int pos = positions[t];
    int block = physicalBlock(tables, g, slots[t], pos);
    if (block >= 0) {
        writeRotatedKv(kv, t, h, pos, invFreq, cache + cacheRow(g, block, 0, h, pos % g.blockSize),
            cache + cacheRow(g, block, 1, h, pos % g.blockSize), g, static_cast<int>(threadIdx.x), static_cast<int>(blockDim.x));
    }
}

struct Partials {
    float* acc;   // [T, nH, splits, d]
    float* max;   // [T, nH, splits]
    float* sum;   // [T, nH, splits]
};

// Loads 8 consecutive elements as floats (one 16-byte load for 2-byte types, two for float).
__device__ inline void load8(float const* p, float* f) {
    float4 a = reinterpret_cast<float4 const*>(p)[0];
    float4 b = reinterpret_cast<float4 const*>(p)[1];
    f[0] = a.x; f[1] = a.y; f[2] = a.z; f[3] = a.w; f[4] = b.x; f[5] = b.y; f[6] = b.z; f[7] = b.w;
}

template <typename T>
__device__ inline void load8(T const* p, float* f) {
    uint4 raw = *reinterpret_cast<uint4 const*>(p);
    T const* v = reinterpret_cast<T const*>(&raw);
#pragma unroll
    for (int i = 0; i < 8; i++) {
        f[i] = toFloat(v[i]);
    }
}

// The maximum (or sum) over the block of one value per thread for each of the group's heads;
// every thread gets the results. red holds kThreads / 32 values per head.
template <bool MAX>
__device__ inline void blockReduce(float* v, int group, float (*red)[kThreads / 32]) {
    int warp = threadIdx.x >> 5;
    int lane = threadIdx.x & 31;
#pragma unroll
    for (int gi = 0; gi < kMaxGroup; gi++) {
        if (gi < group) {
            float x = v[gi];
            for (int offset = 16; offset > 0; offset >>= 1) {
                float o = __shfl_xor_sync(0xffffffffu, x, offset);
                x = MAX ? fmaxf(x, o) : x + o;
            }
            if (lane == 0) {
                red[gi][warp] = x;
            }
        }
    }
    __syncthreads();
#pragma unroll
    for (int gi = 0; gi < kMaxGroup; gi++) {
        if (gi < group) {
            float x = red[gi][0];
            for (int w = 1; w < kThreads / 32; w++) {
                x = MAX ? fmaxf(x, red[gi][w]) : x + red[gi][w];
            }
            v[gi] = x;
        }
    }
    __syncthreads();
}

// Prefill on tensor cores (HIGGS_TRT_TILED_PREFILL=0 or higgs_paged_attention_set_tiled(0) turns it off;
// 16-bit types, head size 64 or 128): a block takes mmaTileTokens consecutive packed tokens of one
// sequence at consecutive positions and the kv head's query heads, one warp for 16 tokens of one
// query head, and walks their keys in tiles of kMmaKeys held in shared memory: S = Q K^T and O += P V
// as mma.sync m16n8k16 products, an online softmax in registers (flash attention). Tiles that are
// not one sequence at consecutive positions are left to attendKernel, which skips the others.
constexpr int kMmaKeys = 64;
constexpr long long kMmaMinTokens = 16;

// Rows of 16 tokens a block takes for each query head: blocks of 4 to 8 warps.
template <int GROUP>
__host__ __device__ constexpr int mmaRows() { return GROUP <= 2 ? 4 : GROUP <= 4 ? 2 : 1; }

template <int GROUP>
__host__ __device__ constexpr int mmaTileTokens() { return 16 * mmaRows<GROUP>(); }

// Whether tokens [t0, t0 + n) are one sequence at consecutive positions; every thread of the block
// calls it (each checks some of the tokens, then the block votes), so a block that leaves the tile
// to the other kernel waits one memory round trip, not one per token.
__device__ inline bool uniformTile(int const* positions, int const* slots, int t0, int n) {
    bool broken = false;
    for (int i = 1 + static_cast<int>(threadIdx.x); i < n; i += blockDim.x) {
        broken |= slots[t0 + i] != slots[t0] || positions[t0 + i] != positions[t0] + i;
    }
    return __syncthreads_or(broken) == 0;
}

// The splits of one token and kv head, a thread-block cluster, merge their partials: each block
// holds its heads' softmax max and sum and its weighted values (values[group * d], unnormalised) in
// shared memory; block r of the cluster writes the r-th share of the group * d outputs from all of
// them. Every thread of every block of the cluster calls it.
template <typename T>
__device__ inline void mergeCluster(float* values, float* blockMax, float* blockSum, int group, int d, T* output) {
    cg::cluster_group cluster = cg::this_cluster();
    cluster.sync();   // every block's partial is in its shared memory
    int ranks = static_cast<int>(cluster.num_blocks());
    int n = group * d;
    int share = (n + ranks - 1) / ranks;
    int first = static_cast<int>(cluster.block_rank()) * share;
    int last = min(n, first + share);
    for (int e = first + static_cast<int>(threadIdx.x); e < last; e += blockDim.x) {
        int gi = e / d;
        float best = -INFINITY;
        for (int r = 0; r < ranks; r++) {
            best = fmaxf(best, *cluster.map_shared_rank(blockMax + gi, r));
        }
        float total = 0.f;
        float v = 0.f;
        for (int r = 0; r < ranks; r++) {
            float m = *cluster.map_shared_rank(blockMax + gi, r);
            if (m != -INFINITY) {
                float w = expf(m - best);
                total += *cluster.map_shared_rank(blockSum + gi, r) * w;
                v += *cluster.map_shared_rank(values + e, r) * w;
            }
        }
        output[e] = fromFloat<T>(v * inverseSum(total));
    }
    cluster.sync();   // no block leaves while another still reads its shared memory
}

// Token t's query heads of kv head kvHead (group of them), rotated to pos and scaled, into qs
// [group][d]; the block's threads take pairs of elements in turn.
template <typename T>
__device__ inline void rotateQuery(T const* q, Geometry g, int t, int kvHead, int group, int pos, float const* invFreq,
    float scale, float* qs) {
    int d = g.headDim;
    int half = d / 2;
    T const* qt = q + static_cast<long long>(t) * g.qStride + static_cast<long long>(kvHead) * group * d;
    for (int e = threadIdx.x; e < group * half; e += blockDim.x) {
        int gi = e / half;
        int i = e % half;
        float s;
        float c;
        sincosf(static_cast<float>(pos) * invFreq[i], &s, &c);
        float x1 = toFloat(qt[gi * d + i]);
        float x2 = toFloat(qt[gi * d + i + half]);
        qs[gi * d + i] = (x1 * c - x2 * s) * scale;
        qs[gi * d + i + half] = (x2 * c + x1 * s) * scale;
    }
}

// Split split's share [start, end) of a context of positions: the splits in use are as many as
// there are units of unit keys (so none is shorter than one), at most splits; the rest get none.
struct KeyRange {
    int start;
    int end;
};

__device__ inline KeyRange splitRange(int context, int splits, int split, int unit) {
    int used = min(splits, (context + unit - 1) / unit);
    int chunk = (context + used - 1) / used;
    int start = split * chunk;
    return {start, split < used ? min(context, start + chunk) : start};
}

// In a decode call, the block whose range holds the token's own position writes its rotated K and V
// there (no other token of the call reads that position); the caller's barrier then shows them to
// the block's loads.
template <typename T>
__device__ inline void writeOwnKv(T const* kv, int t, int kvHead, int pos, int slot, KeyRange keys, int const* tables,
    float const* invFreq, T* cache, Geometry g) {
    if (keys.start <= pos && pos < keys.end) {
        int block = physicalBlock(tables, g, slot, pos);
        if (block >= 0) {
            writeRotatedKv(kv, t, kvHead, pos, invFreq, cache + cacheRow(g, block, 0, kvHead, pos % g.blockSize),
                cache + cacheRow(g, block, 1, kvHead, pos % g.blockSize), g, static_cast<int>(threadIdx.x),
                static_cast<int>(blockDim.x));
        }
    }
}

// Keys in tiles of kThreads: each thread scores one key against the group's heads, the tile's
// softmax weights go to shared memory, then each thread accumulates the weighted values of its
// output elements over the tile's keys (reading each value row once, coalesced).
//
// A decode call (as many tokens as block-table rows: each sequence's one new token) runs this
// kernel alone, with decode != 0: the block whose keys hold the token's own position rotates and
// writes its K and V first (no other token of a decode call reads that position, so writeKv is not
// launched), and the splits of a token are one thread-block cluster that merges their partials in
// distributed shared memory (mergeCluster; no partials in the workspace, no combine kernel). That
// launch may be a dependent launch (plugin_common.cuh): everything here reads the q/k/v just written.
template <typename T, int GROUP>
__global__ void __launch_bounds__(kThreads) attendKernel(T const* q, T const* kv, int const* positions, int const* slots,
    int const* tables, float const* invFreq, T* cache, Geometry g, float scale, int splits, Partials out,
    int tiledTokens, T* output, int decode) {
    __shared__ __align__(16) float qs[kMaxGroup * kMaxHeadDim];   // after the keys (decode): the block's weighted values
    __shared__ float ps[kMaxGroup][kThreads];
    __shared__ long long valueRows[kThreads];
    __shared__ float red[kMaxGroup][kThreads / 32];
    __shared__ float merged[kThreads * 8 * GROUP];   // keyGroups x group x d at most
    __shared__ float inverseSums[kMaxGroup];
    __shared__ float blockMax[kMaxGroup];   // the block's softmax max and sum a head, for the cluster's merge
    __shared__ float blockSum[kMaxGroup];
    higgs::gridDependencyWait();

    int t = blockIdx.x;
    int kvHead = blockIdx.y;
    int split = blockIdx.z;
    int d = g.headDim;
    constexpr int group = GROUP;   // query heads per kv head, fixed per instantiation
    int pos = positions[t];
    int slot = slots[t];
    int tid = threadIdx.x;
    if (tiledTokens > 0) {
        int t0 = t / mmaTileTokens<GROUP>() * mmaTileTokens<GROUP>();
        if (uniformTile(positions, slots, t0, min(mmaTileTokens<GROUP>(), tiledTokens - t0))) {
            return;   // attendMmaKernel's
        }
    }

    rotateQuery(q, g, t, kvHead, group, pos, invFreq, scale, qs);
    __syncthreads();

    // this block's share of the token's keys: no split shorter than a tile
    KeyRange keys = splitRange(pos + 1, splits, split, kThreads);
    int start = keys.start;
    int end = keys.end;
    if (decode) {
        writeOwnKv(kv, t, kvHead, pos, slot, keys, tables, invFreq, cache, g);
        __syncthreads();   // the block's own writes are then visible to its loads below
    }

    // value accumulation: with d % 8 == 0, d / 8 threads cover a row, 8 elements each, and the
    // block's kThreads / (d / 8) groups of them take the tile's keys in turn (16-byte loads);
    // otherwise a thread takes elements tid, tid + kThreads, ... of every key
    bool vectors = d % 8 == 0;
    int rowThreads = vectors ? d / 8 : 0;
    int keyGroups = vectors ? kThreads / rowThreads : 1;
    int part = vectors ? tid % rowThreads : 0;
    int keyGroup = vectors ? tid / rowThreads : 0;
    float m[kMaxGroup];
    float l[kMaxGroup];
    float acc[kMaxGroup][kAcc];
#pragma unroll
    for (int gi = 0; gi < kMaxGroup; gi++) {
        m[gi] = -INFINITY;
        l[gi] = 0.f;
#pragma unroll
        for (int r = 0; r < kAcc; r++) {
            acc[gi][r] = 0.f;
        }
    }
    for (int tile = start; tile < end; tile += kThreads) {
        int j = tile + tid;
        float sc[kMaxGroup];
#pragma unroll
        for (int gi = 0; gi < kMaxGroup; gi++) {
            sc[gi] = -INFINITY;
        }
        int block = j < end ? physicalBlock(tables, g, slot, j) : -1;
        if (block >= 0) {
            T const* kp = cache + cacheRow(g, block, 0, kvHead, j % g.blockSize);
            valueRows[tid] = cacheRow(g, block, 1, kvHead, j % g.blockSize);
#pragma unroll
            for (int gi = 0; gi < kMaxGroup; gi++) {
                sc[gi] = gi < group ? 0.f : -INFINITY;
            }
            if (vectors) {
#pragma unroll 4
                for (int e = 0; e < d; e += 8) {
                    float kf[8];
                    load8(kp + e, kf);
#pragma unroll
                    for (int gi = 0; gi < kMaxGroup; gi++) {
                        if (gi < group) {
                            float const* qg = qs + gi * d + e;
                            float s = sc[gi];
#pragma unroll
                            for (int i = 0; i < 8; i++) {
                                s += qg[i] * kf[i];
                            }
                            sc[gi] = s;
                        }
                    }
                }
            } else {
                for (int e = 0; e < d; e++) {
                    float kf = toFloat(kp[e]);
#pragma unroll
                    for (int gi = 0; gi < kMaxGroup; gi++) {
                        if (gi < group) {
                            sc[gi] += qs[gi * d + e] * kf;
                        }
                    }
                }
            }
        } else {
            valueRows[tid] = -1;
        }
        float tileMax[kMaxGroup];
#pragma unroll
        for (int gi = 0; gi < kMaxGroup; gi++) {
            tileMax[gi] = sc[gi];
        }
        blockReduce<true>(tileMax, group, red);
        float p[kMaxGroup];
#pragma unroll
        for (int gi = 0; gi < kMaxGroup; gi++) {
            if (gi < group) {
                float next = fmaxf(m[gi], tileMax[gi]);
                float correction = m[gi] == -INFINITY ? 0.f : expf(m[gi] - next);
                p[gi] = block >= 0 ? expf(sc[gi] - next) : 0.f;
                ps[gi][tid] = p[gi];
                l[gi] *= correction;
#pragma unroll
                for (int r = 0; r < kAcc; r++) {
                    acc[gi][r] *= correction;
                }
                m[gi] = next;
            }
        }
        blockReduce<false>(p, group, red);   // also publishes ps and valueRows to the block
#pragma unroll
        for (int gi = 0; gi < kMaxGroup; gi++) {
            if (gi < group) {
                l[gi] += p[gi];
            }
        }
        int keys = min(kThreads, end - tile);
        if (vectors) {
#pragma unroll 4
            for (int kk = keyGroup; kk < keys; kk += keyGroups) {
                long long row = valueRows[kk];
                if (row >= 0) {
                    float vf[8];
                    load8(cache + row + part * 8, vf);
#pragma unroll
                    for (int gi = 0; gi < kMaxGroup; gi++) {
                        if (gi < group) {
                            float w = ps[gi][kk];
#pragma unroll
                            for (int i = 0; i < 8; i++) {
                                acc[gi][i] += w * vf[i];
                            }
                        }
                    }
                }
            }
        } else {
#pragma unroll
            for (int r = 0; r < kAcc; r++) {
                int e = tid + r * kThreads;
                if (e < d) {
                    for (int kk = 0; kk < keys; kk++) {
                        long long row = valueRows[kk];
                        float v = row >= 0 ? toFloat(cache[row + e]) : 0.f;
#pragma unroll
                        for (int gi = 0; gi < kMaxGroup; gi++) {
                            if (gi < group) {
                                acc[gi][r] += ps[gi][kk] * v;
                            }
                        }
                    }
                }
            }
        }
        __syncthreads();
    }
    higgs::allowDependents();
    // with one split the block writes the attention itself (no combine): the sums are the whole softmax's
    bool direct = splits == 1;
    bool clustered = decode && !direct;
    if (tid == 0) {
#pragma unroll
        for (int gi = 0; gi < kMaxGroup; gi++) {
            if (gi < group) {
                inverseSums[gi] = inverseSum(l[gi]);
                blockMax[gi] = m[gi];
                blockSum[gi] = l[gi];
            }
        }
    }
    // the key groups' sums of each output element, added in shared memory (vector layout only)
    if (vectors) {
#pragma unroll
        for (int gi = 0; gi < kMaxGroup; gi++) {
            if (gi < group) {
#pragma unroll
                for (int i = 0; i < 8; i++) {
                    merged[(keyGroup * group + gi) * d + part * 8 + i] = acc[gi][i];
                }
            }
        }
    }
    __syncthreads();
    long long firstHead = static_cast<long long>(t) * g.heads + kvHead * group;
    // element e of head gi's weighted values: to the output, to this block's shared memory for the
    // cluster's merge, or to the workspace's partials for the combine kernel
    auto emit = [&](int gi, int e, float v) {
        if (direct) {
            output[(firstHead + gi) * d + e] = fromFloat<T>(v * inverseSums[gi]);
        } else if (clustered) {
            qs[gi * d + e] = v;   // qs is no longer read: the key loop ended on a barrier
        } else {
            out.acc[((firstHead + gi) * splits + split) * d + e] = v;
        }
    };
    if (vectors) {
        for (int e = tid; e < group * d; e += kThreads) {
            int gi = e / d;
            float v = 0.f;
            for (int kg = 0; kg < keyGroups; kg++) {
                v += merged[(kg * group + gi) * d + e % d];
            }
            emit(gi, e % d, v);
        }
    } else {
#pragma unroll
        for (int gi = 0; gi < kMaxGroup; gi++) {
            if (gi < group) {
#pragma unroll
                for (int r = 0; r < kAcc; r++) {
                    int e = tid + r * kThreads;
                    if (e < d) {
                        emit(gi, e, acc[gi][r]);
                    }
                }
            }
        }
    }
    if (clustered) {
        mergeCluster(qs, blockMax, blockSum, group, d, output + firstHead * d);
    } else if (tid == 0 && !direct) {
#pragma unroll
        for (int gi = 0; gi < kMaxGroup; gi++) {
            if (gi < group) {
                long long row = (firstHead + gi) * splits + split;
                out.max[row] = m[gi];
                out.sum[row] = l[gi];
            }
        }
    }
}

// A decode call's attention with lanes over the head dimension (decodeKernel; HIGGS_TRT_DECODE_KERNEL=0
// or higgs_paged_attention_set_decode_kernel(0) leaves decode calls to attendKernel's decode mode).
// One block per (token, kv head, split), the splits of a token one cluster as there. A group of
// d / 8 lanes takes a key row, 8 elements a lane, and the block's groups take decodeKeys() keys a
// round: every lane issues the loads of its keys' table entries, then K and V chunks, at once (no
// load waits on a score or a branch), so a round costs one trip to memory, where attendKernel's
// thread walks a whole key row in turn. Each lane rotates its own query chunks in registers; the
// group's lanes sum their part of each score by shuffles, and each group keeps its own online
// softmax over its keys in registers (no block-wide reduction a round). At the end the groups of a
// warp merge by shuffles, the warps in shared memory, and each split pushes its partial into the
// cluster's blocks, which merge a share of the outputs each (one cluster barrier; attendKernel's
// mergeCluster pulls between two). On the H200 (BF16, 24/8 heads of 128, batch 1, context 512, L2
// warm) this took 8.0 us a layer in 8 blocks of 512 threads, 9.5 in blocks of 128, 12.8 before the
// loads were issued together (session 19).

// Calls whose tokens get at least this many splits (few tokens: the GPU is filled by the splits) take
// decodeKernel; others attendKernel's decode mode. On the H200 (paged_attention_check.py, BF16, 24/8
// heads of 128, L2 cold as in an engine's step) decodeKernel took 15.8 us a layer at batch 1 and 512
// positions against 23.0, 36.9 against 38.0 at 2,048, 60.4 against 64.4 at batch 8 (4 splits), but
// 402 against 232 at batch 64 (one split, 24 rounds a block: a round's loads wait on nothing, but
// the next round's wait on this one's arithmetic).
constexpr int kDecodeRowsSplits = 4;

// Keys a group takes a round: in blocks of 128 threads 8 where registers allow (16-bit types, up to 4
// query heads a kv head); in blocks of 512 (4 times the groups, and at most 128 registers a thread) 2.
template <typename T, int GROUP, int THREADS>
__host__ __device__ constexpr int decodeKeys() { return THREADS > 128 ? 2 : sizeof(T) == 2 && GROUP <= 4 ? 8 : 4; }

// The floats of decodeKernel's warp partials ([warp][query head][d]): 4 warps of 8 heads of 256, or 16
// warps of up to 512 (query heads x d), which is where the 512-thread blocks apply.
constexpr int kDecodeWarpValues = 8192;
constexpr int kDecodeWideThreads = 512;

// The raw 16-byte chunks of 8 elements of T.
template <typename T>
struct Chunk8 {
    uint4 raw[sizeof(T) / 2];
};

template <typename T>
__device__ inline Chunk8<T> loadChunk8(T const* p) {
    Chunk8<T> c;
#pragma unroll
    for (int i = 0; i < static_cast<int>(sizeof(T)) / 2; i++) {
        c.raw[i] = reinterpret_cast<uint4 const*>(p)[i];
    }
    return c;
}

template <typename T>
__device__ inline void storeChunk8(T* p, Chunk8<T> const& c) {
#pragma unroll
    for (int i = 0; i < static_cast<int>(sizeof(T)) / 2; i++) {
        reinterpret_cast<uint4*>(p)[i] = c.raw[i];
    }
}

template <typename T>
__device__ inline float chunkAt(Chunk8<T> const& c, int i) {
    return toFloat(reinterpret_cast<T const*>(c.raw)[i]);
}

// Whether decodeKernel takes head size d: 8 elements a lane, a power-of-two group of 2 to 32 lanes a row.
__host__ __device__ constexpr bool decodeKernelTakes(int d) {
    return d % 8 == 0 && d >= 16 && d <= kMaxHeadDim && ((d / 8) & (d / 8 - 1)) == 0;
}

// The split of a decode call's token that takes the token's own key (from registers; the others read
// the cache): the first split without keys of the past where there is one, else the last, whose
// share is the shortest.
__device__ inline int ownKeySplit(int used, int splits) { return used < splits ? used : splits - 1; }

// A thread-block cluster's barrier in two halves, so that a block arrives early and waits only where
// it must (barrier.cluster: all threads of the block, warp-uniform).
__device__ inline void clusterArriveRelaxed() { asm volatile("barrier.cluster.arrive.relaxed.aligned;" ::: "memory"); }
__device__ inline void clusterArrive() { asm volatile("barrier.cluster.arrive.release.aligned;" ::: "memory"); }
__device__ inline void clusterWait() { asm volatile("barrier.cluster.wait.acquire.aligned;" ::: "memory"); }

// The rotary cos and sin of a decode lane's 8 elements (part * 8 .. + 7 of a head of d) at pos: the
// same for every head of the token, so that a lane rotates its query heads and its own key with them.
struct LaneRope {
    float c[8];
    float s[8];
    float sign;   // -1 for the first half of the head (x1 c - x2 s), +1 for the second (x2 c + x1 s)
};

__device__ inline LaneRope laneRope(float const* invFreq, int pos, int d, int part) {
    LaneRope r;
    int half = d / 2;
    int first = part * 8 % half;
#pragma unroll
    for (int e = 0; e < 8; e++) {
        ropeSinCos(static_cast<float>(pos) * invFreq[first + e], &r.s[e], &r.c[e]);
    }
    r.sign = part * 8 < half ? -1.f : 1.f;
    return r;
}

// One 8-element chunk of a head rotated by the lane's rope: own is the lane's chunk, partner the chunk
// half a head away.
template <typename T>
__device__ inline void rotateChunk(Chunk8<T> const& own, Chunk8<T> const& partner, LaneRope const& r, float scale,
    float (&out)[8]) {
#pragma unroll
    for (int e = 0; e < 8; e++) {
        out[e] = (chunkAt(own, e) * r.c[e] + r.sign * chunkAt(partner, e) * r.s[e]) * scale;
    }
}

// A decode lane's running softmax over the keys it has seen, for each query head of the kv head.
template <int GROUP>
struct LaneSoftmax {
    float m[GROUP];
    float l[GROUP];
    float acc[GROUP][8];
};

// Folds KEYS keys, each with its score for every head, into the running softmax. valid[k] false: the
// key is skipped (its score is -inf and its values are zeros).
template <typename T, int GROUP, int KEYS>
__device__ inline void foldKeys(LaneSoftmax<GROUP>& sm, float const (&score)[KEYS][GROUP], Chunk8<T> const (&values)[KEYS],
    bool const (&valid)[KEYS]) {
#pragma unroll
    for (int gi = 0; gi < GROUP; gi++) {
        float best = sm.m[gi];
#pragma unroll
        for (int k = 0; k < KEYS; k++) {
            best = fmaxf(best, score[k][gi]);
        }
        if (best == -INFINITY) {
            continue;   // no key of this group yet
        }
        float correction = sm.m[gi] == -INFINITY ? 0.f : __expf(sm.m[gi] - best);
        sm.l[gi] *= correction;
#pragma unroll
        for (int i = 0; i < 8; i++) {
            sm.acc[gi][i] *= correction;
        }
#pragma unroll
        for (int k = 0; k < KEYS; k++) {
            float w = valid[k] ? __expf(score[k][gi] - best) : 0.f;
            sm.l[gi] += w;
#pragma unroll
            for (int i = 0; i < 8; i++) {
                sm.acc[gi][i] += w * chunkAt(values[k], i);
            }
        }
        sm.m[gi] = best;
    }
}

// The score of a key chunk against the lane's query chunks, summed over the rowLanes lanes of its
// group (every lane of the warp calls it: the shuffles span the warp).
template <typename T, int GROUP>
__device__ inline void scoreKey(float const (&qr)[GROUP][8], Chunk8<T> const& key, int rowLanes, bool valid,
    float (&score)[GROUP]) {
    float kf[8];
#pragma unroll
    for (int i = 0; i < 8; i++) {
        kf[i] = chunkAt(key, i);
    }
#pragma unroll
    for (int gi = 0; gi < GROUP; gi++) {
        float s = 0.f;
#pragma unroll
        for (int i = 0; i < 8; i++) {
            s += qr[gi][i] * kf[i];
        }
        for (int offset = rowLanes / 2; offset > 0; offset >>= 1) {
            s += __shfl_xor_sync(0xffffffffu, s, offset);
        }
        score[gi] = valid ? s : -INFINITY;
    }
}

// What a decodeKernel lane walks: the cache, its sequence's table row, its kv head, its block's key
// range's end, and its place in the block (group of rowLanes lanes, and chunk part of the head).
template <typename T>
struct DecodeLane {
    T const* cache;
    int const* tables;
    Geometry g;
    int slot;
    int kvHead;
    int end;
    int groups;
    int group;
    int part;
};

// A lane's K and V chunks of one round of keys: first + k * groups + group for k < KEYS.
template <typename T, int KEYS>
struct RoundLoads {
    Chunk8<T> keys[KEYS];
    Chunk8<T> values[KEYS];
    bool valid[KEYS];
};

// Issues a round's loads without a branch: the table entries, then the K and V chunks. A key past
// the range's end or outside the cache is loaded from the cache's first row, then zeroed (its weight
// is 0, and 0 * garbage may be NaN). Loads behind a branch a key were issued one key at a time: the
// H200 took 52 us a layer for one block's 512 keys, one table and one cache trip a key in turn.
template <typename T, int KEYS>
__device__ inline void loadRound(DecodeLane<T> const& lane, int first, RoundLoads<T, KEYS>& r) {
    Geometry g = lane.g;
    int const* row = lane.tables + static_cast<long long>(lane.slot) * g.maxBlocks;
    int key[KEYS];
    int block[KEYS];
#pragma unroll
    for (int k = 0; k < KEYS; k++) {
        int j = first + k * lane.groups + lane.group;   // the block's groups on consecutive keys
        bool in = j < lane.end;
        key[k] = in ? j : -1;
        int logical = g.blockShift >= 0 ? (in ? j : 0) >> g.blockShift : (in ? j : 0) / g.blockSize;
        block[k] = row[min(logical, g.maxBlocks - 1)];
        key[k] = logical < g.maxBlocks ? key[k] : -1;
    }
#pragma unroll
    for (int k = 0; k < KEYS; k++) {
        r.valid[k] = key[k] >= 0 && block[k] >= 0 && block[k] < g.numBlocks;
        long long at = r.valid[k] ? cacheRow(g, block[k], 0, lane.kvHead, inBlock(g, key[k])) + lane.part * 8 : 0;
        r.keys[k] = loadChunk8(lane.cache + at);
        r.values[k] = loadChunk8(lane.cache + at + (r.valid[k] ? valuePlane(g) : 0));
    }
#pragma unroll
    for (int k = 0; k < KEYS; k++) {
        if (!r.valid[k]) {
            r.keys[k] = Chunk8<T>{};
            r.values[k] = Chunk8<T>{};
        }
    }
}

// Scores and folds the first count keys of a loaded round (count the same in the whole block).
template <typename T, int GROUP, int KEYS>
__device__ inline void foldRound(RoundLoads<T, KEYS> const& r, int count, int rowLanes, float const (&qr)[GROUP][8],
    LaneSoftmax<GROUP>& sm) {
    float score[KEYS][GROUP];
#pragma unroll
    for (int k = 0; k < KEYS; k++) {
        if (k < count) {
            scoreKey<T, GROUP>(qr, r.keys[k], rowLanes, r.valid[k], score[k]);
        } else {
#pragma unroll
            for (int gi = 0; gi < GROUP; gi++) {
                score[k][gi] = -INFINITY;
            }
        }
    }
    foldKeys<T, GROUP, KEYS>(sm, score, r.values, r.valid);
}

// decodeKernel's early bits: let the next kernel start at this one's start (else after its keys);
// issue the first round's loads before the wait on the kernel before.
constexpr int kDecodeTriggerEarly = 1;
constexpr int kDecodeLoadEarly = 2;

template <typename T, int GROUP, int THREADS>
__global__ void __launch_bounds__(THREADS) decodeKernel(T const* q, T const* kv, int const* positions,
    int const* slots, int const* tables, float const* invFreq, T* cache, Geometry g, float scale, int splits,
    int early, T* output) {
    constexpr int kWarps = THREADS / 32;
    constexpr int kDecodeKeys = decodeKeys<T, GROUP, THREADS>();
    __shared__ float warpMax[kWarps][GROUP];
    __shared__ float warpSum[kWarps][GROUP];
    __shared__ float warpValues[kDecodeWarpValues];   // [warp][GROUP][d]
    __shared__ float blockMax[GROUP];
    __shared__ float blockSum[GROUP];
    // what the cluster's blocks push here for this block's share of the outputs: [split][share]
    __shared__ float incoming[GROUP * kMaxHeadDim + kMaxClusterSplits];
    __shared__ float incomingMax[kMaxClusterSplits][GROUP];
    __shared__ float incomingSum[kMaxClusterSplits][GROUP];
    bool clustered = splits > 1;
    if (clustered) {
        clusterArriveRelaxed();   // this block has started; waited for before the first push
    }
    bool loadEarly = (early & kDecodeLoadEarly) != 0;
    if (!loadEarly) {
        higgs::gridDependencyWait();
    }
    if ((early & kDecodeTriggerEarly) != 0) {
        higgs::allowDependents();   // one wave of blocks: the next kernel's blocks may start meanwhile
    }

    int t = blockIdx.x;
    int kvHead = blockIdx.y;
    int split = blockIdx.z;
    int d = g.headDim;
    int pos = positions[t];
    int slot = slots[t];
    int tid = threadIdx.x;
    int rowLanes = d / 8;   // a power of two up to 32: a group never straddles a warp
    int groups = THREADS / rowLanes;
    int group = tid / rowLanes;
    int part = tid % rowLanes;
    int partner = part ^ (rowLanes / 2);

    // the past positions 0 .. pos - 1 in shares of whole rounds of one key a group at least
    int used = max(1, min(splits, (pos + groups - 1) / groups));
    int chunk = (pos + used - 1) / used;
    int start = min(pos, split * chunk);
    int end = split < used ? min(pos, start + chunk) : start;
    bool ownKey = split == ownKeySplit(used, splits) && group == groups - 1;

    // every load that does not wait on another first. Loading early, the first round's keys come
    // before the wait: the positions, the tables and the cache's past rows are the step's inputs or
    // earlier steps' writes, where the query and the token's own K and V are the kernel before's.
    int ownBlock = physicalBlock(tables, g, slot, pos);
    DecodeLane<T> lane{cache, tables, g, slot, kvHead, end, groups, group, part};
    int full = groups * kDecodeKeys;
    RoundLoads<T, kDecodeKeys> current;
    if (loadEarly) {
        if (start < end) {
            loadRound(lane, start, current);
        }
        higgs::gridDependencyWait();
    }
    // then the query's chunks, the token's own K and V (all lanes; only the owning group uses them), the
    // frequencies; then the first round's keys
    T const* qt = q + static_cast<long long>(t) * g.qStride + static_cast<long long>(kvHead) * GROUP * d;
    Chunk8<T> qOwn[GROUP];
    Chunk8<T> qPartner[GROUP];
#pragma unroll
    for (int gi = 0; gi < GROUP; gi++) {
        qOwn[gi] = loadChunk8(qt + gi * d + part * 8);
        qPartner[gi] = loadChunk8(qt + gi * d + partner * 8);
    }
    T const* kt = kv + static_cast<long long>(t) * g.kvStride + static_cast<long long>(kvHead) * d;
    Chunk8<T> kOwn = loadChunk8(kt + part * 8);
    Chunk8<T> kPartner = loadChunk8(kt + partner * 8);
    Chunk8<T> value = loadChunk8(kt + static_cast<long long>(g.kvHeads) * d + part * 8);
    if (!loadEarly && start < end) {
        loadRound(lane, start, current);
    }

    LaneRope rope = laneRope(invFreq, pos, d, part);
    float qr[GROUP][8];
#pragma unroll
    for (int gi = 0; gi < GROUP; gi++) {
        rotateChunk(qOwn[gi], qPartner[gi], rope, scale, qr[gi]);
    }
    LaneSoftmax<GROUP> sm;
#pragma unroll
    for (int gi = 0; gi < GROUP; gi++) {
        sm.m[gi] = -INFINITY;
        sm.l[gi] = 0.f;
#pragma unroll
        for (int i = 0; i < 8; i++) {
            sm.acc[gi][i] = 0.f;
        }
    }
    // rounds of kDecodeKeys keys a group (loading the next round before this one's arithmetic, in a
    // second set of registers, spilled them)
    for (int first = start; first < end; first += full) {
        if (first > start) {
            loadRound(lane, first, current);
        }
        foldRound<T, GROUP, kDecodeKeys>(current, min(kDecodeKeys, (end - first + groups - 1) / groups), rowLanes, qr, sm);
    }
    // the token's own key and value, rotated here and written to the cache: folded from registers,
    // with no read back (and no barrier); the whole warp scores, the owning group keeps it
    {
        bool mine = ownKey && ownBlock >= 0;
        Chunk8<T> key{};
        if (mine) {
            float k[8];
            rotateChunk(kOwn, kPartner, rope, 1.f, k);
            T* kh = reinterpret_cast<T*>(key.raw);
#pragma unroll
            for (int e = 0; e < 8; e++) {
                kh[e] = fromFloat<T>(k[e]);   // the key as the cache holds it, in the compute type
            }
            long long row = cacheRow(g, ownBlock, 0, kvHead, inBlock(g, pos)) + part * 8;
            storeChunk8(cache + row, key);
            storeChunk8(cache + row + valuePlane(g), value);
        }
        if (__any_sync(0xffffffffu, mine)) {   // warp-uniform: the shuffles need the whole warp
            float score[1][GROUP];
            scoreKey<T, GROUP>(qr, key, rowLanes, mine, score[0]);
            Chunk8<T> values[1] = {mine ? value : Chunk8<T>{}};
            bool valid[1] = {mine};
            if (mine) {
                foldKeys<T, GROUP, 1>(sm, score, values, valid);
            }
        }
    }
    if ((early & kDecodeTriggerEarly) == 0) {
        higgs::allowDependents();
    }

    // the groups of a warp merge their partials by shuffles, then the warps' meet in shared memory
    for (int offset = rowLanes; offset < 32; offset <<= 1) {
#pragma unroll
        for (int gi = 0; gi < GROUP; gi++) {
            float om = __shfl_xor_sync(0xffffffffu, sm.m[gi], offset);
            float ol = __shfl_xor_sync(0xffffffffu, sm.l[gi], offset);
            float best = fmaxf(sm.m[gi], om);
            float a = sm.m[gi] == -INFINITY ? 0.f : __expf(sm.m[gi] - best);
            float b = om == -INFINITY ? 0.f : __expf(om - best);
            sm.l[gi] = sm.l[gi] * a + ol * b;
#pragma unroll
            for (int i = 0; i < 8; i++) {
                sm.acc[gi][i] = sm.acc[gi][i] * a + __shfl_xor_sync(0xffffffffu, sm.acc[gi][i], offset) * b;
            }
            sm.m[gi] = best;
        }
    }
    int warp = tid / 32;
    if (tid % 32 < rowLanes) {
#pragma unroll
        for (int gi = 0; gi < GROUP; gi++) {
            if (part == 0) {
                warpMax[warp][gi] = sm.m[gi];
                warpSum[warp][gi] = sm.l[gi];
            }
#pragma unroll
            for (int i = 0; i < 8; i++) {
                warpValues[(warp * GROUP + gi) * d + part * 8 + i] = sm.acc[gi][i];
            }
        }
    }
    __syncthreads();
    if (tid < GROUP) {
        float best = -INFINITY;
        for (int r = 0; r < kWarps; r++) {
            best = fmaxf(best, warpMax[r][tid]);
        }
        float total = 0.f;
        for (int r = 0; r < kWarps; r++) {
            float w = warpMax[r][tid] == -INFINITY ? 0.f : __expf(warpMax[r][tid] - best);
            warpMax[r][tid] = w;   // from here on the warp's weight in the block's sums
            total += warpSum[r][tid] * w;
        }
        blockMax[tid] = best;
        blockSum[tid] = total;
    }
    __syncthreads();
    long long firstHead = static_cast<long long>(t) * g.heads + kvHead * GROUP;
    int n = GROUP * d;
    int share = (n + splits - 1) / splits;
    if (clustered) {
        clusterWait();   // every block of the cluster has started: its shared memory may be written
    }
    cg::cluster_group cluster = cg::this_cluster();
    for (int e = tid; e < n; e += THREADS) {
        int gi = e / d;
        float v = 0.f;
#pragma unroll
        for (int r = 0; r < kWarps; r++) {
            v += warpValues[(r * GROUP + gi) * d + e % d] * warpMax[r][gi];
        }
        if (!clustered) {
            output[firstHead * d + e] = fromFloat<T>(v * inverseSum(blockSum[gi]));
        } else {
            int owner = e / share;   // the block that merges element e
            *cluster.map_shared_rank(incoming + split * share + (e - owner * share), owner) = v;
        }
    }
    if (!clustered) {
        return;
    }
    for (int x = tid; x < GROUP * splits; x += THREADS) {
        int dst = x / GROUP;
        int gi = x % GROUP;
        *cluster.map_shared_rank(&incomingMax[split][gi], dst) = blockMax[gi];
        *cluster.map_shared_rank(&incomingSum[split][gi], dst) = blockSum[gi];
    }
    clusterArrive();   // the pushes are done (release) ...
    clusterWait();     // ... and every block's have landed here (acquire); no block reads another's after this
    int own = split * share;
    for (int e = own + tid; e < min(n, own + share); e += THREADS) {
        int gi = e / d;
        float best = -INFINITY;
        for (int r = 0; r < splits; r++) {
            best = fmaxf(best, incomingMax[r][gi]);
        }
        float total = 0.f;
        float v = 0.f;
        for (int r = 0; r < splits; r++) {
            float m = incomingMax[r][gi];
            float w = m == -INFINITY ? 0.f : __expf(m - best);
            total += incomingSum[r][gi] * w;
            v += incoming[r * share + (e - own)] * w;
        }
        output[firstHead * d + e] = fromFloat<T>(v * inverseSum(total));
    }
}

// Two 16-bit values in one register, the first (lower index) in the low half.
template <typename T>
__device__ inline uint32_t pack2(float lo, float hi) {
    if constexpr (std::is_same<T, __half>::value) {
        __half2 v = __floats2half2_rn(lo, hi);
        return *reinterpret_cast<uint32_t*>(&v);
    } else {
        __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
        return *reinterpret_cast<uint32_t*>(&v);
    }
}

// d += a . b for one m16n8k16 tile, FP32 accumulators (PTX's fragment layouts: a row-major 16x16,
// b column-major 16x8, d 16x8).
template <typename T>
__device__ inline void mma16816(float (&d)[4], uint32_t const (&a)[4], uint32_t b0, uint32_t b1) {
    if constexpr (std::is_same<T, __half>::value) {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
                     "{%0, %1, %2, %3};"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    } else {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
                     "{%0, %1, %2, %3};"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
}

// Four 8x8 matrices of 16-bit values from shared memory, each lane giving one row's address
// (lanes 8i..8i+7 the rows of matrix i); TRANS hands each lane its elements transposed.
template <bool TRANS>
__device__ inline void ldmatrix4(uint32_t (&r)[4], void const* row) {
    unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(row));
    if (TRANS) {
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                     : "r"(address));
    } else {
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                     : "r"(address));
    }
}

// 16 bytes from global to shared memory without passing through registers (zeros where !valid;
// src must still be a mapped address).
__device__ inline void copyAsync16(void* dst, void const* src, bool valid) {
    unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(dst));
    int bytes = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(address), "l"(src), "r"(bytes));
}

__device__ inline void commitAsync() { asm volatile("cp.async.commit_group;"); }

// Waits until at most one committed group of copies (the newest) is still in flight.
__device__ inline void awaitAllButNewest() { asm volatile("cp.async.wait_group 1;"); }

// A key's cache row in two halves: lookUpKey reads the table (issued early, its result needed only by
// storeKeyRow, so that the load's latency passes while the warp multiplies), storeKeyRow writes the
// K row's offset (-1 past last or outside the cache).
__device__ inline int lookUpKey(int const* tables, Geometry g, int slot, int j, int last) {
    return j <= last ? physicalBlock(tables, g, slot, j) : -1;
}

__device__ inline void storeKeyRow(long long* rowOut, Geometry g, int block, int kvHead, int j) {
    *rowOut = block >= 0 ? cacheRow(g, block, 0, kvHead, j % g.blockSize) : -1;
}

// The K rows of keys kb..kb + KT - 1 of a sequence, one key a thread for the first KT threads: the
// tile's copies then read them from shared memory instead of each doing the table lookup and the
// divisions again.
template <int KT>
__device__ inline void locateKeys(long long* rowsOut, int const* tables, Geometry g, int slot, int kvHead, int kb,
    int last) {
    int key = static_cast<int>(threadIdx.x);
    if (key < KT) {
        storeKeyRow(rowsOut + key, g, lookUpKey(tables, g, slot, kb + key, last), kvHead, kb + key);
    }
}

// Starts the copy of a tile of KT keys whose K rows locateKeys found (K into ks, V into vs, rows of LD
// elements; keys without a row become zeros, since 0 * garbage is not 0). The V row of a key is its K
// row plus one (kv head, block) plane.
template <typename T, int KT, int D, int LD, int THREADS>
__device__ inline void loadKvTile(T* ks, T* vs, T const* cache, long long const* keyRows, Geometry g) {
    constexpr int kChunks = D / 8;
    constexpr int kPieces = 2 * KT * kChunks;
    long long vOffset = static_cast<long long>(g.kvHeads) * g.blockSize * g.headDim;
#pragma unroll
    for (int i = 0; i < (kPieces + THREADS - 1) / THREADS; i++) {
        int x = static_cast<int>(threadIdx.x) + i * THREADS;
        if (kPieces % THREADS == 0 || x < kPieces) {
            int kOrV = x / (KT * kChunks);
            int key = x / kChunks % KT;
            int chunk = x % kChunks;
            long long row = keyRows[key];
            T const* src = row >= 0 ? cache + row + (kOrV != 0 ? vOffset : 0) + chunk * 8 : cache;
            copyAsync16((kOrV == 0 ? ks : vs) + key * LD + chunk * 8, src, row >= 0);
        }
    }
}

// The dynamic shared memory of attendMmaKernel: two stages of a K and a V tile.
template <typename T, int D>
constexpr int mmaSharedBytes() { return 2 * 2 * kMmaKeys * (D + 8) * static_cast<int>(sizeof(T)); }

// Each lane of a warp holds rows g = lane / 4 and g + 8 of the warp's 16 tokens, and in a 16x8
// accumulator tile the columns 2 (lane % 4) and 2 (lane % 4) + 1. The K/V tiles are double-buffered:
// the copy of the next tile runs while the warps multiply the current one. Blocks run the latest
// tokens (the longest causal rows) first, so that the short ones fill the tail.
template <typename T, int GROUP, int D>
__global__ void __launch_bounds__(32 * GROUP * mmaRows<GROUP>()) attendMmaKernel(T const* q, int const* positions,
    int const* slots, int const* tables, float const* invFreq, T const* cache, Geometry g, float scale, int tokens,
    T* out) {
    constexpr int QT = mmaTileTokens<GROUP>();
    constexpr int THREADS = 32 * GROUP * mmaRows<GROUP>();
    constexpr int KT = kMmaKeys;
    constexpr int LD = D + 8;   // padded rows: the 8 rows an ldmatrix reads fall in different banks
    constexpr int KS = D / 16;  // k steps of Q K^T
    constexpr int NT = KT / 8;  // key tiles of S
    constexpr int DT = D / 8;   // dimension tiles of O
    static_assert(D % 32 == 0 && D <= 128, "head size");
    extern __shared__ __align__(16) unsigned char mmaShared[];
    T* stages = reinterpret_cast<T*>(mmaShared);   // [stage][K or V][KT][LD]
    __shared__ long long keyRows[2][KT];           // [tile % 2][key]: the K rows of a tile's keys
    higgs::gridDependencyWait();

    int t0 = (gridDim.x - 1 - blockIdx.x) * QT;
    int n = min(QT, tokens - t0);
    if (!uniformTile(positions, slots, t0, n)) {
        return;
    }
    int kvHead = blockIdx.y;
    int warp = threadIdx.x >> 5;
    int lane = threadIdx.x & 31;
    int gi = warp % GROUP;
    int rowBase = warp / GROUP * 16;
    int gr = lane >> 2;
    int t4 = lane & 3;
    int p0 = positions[t0];
    int slot = slots[t0];
    int head = kvHead * GROUP + gi;
    int rows[2] = {rowBase + gr, rowBase + gr + 8};
    bool valid[2] = {rows[0] < n, rows[1] < n};
    int pos[2] = {p0 + rows[0], p0 + rows[1]};

    // Q as A fragments, rotated (rotate-half RoPE: dimension i pairs with i + D/2, which sits in the
    // same lane and register slot KS/2 k steps on) and scaled
    uint32_t qa[KS][4];
    {
        float qv[KS][4][2];
#pragma unroll
        for (int k = 0; k < KS; k++) {
#pragma unroll
            for (int j = 0; j < 4; j++) {
                int r = j & 1;
                int dim = 16 * k + (j >= 2 ? 8 : 0) + 2 * t4;
                T const* src = q + static_cast<long long>(t0 + rows[r]) * g.qStride + head * D + dim;
                qv[k][j][0] = valid[r] ? toFloat(src[0]) : 0.f;
                qv[k][j][1] = valid[r] ? toFloat(src[1]) : 0.f;
            }
        }
#pragma unroll
        for (int k = 0; k < KS / 2; k++) {
#pragma unroll
            for (int j = 0; j < 4; j++) {
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    int dim = 16 * k + (j >= 2 ? 8 : 0) + 2 * t4 + e;
                    float sn;
                    float cs;
                    ropeSinCos(static_cast<float>(pos[j & 1]) * invFreq[dim], &sn, &cs);
                    float x1 = qv[k][j][e];
                    float x2 = qv[k + KS / 2][j][e];
                    qv[k][j][e] = (x1 * cs - x2 * sn) * scale;
                    qv[k + KS / 2][j][e] = (x2 * cs + x1 * sn) * scale;
                }
            }
        }
#pragma unroll
        for (int k = 0; k < KS; k++) {
#pragma unroll
            for (int j = 0; j < 4; j++) {
                qa[k][j] = pack2<T>(qv[k][j][0], qv[k][j][1]);
            }
        }
    }

    float o[DT][4];
    higgs::zero(o);
    float m[2] = {-INFINITY, -INFINITY};
    float l[2] = {0.f, 0.f};
    int last = p0 + n - 1;
    bool warpRows = rowBase < n;
    int warpLast = p0 + min(rowBase + 15, n - 1);
    int tiles = last / KT + 1;
    // keys located two tiles ahead, copied one tile ahead, multiplied: locateKeys writes keyRows[s]
    // after the copy that read it was issued, and the barrier at the top of the next iteration
    // publishes it
    locateKeys<KT>(keyRows[0], tables, g, slot, kvHead, 0, last);
    locateKeys<KT>(keyRows[1], tables, g, slot, kvHead, KT, last);
    __syncthreads();
    loadKvTile<T, KT, D, LD, THREADS>(stages, stages + KT * LD, cache, keyRows[0], g);
    commitAsync();
    for (int it = 0; it < tiles; it++) {
        int kb = it * KT;
        __syncthreads();   // the stage the next copy overwrites (tile it - 1's) has no readers left
        if (it + 1 < tiles) {
            T* next = stages + ((it + 1) & 1) * 2 * KT * LD;
            loadKvTile<T, KT, D, LD, THREADS>(next, next + KT * LD, cache, keyRows[(it + 1) & 1], g);
        }
        commitAsync();   // an empty group on the last tile keeps the wait below uniform
        awaitAllButNewest();
        __syncthreads();   // this tile's copies, by every thread, have landed
        int ahead = kb + 2 * KT + static_cast<int>(threadIdx.x);   // a key of tile it + 2
        bool locating = it + 2 < tiles && threadIdx.x < KT;
        int aheadBlock = locating ? lookUpKey(tables, g, slot, ahead, last) : -1;
        T const* ks = stages + (it & 1) * 2 * KT * LD;
        T const* vs = ks + KT * LD;
        if (warpRows && kb <= warpLast) {   // else no key of this tile is before any of the warp's tokens
            float sc[NT][4];
            higgs::zero(sc);
#pragma unroll
            for (int nt = 0; nt < NT; nt++) {
#pragma unroll
                for (int k2 = 0; k2 < KS / 2; k2++) {
                    uint32_t b[4];
                    ldmatrix4<false>(b, ks + (nt * 8 + (lane & 7)) * LD + k2 * 32 + (lane >> 3) * 8);
                    uint32_t const(&a0)[4] = qa[2 * k2];
                    uint32_t const(&a1)[4] = qa[2 * k2 + 1];
                    mma16816<T>(sc[nt], a0, b[0], b[1]);
                    mma16816<T>(sc[nt], a1, b[2], b[3]);
                }
            }
            // causal mask (only where the tile reaches past the warp's first token), then the online
            // softmax of the two rows (a row's 4 lanes share its maximum)
            if (kb + KT - 1 > p0 + rowBase) {
#pragma unroll
                for (int nt = 0; nt < NT; nt++) {
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        int key = kb + nt * 8 + 2 * t4 + (e & 1);
                        if (key > pos[e >> 1]) {
                            sc[nt][e] = -INFINITY;
                        }
                    }
                }
            }
            float tileMax[2] = {-INFINITY, -INFINITY};
#pragma unroll
            for (int nt = 0; nt < NT; nt++) {
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    tileMax[e >> 1] = fmaxf(tileMax[e >> 1], sc[nt][e]);
                }
            }
            float correction[2];
#pragma unroll
            for (int r = 0; r < 2; r++) {
                tileMax[r] = fmaxf(tileMax[r], __shfl_xor_sync(0xffffffffu, tileMax[r], 1));
                tileMax[r] = fmaxf(tileMax[r], __shfl_xor_sync(0xffffffffu, tileMax[r], 2));
                float next = fmaxf(m[r], tileMax[r]);
                correction[r] = m[r] == -INFINITY ? 0.f : __expf(m[r] - next);
                m[r] = next;
                l[r] *= correction[r];
            }
#pragma unroll
            for (int nt = 0; nt < NT; nt++) {
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    float mr = m[e >> 1];
                    float pe = sc[nt][e] == -INFINITY ? 0.f : __expf(sc[nt][e] - mr);
                    sc[nt][e] = pe;
                    l[e >> 1] += pe;
                }
            }
#pragma unroll
            for (int dt = 0; dt < DT; dt++) {
                o[dt][0] *= correction[0];
                o[dt][1] *= correction[0];
                o[dt][2] *= correction[1];
                o[dt][3] *= correction[1];
            }
            // O += P V: the S accumulators of two key tiles are one A fragment of 16 keys
#pragma unroll
            for (int kc = 0; kc < KT / 16; kc++) {
                uint32_t pa[4] = {pack2<T>(sc[2 * kc][0], sc[2 * kc][1]), pack2<T>(sc[2 * kc][2], sc[2 * kc][3]),
                    pack2<T>(sc[2 * kc + 1][0], sc[2 * kc + 1][1]), pack2<T>(sc[2 * kc + 1][2], sc[2 * kc + 1][3])};
#pragma unroll
                for (int d2 = 0; d2 < DT / 2; d2++) {
                    uint32_t b[4];
                    ldmatrix4<true>(b, vs + (kc * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * LD + d2 * 16 + (lane >> 4) * 8);
                    mma16816<T>(o[2 * d2], pa, b[0], b[1]);
                    mma16816<T>(o[2 * d2 + 1], pa, b[2], b[3]);
                }
            }
        }
        if (locating) {
            storeKeyRow(&keyRows[it & 1][threadIdx.x], g, aheadBlock, kvHead, ahead);
        }
    }
#pragma unroll
    for (int r = 0; r < 2; r++) {
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
    }
#pragma unroll
    for (int r = 0; r < 2; r++) {
        if (!valid[r]) {
            continue;
        }
        T* row = out + (static_cast<long long>(t0 + rows[r]) * g.heads + head) * D + 2 * t4;   // one split: the output itself
        float inv = inverseSum(l[r]);
#pragma unroll
        for (int dt = 0; dt < DT; dt++) {
            *reinterpret_cast<uint32_t*>(row + dt * 8) = pack2<T>(o[dt][2 * r] * inv, o[dt][2 * r + 1] * inv);
        }
    }
}

template <typename T>
__global__ void combineKernel(Partials in, int splits, int heads, int d, T* out) {
    higgs::gridDependencyWait();
    int t = blockIdx.x;
    int h = blockIdx.y;
    long long base = (static_cast<long long>(t) * heads + h) * splits;
    float best = -INFINITY;
    for (int s = 0; s < splits; s++) {
        best = fmaxf(best, in.max[base + s]);
    }
    float total = 0.f;
    for (int s = 0; s < splits; s++) {
        float m = in.max[base + s];
        total += m == -INFINITY ? 0.f : in.sum[base + s] * expf(m - best);
    }
    float inv = inverseSum(total);
    T* o = out + (static_cast<long long>(t) * heads + h) * d;
    for (int e = threadIdx.x; e < d; e += blockDim.x) {
        float v = 0.f;
        for (int s = 0; s < splits; s++) {
            float m = in.max[base + s];
            if (m != -INFINITY) {
                v += in.acc[(base + s) * d + e] * expf(m - best);
            }
        }
        o[e] = fromFloat<T>(v * inv);
    }
}

// How many blocks share one token's keys: enough for about kTargetBlocks blocks in all.
int splitsFor(long long tokens, int kvHeads) {
    long long perToken = kTargetBlocks / (tokens * kvHeads);
    return static_cast<int>(perToken < 1 ? 1 : perToken > kMaxSplits ? kMaxSplits : perToken);
}

size_t alignUp(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// The workspace for up to maxTokens tokens: the partials of the largest tokens x splits.
size_t workspaceFor(long long maxTokens, int heads, int kvHeads, int d) {
    long long rows = 0;
    for (long long t = 1; t <= maxTokens; t++) {
        long long r = t * splitsFor(t, kvHeads);
        rows = r > rows ? r : rows;
        if (splitsFor(t, kvHeads) == 1) {
            rows = maxTokens > rows ? maxTokens : rows;
            break;
        }
    }
    size_t n = static_cast<size_t>(rows) * heads;
    return alignUp(n * d * sizeof(float)) + 2 * alignUp(n * sizeof(float));
}

struct Call {
    DataType type;
    void const* q;
    void const* kv;
    int const* positions;
    int const* slots;
    int const* tables;
    float const* invFreq;
    void* cache;
    void* out;
    long long tokens;
    long long sequences;   // S, the block tables' rows: T == S is a decode call (one new token a sequence)
    Geometry g;
    bool consecutive;      // each sequence's tokens lie together at consecutive positions (the field)
};

// The tensor-core prefill kernel for the uniform tiles of a call (16-bit types only).
template <typename T, int G, int D>
void launchMmaOf(T const* q, Call const& c, T const* cache, float scale, cudaStream_t stream) {
    // past the 48 KB a kernel gets without asking; set once per kernel and device (the attribute is
    // the current device's; not a stream operation, so also allowed while a stream is captured)
    static std::atomic<unsigned long long> optedDevices{0};
    int device = 0;
    cudaGetDevice(&device);
    unsigned long long bit = device >= 0 && device < 64 ? 1ull << device : 0ull;
    if ((optedDevices.load(std::memory_order_relaxed) & bit) == 0 || bit == 0) {
        if (cudaFuncSetAttribute(attendMmaKernel<T, G, D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                mmaSharedBytes<T, D>()) != cudaSuccess) {
            return;   // the launch below fails and the caller reports it
        }
        optedDevices.fetch_or(bit, std::memory_order_relaxed);
    }
    dim3 tiles(static_cast<unsigned>((c.tokens + mmaTileTokens<G>() - 1) / mmaTileTokens<G>()),
        static_cast<unsigned>(c.g.kvHeads));
    higgs::launchDependent(higgs::kDependentManyTokens, attendMmaKernel<T, G, D>, tiles, dim3(32 * G * mmaRows<G>()),
        mmaSharedBytes<T, D>(), stream, dim3(1, 1, 1), q, c.positions, c.slots, c.tables, c.invFreq, cache, c.g, scale,
        static_cast<int>(c.tokens), static_cast<T*>(c.out));
}

template <typename T, int G>
void launchMma(T const* q, Call const& c, T const* cache, float scale, cudaStream_t stream) {
    if constexpr (!std::is_same<T, float>::value) {
        if (c.g.headDim == 64) {
            launchMmaOf<T, G, 64>(q, c, cache, scale, stream);
        } else {
            launchMmaOf<T, G, 128>(q, c, cache, scale, stream);
        }
    }
}

// A decode call's attention in one launch of a decode kernel: a block per (token, kv head, split),
// the splits of each token and kv head one cluster.
template <typename... Params, typename... Args>
cudaError_t launchDecodeClusters(void (*kernel)(Params...), Call const& c, int splits, int threads, cudaStream_t stream,
    Args&&... args) {
    dim3 grid(static_cast<unsigned>(c.tokens), static_cast<unsigned>(c.g.kvHeads), static_cast<unsigned>(splits));
    return higgs::launchDependent(higgs::kDependentAttention, kernel, grid, dim3(threads), 0, stream,
        dim3(1, 1, static_cast<unsigned>(splits)), std::forward<Args>(args)...);
}

// How many clusters of size blocks of threads each the current device holds at once for kernel,
// asked once per kernel, device and size (not a stream operation: also allowed while capturing).
template <typename Kernel>
int activeClusters(Kernel kernel, int threads, int size) {
    constexpr int kDevices = 16;
    static std::atomic<int> known[kDevices][kMaxClusterSplits + 1] = {};   // 0 not asked yet, else clusters + 1
    int device = 0;
    if (cudaGetDevice(&device) != cudaSuccess || device < 0 || device >= kDevices || size < 1 || size > kMaxClusterSplits) {
        cudaGetLastError();
        return 0;
    }
    int k = known[device][size].load();
    if (k > 0) {
        return k - 1;
    }
    cudaLaunchConfig_t config{};
    config.gridDim = dim3(1, 1, static_cast<unsigned>(size));
    config.blockDim = dim3(static_cast<unsigned>(threads));
    cudaLaunchAttribute cluster{};
    cluster.id = cudaLaunchAttributeClusterDimension;
    cluster.val.clusterDim.x = 1;
    cluster.val.clusterDim.y = 1;
    cluster.val.clusterDim.z = static_cast<unsigned>(size);
    config.attrs = &cluster;
    config.numAttrs = 1;
    int clusters = 0;
    if (cudaOccupancyMaxActiveClusters(&clusters, reinterpret_cast<void const*>(kernel), &config) != cudaSuccess) {
        cudaGetLastError();   // no answer: taken as none
        clusters = 0;
    }
    known[device][size].store(clusters + 1);
    return clusters;
}

// Whether decodeKernel runs in blocks of kDecodeWideThreads rather than kThreads: the setting (0 never,
// 1 where it fits, HIGGS_TRT_DECODE_WIDE), the warps' partials within kDecodeWarpValues, and all of the
// call's clusters on the GPU at once (a block of 512 threads takes most of an SM). A block of 128
// threads is 4 warps, one a scheduler, each a long chain of dependent instructions; 16 warps a block
// hide each other's latencies.
template <typename Kernel>
bool wideDecode(Kernel wide, Call const& c, int group, int splits) {
    if (gDecodeWide.load() == 0 || (kDecodeWideThreads / 32) * group * c.g.headDim > kDecodeWarpValues) {
        return false;
    }
    return c.tokens * c.g.kvHeads <= activeClusters(wide, kDecodeWideThreads, splits);
}

// attendKernel in its decode mode (splits a power of two up to the portable cluster size), or
// decodeKernel (rows; as many splits as splitsFor gives, up to the decode cluster setting). On the
// H200 a launch in clusters of 16 (non-portable) failed as misconfigured although
// cudaOccupancyMaxActiveClusters had allowed it, so the clusters stay within the portable 8.
template <typename T, int G>
cudaError_t launchDecode(Call const& c, float scale, bool rows, cudaStream_t stream) {
    T const* q = static_cast<T const*>(c.q);
    T const* kv = static_cast<T const*>(c.kv);
    T* cache = static_cast<T*>(c.cache);
    T* out = static_cast<T*>(c.out);
    int wanted = splitsFor(c.tokens, c.g.kvHeads);
    if (rows) {
        int splits = std::min(wanted, gDecodeCluster.load());
        int mask = higgs::dependentLaunches().load();
        int early = ((mask & higgs::kDependentEarlyAttention) != 0 ? kDecodeTriggerEarly : 0)
            | ((mask & higgs::kDependentEarlyWeights) != 0 ? kDecodeLoadEarly : 0);
        if constexpr (!std::is_same<T, float>::value && G <= 4) {   // the 16-bit types' usual groups
            // wide blocks with as many splits as fit in one wave: fewer splits of 512 threads beat more of
            // 128 (H200, batch 8 at context 1,536: 35 us a layer with 2 against 74 with 4 of 128)
            for (int s = splits; s >= 1; s--) {
                if (wideDecode(decodeKernel<T, G, kDecodeWideThreads>, c, G, s)) {
                    return launchDecodeClusters(decodeKernel<T, G, kDecodeWideThreads>, c, s, kDecodeWideThreads,
                        stream, q, kv, c.positions, c.slots, c.tables, c.invFreq, cache, c.g, scale, s, early, out);
                }
            }
        }
        return launchDecodeClusters(decodeKernel<T, G, kThreads>, c, splits, kThreads, stream, q, kv, c.positions,
            c.slots, c.tables, c.invFreq, cache, c.g, scale, splits, early, out);
    }
    int splits = 1;
    while (splits * 2 <= wanted && splits * 2 <= kMaxClusterSplits) {
        splits *= 2;
    }
    return launchDecodeClusters(attendKernel<T, G>, c, splits, kThreads, stream, q, kv, c.positions, c.slots, c.tables,
        c.invFreq, cache, c.g, scale, splits, Partials{}, 0, out, 1);
}

template <typename T>
int launch(Call const& c, void* workspace, cudaStream_t stream) {
    if (c.tokens == 0) {
        return 0;
    }
    int group = c.g.heads / c.g.kvHeads;
    if (group < 1 || group > kMaxGroup) {
        gErrors.set("paged attention: %d query heads per kv head (at most %d)", group, kMaxGroup);
        return -1;
    }
    float scale = 1.f / sqrtf(static_cast<float>(c.g.headDim));
    if (gFusedDecode.load() && c.sequences == c.tokens) {
        bool rows = gDecodeKernel.load() && decodeKernelTakes(c.g.headDim) && splitsFor(c.tokens, c.g.kvHeads) >= kDecodeRowsSplits;
        cudaError_t e = cudaSuccess;
        switch (group) {
#define HX_DECODE(G) case G: e = launchDecode<T, G>(c, scale, rows, stream); break;
        HX_DECODE(1) HX_DECODE(2) HX_DECODE(3) HX_DECODE(4) HX_DECODE(5) HX_DECODE(6) HX_DECODE(7) HX_DECODE(8)
#undef HX_DECODE
        }
        if (e != cudaSuccess) {
            cudaGetLastError();
            gErrors.set("paged attention: decode kernel launch failed: %s", cudaGetErrorString(e));
            return -1;
        }
        gEnqueues.fetch_add(1, std::memory_order_relaxed);
        return 0;
    }
    bool tiled = !std::is_same<T, float>::value && gTiledPrefill.load() && c.tokens >= kMmaMinTokens
        && (c.g.headDim == 64 || c.g.headDim == 128);
    int splits = tiled ? 1 : splitsFor(c.tokens, c.g.kvHeads);
    size_t n = static_cast<size_t>(c.tokens) * splits * c.g.heads;
    char* ws = static_cast<char*>(workspace);
    Partials p{reinterpret_cast<float*>(ws), reinterpret_cast<float*>(ws + alignUp(n * c.g.headDim * sizeof(float))),
        reinterpret_cast<float*>(ws + alignUp(n * c.g.headDim * sizeof(float)) + alignUp(n * sizeof(float)))};
    int half = c.g.headDim / 2;
    dim3 writeGrid(static_cast<unsigned>(c.tokens), static_cast<unsigned>(c.g.kvHeads));
    higgs::launchDependent(higgs::kDependentManyTokens, writeKvKernel<T>, writeGrid, dim3(half < 128 ? (half < 32 ? 32 : half) : 128),
        0, stream, dim3(1, 1, 1), static_cast<T const*>(c.kv), c.positions, c.slots, c.tables, c.invFreq,
        static_cast<T*>(c.cache), c.g);
    dim3 attendGrid(static_cast<unsigned>(c.tokens), static_cast<unsigned>(c.g.kvHeads), static_cast<unsigned>(splits));
    T const* q = static_cast<T const*>(c.q);
    T const* kv = static_cast<T const*>(c.kv);
    T* cache = static_cast<T*>(c.cache);
    T* out = static_cast<T*>(c.out);
    int tiledTokens = tiled ? static_cast<int>(c.tokens) : 0;
    // one sequence at consecutive positions: every tile is uniform, the tiled kernel takes them all
    bool perToken = !(tiled && c.consecutive && c.sequences == 1);
    switch (group) {
#define HX_ATTEND(G) case G: \
        if (perToken) { \
            higgs::launchDependent(higgs::kDependentManyTokens, attendKernel<T, G>, attendGrid, dim3(kThreads), 0, stream, \
                dim3(1, 1, 1), q, kv, c.positions, c.slots, c.tables, c.invFreq, cache, c.g, scale, splits, p, tiledTokens, \
                out, 0); \
        } \
        if (tiled) { \
            launchMma<T, G>(q, c, cache, scale, stream); \
        } \
        break;
    HX_ATTEND(1) HX_ATTEND(2) HX_ATTEND(3) HX_ATTEND(4) HX_ATTEND(5) HX_ATTEND(6) HX_ATTEND(7) HX_ATTEND(8)
#undef HX_ATTEND
    }
    if (splits > 1) {
        dim3 combineGrid(static_cast<unsigned>(c.tokens), static_cast<unsigned>(c.g.heads));
        higgs::launchDependent(higgs::kDependentManyTokens, combineKernel<T>, combineGrid, dim3(c.g.headDim < 128 ? 64 : 128), 0,
            stream, dim3(1, 1, 1), p, splits, c.g.heads, c.g.headDim, out);
    }
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) {
        gErrors.set("paged attention: kernel launch failed: %s", cudaGetErrorString(e));
        return -1;
    }
    gEnqueues.fetch_add(1, std::memory_order_relaxed);
    return 0;
}

int run(Call const& c, void* workspace, cudaStream_t stream) {
    switch (c.type) {
    case DataType::kFLOAT: return launch<float>(c, workspace, stream);
    case DataType::kHALF: return launch<__half>(c, workspace, stream);
    case DataType::kBF16: return launch<__nv_bfloat16>(c, workspace, stream);
    default: gErrors.set("paged attention: unsupported type %d", static_cast<int>(c.type)); return -1;
    }
}

using higgs::isComputeType;

char const* const kInputNames[kInputs] = {"q", "kv", "positions", "slots", "block_tables", "inv_freq", "kv_cache"};

class PagedAttentionPlugin final : public IPluginV3, public IPluginV3OneCore, public IPluginV3OneBuild,
                                   public IPluginV3OneRuntime {
public:
    PagedAttentionPlugin(int heads, int kvHeads, int headDim, int blockSize, int consecutive, int fusedQkv)
        : heads_(heads), kvHeads_(kvHeads), headDim_(headDim), blockSize_(blockSize), consecutive_(consecutive),
          fusedQkv_(fusedQkv) {
        gLivePlugins.fetch_add(1);
        fields_[0] = PluginField{"num_heads", &heads_, PluginFieldType::kINT32, 1};
        fields_[1] = PluginField{"num_kv_heads", &kvHeads_, PluginFieldType::kINT32, 1};
        fields_[2] = PluginField{"head_dim", &headDim_, PluginFieldType::kINT32, 1};
        fields_[3] = PluginField{"block_size", &blockSize_, PluginFieldType::kINT32, 1};
        fields_[4] = PluginField{"consecutive", &consecutive_, PluginFieldType::kINT32, 1};
        fields_[5] = PluginField{"fused_qkv", &fusedQkv_, PluginFieldType::kINT32, 1};
        collection_.nbFields = kFields;
        collection_.fields = fields_;
    }

    PagedAttentionPlugin(PagedAttentionPlugin const& o)
        : PagedAttentionPlugin(o.heads_, o.kvHeads_, o.headDim_, o.blockSize_, o.consecutive_, o.fusedQkv_) {}

    ~PagedAttentionPlugin() override { gLivePlugins.fetch_sub(1); }

    IPluginCapability* getCapabilityInterface(PluginCapabilityType type) noexcept override {
        switch (type) {
        case PluginCapabilityType::kCORE: return static_cast<IPluginV3OneCore*>(this);
        case PluginCapabilityType::kBUILD: return static_cast<IPluginV3OneBuild*>(this);
        case PluginCapabilityType::kRUNTIME: return static_cast<IPluginV3OneRuntime*>(this);
        }
        return nullptr;
    }

    IPluginV3* clone() noexcept override { return new (std::nothrow) PagedAttentionPlugin(*this); }

    AsciiChar const* getPluginName() const noexcept override { return kPluginName; }
    AsciiChar const* getPluginVersion() const noexcept override { return kPluginVersion; }
    AsciiChar const* getPluginNamespace() const noexcept override { return higgs::kPluginNamespace; }

    int32_t configurePlugin(DynamicPluginTensorDesc const* in, int32_t nbInputs, DynamicPluginTensorDesc const*,
        int32_t nbOutputs) noexcept override {
        if (!arity(nbInputs, nbOutputs)) {
            return -1;
        }
        return check(in[0].desc.dims, fused() ? nullptr : &in[1].desc.dims, in[at(kCache)].desc.dims) ? 0 : -1;
    }

    int32_t getOutputDataTypes(DataType* outputTypes, int32_t nbOutputs, DataType const* inputTypes,
        int32_t nbInputs) const noexcept override {
        if (!arity(nbInputs, nbOutputs)) {
            return -1;
        }
        outputTypes[0] = inputTypes[0];
        return 0;
    }

    int32_t getOutputShapes(DimsExprs const* inputs, int32_t nbInputs, DimsExprs const*, int32_t, DimsExprs* outputs,
        int32_t nbOutputs, IExprBuilder& exprBuilder) noexcept override {
        if (!arity(nbInputs, nbOutputs)) {
            return -1;
        }
        outputs[0] = inputs[0];
        if (fused()) {   // the query heads of the qkv rows
            outputs[0].d[1] = exprBuilder.constant(static_cast<int64_t>(heads_) * headDim_);
            if (outputs[0].d[1] == nullptr) {
                gErrors.set("paged attention: TensorRT gave no expression for the output width");
                return -1;
            }
        }
        return 0;
    }

    bool supportsFormatCombination(int32_t pos, DynamicPluginTensorDesc const* inOut, int32_t nbInputs,
        int32_t nbOutputs) noexcept override {
        if (nbInputs != inputCount() || nbOutputs != 1 || pos < 0 || pos > nbInputs) {
            return false;
        }
        PluginTensorDesc const& d = inOut[pos].desc;
        if (d.format != TensorFormat::kLINEAR) {
            return false;
        }
        switch (pos == nbInputs ? kInputs : logical(pos)) {
        case 0: return isComputeType(d.type);
        case 2: case 3: case 4: return d.type == DataType::kINT32;
        case 5: return d.type == DataType::kFLOAT;
        default: return d.type == inOut[0].desc.type;   // kv, the cache and the output: the compute type
        }
    }

    int32_t getNbOutputs() const noexcept override { return 1; }

    size_t getWorkspaceSize(DynamicPluginTensorDesc const* inputs, int32_t nbInputs, DynamicPluginTensorDesc const*,
        int32_t) const noexcept override {
        if (nbInputs != inputCount()) {
            return 0;
        }
        return workspaceFor(inputs[0].max.d[0], heads_, kvHeads_, headDim_);
    }

    char const* getMetadataString() noexcept override {
        return "HiggsPagedAttention: RoPE, KV written in place into a paged cache, causal GQA attention";
    }

    int32_t onShapeChange(PluginTensorDesc const* in, int32_t nbInputs, PluginTensorDesc const*, int32_t nbOutputs)
        noexcept override {
        if (!arity(nbInputs, nbOutputs)) {
            return -1;
        }
        return check(in[0].dims, fused() ? nullptr : &in[1].dims, in[at(kCache)].dims) ? 0 : -1;
    }

    int32_t enqueue(PluginTensorDesc const* inputDesc, PluginTensorDesc const*, void const* const* inputs,
        void* const* outputs, void* workspace, cudaStream_t stream) noexcept override {
        Call c{};
        c.type = inputDesc[0].type;
        c.q = inputs[0];
        c.kv = fused() ? kvOf(inputs[0], c.type) : inputs[1];
        c.positions = static_cast<int const*>(inputs[at(2)]);
        c.slots = static_cast<int const*>(inputs[at(3)]);
        c.tables = static_cast<int const*>(inputs[at(4)]);
        c.invFreq = static_cast<float const*>(inputs[at(5)]);
        c.cache = const_cast<void*>(inputs[at(kCache)]);   // the runtime's cache: written in place by design
        c.out = outputs[0];
        c.tokens = inputDesc[0].dims.d[0];
        c.sequences = inputDesc[at(4)].dims.d[0];
        c.g = geometryOf(heads_, kvHeads_, headDim_, blockSize_, static_cast<int>(inputDesc[at(4)].dims.d[1]),
            static_cast<int>(inputDesc[at(kCache)].dims.d[0]), fused());
        c.consecutive = consecutive_ != 0;
        return run(c, workspace, stream);
    }

    IPluginV3* attachToContext(IPluginResourceContext*) noexcept override { return clone(); }

    PluginFieldCollection const* getFieldsToSerialize() noexcept override { return &collection_; }

private:
    static constexpr int kCache = 6;   // the cache's index in the unfused order

    bool fused() const { return fusedQkv_ != 0; }

    int inputCount() const { return fused() ? kInputs - 1 : kInputs; }

    // The index of input i of the unfused order (never 1, kv, when fused) among this plugin's inputs.
    int at(int i) const { return fused() && i > 1 ? i - 1 : i; }

    // The unfused order's index of input pos of this plugin's inputs.
    int logical(int pos) const { return fused() && pos >= 1 ? pos + 1 : pos; }

    // Where the kv heads start in the fused rows: after the query heads of the first row.
    void const* kvOf(void const* qkv, DataType type) const {
        size_t element = type == DataType::kFLOAT ? 4 : 2;
        return static_cast<char const*>(qkv) + static_cast<size_t>(heads_) * headDim_ * element;
    }

    bool arity(int32_t nbInputs, int32_t nbOutputs) const {
        if (nbInputs == inputCount() && nbOutputs == 1) {
            return true;
        }
        gErrors.set("paged attention: %d inputs and %d outputs, expected %d (%s, ...) and 1", nbInputs, nbOutputs, inputCount(),
            fused() ? "qkv" : kInputNames[0]);
        return false;
    }

    // Shapes that TensorRT knows at build time (-1 where dynamic) must agree with the fields; kv is null when fused.
    bool check(Dims const& q, Dims const* kv, Dims const& cache) const {
        long long qWidth = static_cast<long long>(fused() ? heads_ + 2 * kvHeads_ : heads_) * headDim_;
        bool ok = q.nbDims == 2 && (kv == nullptr || kv->nbDims == 2) && cache.nbDims == 5
            && (q.d[1] == -1 || q.d[1] == qWidth)
            && (kv == nullptr || kv->d[1] == -1 || kv->d[1] == 2LL * kvHeads_ * headDim_)
            && (cache.d[1] == -1 || cache.d[1] == 2) && (cache.d[2] == -1 || cache.d[2] == kvHeads_)
            && (cache.d[3] == -1 || cache.d[3] == blockSize_) && (cache.d[4] == -1 || cache.d[4] == headDim_);
        if (!ok) {
            if (fused()) {
                gErrors.set("paged attention: qkv [T, %lld] and kv_cache [N, 2, %d, %d, %d] expected for %d heads of %d, "
                            "%d kv heads, blocks of %d", qWidth, kvHeads_, blockSize_, headDim_, heads_, headDim_, kvHeads_,
                    blockSize_);
            } else {
                gErrors.set("paged attention: q [T, %d], kv [T, %d] and kv_cache [N, 2, %d, %d, %d] expected for %d heads "
                            "of %d, %d kv heads, blocks of %d", heads_ * headDim_, 2 * kvHeads_ * headDim_, kvHeads_,
                    blockSize_, headDim_, heads_, headDim_, kvHeads_, blockSize_);
            }
        }
        return ok;
    }

    int32_t heads_;
    int32_t kvHeads_;
    int32_t headDim_;
    int32_t blockSize_;
    int32_t consecutive_;
    int32_t fusedQkv_;
    PluginField fields_[kFields];
    PluginFieldCollection collection_{};
};

class PagedAttentionCreator final : public IPluginCreatorV3One {
public:
    PagedAttentionCreator() {
        fields_[0] = PluginField{"num_heads", nullptr, PluginFieldType::kINT32, 1};
        fields_[1] = PluginField{"num_kv_heads", nullptr, PluginFieldType::kINT32, 1};
        fields_[2] = PluginField{"head_dim", nullptr, PluginFieldType::kINT32, 1};
        fields_[3] = PluginField{"block_size", nullptr, PluginFieldType::kINT32, 1};
        fields_[4] = PluginField{"consecutive", nullptr, PluginFieldType::kINT32, 1};
        fields_[5] = PluginField{"fused_qkv", nullptr, PluginFieldType::kINT32, 1};
        collection_.nbFields = kFields;
        collection_.fields = fields_;
    }

    IPluginV3* createPlugin(AsciiChar const*, PluginFieldCollection const* fc, TensorRTPhase) noexcept override {
        int values[kFields] = {-1, -1, -1, -1, 0, 0};   // consecutive and fused_qkv are optional
        for (int i = 0; fc != nullptr && i < fc->nbFields; i++) {
            PluginField const& f = fc->fields[i];
            if (f.name == nullptr || f.data == nullptr || f.length != 1 || f.type != PluginFieldType::kINT32) {
                continue;
            }
            for (int j = 0; j < kFields; j++) {
                if (std::strcmp(f.name, fields_[j].name) == 0) {
                    values[j] = *static_cast<int32_t const*>(f.data);
                }
            }
        }
        int heads = values[0];
        int kvHeads = values[1];
        int headDim = values[2];
        int blockSize = values[3];
        int consecutive = values[4];
        int fusedQkv = values[5];
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0 || heads / kvHeads > kMaxGroup || headDim <= 0
            || headDim % 2 != 0 || headDim > kMaxHeadDim || blockSize <= 0 || (consecutive != 0 && consecutive != 1)
            || (fusedQkv != 0 && fusedQkv != 1)) {
            gErrors.set("paged attention: fields num_heads, num_kv_heads (dividing num_heads, at most %d query heads each), "
                        "head_dim (even, at most %d) and block_size (> 0) are required, consecutive and fused_qkv are 0 or "
                        "1; got %d, %d, %d, %d, %d, %d",
                kMaxGroup, kMaxHeadDim, heads, kvHeads, headDim, blockSize, consecutive, fusedQkv);
            return nullptr;
        }
        return new (std::nothrow) PagedAttentionPlugin(heads, kvHeads, headDim, blockSize, consecutive, fusedQkv);
    }

    PluginFieldCollection const* getFieldNames() noexcept override { return &collection_; }
    AsciiChar const* getPluginName() const noexcept override { return kPluginName; }
    AsciiChar const* getPluginVersion() const noexcept override { return kPluginVersion; }
    AsciiChar const* getPluginNamespace() const noexcept override { return higgs::kPluginNamespace; }

private:
    PluginField fields_[kFields];
    PluginFieldCollection collection_{};
};

PagedAttentionCreator gCreator;

} // namespace

// ---------------------------------------------------------------------------------------------
// C entry points for the Java side (JNA) and for the kernel check outside TensorRT.

HX_EXPORT IPluginCreatorV3One* higgs_paged_attention_creator() { return &gCreator; }

HX_EXPORT int higgs_paged_attention_last_error(char* message, int capacity) { return gErrors.copyTo(message, capacity); }

HX_EXPORT void higgs_paged_attention_clear_error() { gErrors.clear(); }

HX_EXPORT long long higgs_paged_attention_live_plugins() { return gLivePlugins.load(); }

HX_EXPORT long long higgs_paged_attention_enqueues() { return gEnqueues.load(); }

HX_EXPORT int higgs_paged_attention_max_group() { return kMaxGroup; }

HX_EXPORT int higgs_paged_attention_max_head_dim() { return kMaxHeadDim; }

// The workspace bytes a call of up to max_tokens tokens needs.
HX_EXPORT size_t higgs_paged_attention_workspace(long long max_tokens, int heads, int kv_heads, int head_dim) {
    return workspaceFor(max_tokens, heads, kv_heads, head_dim);
}

// The plugin's kernels on raw device pointers, as enqueue runs them; type 0 FLOAT, 1 HALF, 7 BF16; sequences is the
// block tables' rows (a call with as many tokens as rows is a decode call: one token a row, in distinct rows);
// consecutive as the plugin field; fused_qkv 1: q holds the qkv rows, kv is not read.
HX_EXPORT int higgs_paged_attention_run(int type, void const* q, void const* kv, int const* positions, int const* slots,
    int const* tables, float const* inv_freq, void* cache, void* out, long long tokens, long long sequences, int heads,
    int kv_heads, int head_dim, int block_size, int max_blocks, int num_blocks, int consecutive, int fused_qkv,
    void* workspace, void* stream) {
    bool fused = fused_qkv != 0;
    void const* kvRows = fused
        ? static_cast<void const*>(static_cast<char const*>(q)
            + static_cast<size_t>(heads) * head_dim * (type == 0 ? 4 : 2))
        : kv;
    Call c{static_cast<DataType>(type), q, kvRows, positions, slots, tables, inv_freq, cache, out, tokens, sequences,
        geometryOf(heads, kv_heads, head_dim, block_size, max_blocks, num_blocks, fused), consecutive != 0};
    return run(c, workspace, static_cast<cudaStream_t>(stream));
}

// Turns the tensor-core prefill kernel on (1) or off (0) for the calls that follow; returns the previous setting.
HX_EXPORT int higgs_paged_attention_set_tiled(int on) { return gTiledPrefill.exchange(on != 0) ? 1 : 0; }

// Turns the one-kernel decode path on (1) or off (0) for the calls that follow; returns the previous setting.
HX_EXPORT int higgs_paged_attention_set_fused_decode(int on) { return gFusedDecode.exchange(on != 0) ? 1 : 0; }

// Turns decodeKernel (lanes over the head dimension) on (1) or off (0) for the one-kernel decode calls that follow;
// returns the previous setting.
HX_EXPORT int higgs_paged_attention_set_decode_kernel(int on) { return gDecodeKernel.exchange(on != 0) ? 1 : 0; }

// Turns decodeKernel's blocks of 512 threads (where a call's blocks are one wave) on (1) or off (0); returns the
// previous setting.
HX_EXPORT int higgs_paged_attention_set_decode_wide(int on) { return gDecodeWide.exchange(on != 0 ? 1 : 0); }

// Sets the most splits (blocks of one cluster, 1 to 8) decodeKernel gives a token; returns the previous setting.
HX_EXPORT int higgs_paged_attention_set_decode_cluster(int splits) {
    return gDecodeCluster.exchange(clampDecodeCluster(splits));
}

HX_EXPORT void higgs_paged_attention_destroy(IPluginV3* plugin) { delete plugin; }
