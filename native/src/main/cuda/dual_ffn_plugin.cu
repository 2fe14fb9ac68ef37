// The Higgs Audio dual-FFN block as a TensorRT 10 IPluginV3: each token takes the text or the
// audio feed-forward path (chosen by the audio mask), and only its own path is computed.
//
//   inputs   0 hidden [..., H]         after the attention residual; FLOAT, HALF or BF16
//            1 audio mask [...]         BOOL or INT32, one value per token (same token count)
//            2 text post-attention norm weight [H]   FLOAT or the hidden type
//            3 audio post-attention norm weight [H]  FLOAT or the hidden type
//            4 text gate_up [2I, H] (gate rows first), 5 text down [H, I]
//            6 audio gate [I, H], 7 audio up [I, H], 8 audio down [H, I]   (hidden type)
//            9 text tokens INT32 [nText], optional: only its shape is read, the number of text
//              tokens, which the host knows; with it the path for more tokens needs no round trip
//   output   0 hidden + FFN_path(RMSNorm_path(hidden)) per token, the hidden type and shape; with
//            the field residual = 0, FFN_path(RMSNorm_path(hidden)) alone (a tensor-parallel rank's
//            partial sum, added to the residual after the all-reduce)
//
// Two ways through, both without allocation:
//   few tokens (decode, T <= kSmallTokens): two skinny GEMM kernels with per-token path selection
//     that read each weight row once for all tokens of that path, the RMSNorm inside the first; no
//     host round trip.
//   more tokens: compact the token indices of each path on the device, copy the two counts to
//     the host (one stream synchronisation per layer), gather + RMSNorm; where input 9 gives the counts, no round trip and
//     no compaction kernel: the RMSNorm's block of each token finds its compacted row itself. Then cuBLAS GEMMs with the
//     exact row counts (the audio path's gate and up in one strided-batched call), SiLU(gate) * up, the down GEMMs (K in
//     parts for fewer than 321 rows of a path), scatter-add of the parts onto the residual.
#include "trt_plugin_abi.h"
#include "plugin_common.cuh"
#include "cublas_runtime.h"
#include "skinny_gemm.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <type_traits>

using namespace nvinfer1;

namespace {

constexpr char kPluginName[] = "HiggsDualFfn";
constexpr char kPluginVersion[] = "1";
constexpr int kInputs = 9;
// Up to this many tokens a call takes the skinny kernels; from 3 on, cuBLAS's GEMMs read the
// weights faster (skinny_bench.cu on the H200: 45 us a path for 1-8 tokens, against 48 us for one
// token and 78 us for four with the skinny kernels).
constexpr int kSmallTokens = 2;
constexpr size_t kCublasWorkspace = size_t{32} << 20;
constexpr size_t kAlign = 256;

// ---------------------------------------------------------------------------------------------
// Call counters (the ABI test checks that TensorRT reached every method we implement), live
// object count, last error.

enum Method : int {
    mCreatorCreatePlugin, mCreatorGetFieldNames, mCreatorGetPluginName, mCreatorGetPluginVersion,
    mCreatorGetPluginNamespace, mGetCapabilityInterface, mClone, mGetPluginName, mGetPluginVersion,
    mGetPluginNamespace, mConfigurePlugin, mGetOutputDataTypes, mGetOutputShapes, mSupportsFormatCombination,
    mGetNbOutputs, mGetWorkspaceSize, mGetValidTactics, mGetNbTactics, mGetTimingCacheID,
    mGetFormatCombinationLimit, mGetMetadataString, mSetTactic, mOnShapeChange, mEnqueue, mAttachToContext,
    mGetFieldsToSerialize, kMethodCount
};

char const* const kMethodNames[kMethodCount] = {"IPluginCreatorV3One::createPlugin",
    "IPluginCreatorV3One::getFieldNames", "IPluginCreatorV3One::getPluginName",
    "IPluginCreatorV3One::getPluginVersion", "IPluginCreatorV3One::getPluginNamespace",
    "IPluginV3::getCapabilityInterface", "IPluginV3::clone", "IPluginV3OneCore::getPluginName",
    "IPluginV3OneCore::getPluginVersion", "IPluginV3OneCore::getPluginNamespace",
    "IPluginV3OneBuild::configurePlugin", "IPluginV3OneBuild::getOutputDataTypes",
    "IPluginV3OneBuild::getOutputShapes", "IPluginV3OneBuild::supportsFormatCombination",
    "IPluginV3OneBuild::getNbOutputs", "IPluginV3OneBuild::getWorkspaceSize", "IPluginV3OneBuild::getValidTactics",
    "IPluginV3OneBuild::getNbTactics", "IPluginV3OneBuild::getTimingCacheID",
    "IPluginV3OneBuild::getFormatCombinationLimit", "IPluginV3OneBuild::getMetadataString",
    "IPluginV3OneRuntime::setTactic", "IPluginV3OneRuntime::onShapeChange", "IPluginV3OneRuntime::enqueue",
    "IPluginV3OneRuntime::attachToContext", "IPluginV3OneRuntime::getFieldsToSerialize"};

std::atomic<long long> gCalls[kMethodCount];
std::atomic<long long> gLivePlugins{0};
std::atomic<long long> gBatchedGemms{0};   // strided-batched cuBLAS calls: audio gate/up, and downs split in K

inline void count(Method m) { gCalls[m].fetch_add(1, std::memory_order_relaxed); }

higgs::ErrorSlot gErrors;

char const* typeName(DataType t) {
    switch (t) {
    case DataType::kFLOAT: return "FLOAT";
    case DataType::kHALF: return "HALF";
    case DataType::kINT8: return "INT8";
    case DataType::kINT32: return "INT32";
    case DataType::kBOOL: return "BOOL";
    case DataType::kUINT8: return "UINT8";
    case DataType::kFP8: return "FP8";
    case DataType::kBF16: return "BF16";
    case DataType::kINT64: return "INT64";
    case DataType::kINT4: return "INT4";
    }
    return "unknown";
}

char const* const kInputNames[kInputs] = {"hidden", "audio_mask", "text_norm", "audio_norm", "text_gate_up",
    "text_down", "audio_gate", "audio_up", "audio_down"};

// ---------------------------------------------------------------------------------------------
// cuBLAS: the library's shared handles (cublas_runtime.h).

cublasHandle_t cublasHandleForCurrentDevice() {
    std::string error;
    cublasHandle_t handle = higgs::cublasHandle(&error);
    if (handle == nullptr) {
        gErrors.set("dual FFN: %s", error.c_str());
    }
    return handle;
}

// ---------------------------------------------------------------------------------------------
// Kernels

using namespace higgs;

__device__ inline float silu(float g) { return g / (1.f + __expf(-g)); }

// How the warps of a skinny kernel share the work: each group of `split` warps computes `columns`
// output columns (C gate and C up rows, or C down rows), each warp of it a 1/split slice of the
// rows, with `unroll` chunks a row in flight.
struct SkinnyTiling {
    int columns, unroll, split;
};

// Chosen on the H200 by native/src/test/cuda/skinny_bench.cu (full geometry, BF16): gate/up 30 us
// for one or two tokens (3.3 TB/s); down 15 us for one token with 4 warps a column pair, 22 us for
// two with 2.
constexpr SkinnyTiling kGateUpTiling{4, 1, 1};
constexpr SkinnyTiling downTiling(int tokenTile) { return tokenTile == 1 ? SkinnyTiling{2, 1, 4} : SkinnyTiling{2, 2, 2}; }
constexpr int kSkinnyWarps = 8;

// act[t, j] = silu(gate_j . n_t) * (up_j . n_t), where n_t is token t's hidden state after its
// path's RMSNorm and the rows are those of its path, for the C columns j of each warp (C must divide
// inter). The norm is part of the kernel: each warp reads its tokens' whole hidden rows for the dot
// products and sums their squares on the way, so the weight loads start at once. May be launched as
// a dependent launch: before its gridDependencyWait it only prefetches weight rows into L2, on the
// paths the mask gives then; what it computes reads the mask again after the wait.
template <typename T, typename NW, bool VEC, int NT, int C, int U>
__global__ void skinnyGateUpKernel(T const* hidden, NW const* textNorm, NW const* audioNorm, float eps, void const* mask,
    bool maskIsInt, int tokens, T const* textGateUp, T const* audioGate, T const* audioUp, T* act, int h, int inter,
    unsigned prefetch, bool early) {
    if (early) {
        allowDependents();
    }
    int j0 = (blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5)) * C;
    if (j0 >= inter) {
        return;
    }
    int lane = threadIdx.x & 31;
    if (VEC && prefetch != 0 && lane < 2 * C) {
        // the paths as the mask says before the wait: the mask is an engine input, written before the
        // step's kernels; the loop below reads it again after the wait (a wrong guess costs only bandwidth)
        unsigned guess = audioSet(mask, maskIsInt, tokens);
        int c = lane / 2;
        if ((((1u << tokens) - 1) & ~guess) != 0) {
            prefetchL2(textGateUp + static_cast<long long>((lane % 2) * inter + j0 + c) * h, prefetch);
        }
        if (guess != 0) {
            prefetchL2((lane % 2 == 0 ? audioGate : audioUp) + static_cast<long long>(j0 + c) * h, prefetch);
        }
    }
    bool waited = !early;
    if (!early) {
        gridDependencyWait();
    }
    float acc[2 * C][NT];
    float squares[1][NT];
    auto dots = [&](unsigned audio) {
        higgs::zero(acc);
        higgs::zero(squares);
        unsigned text = ((1u << tokens) - 1) & ~audio;
        if (text != 0) {
            T const* rows[2 * C];
#pragma unroll
            for (int c = 0; c < C; c++) {
                rows[2 * c] = textGateUp + static_cast<long long>(j0 + c) * h;
                rows[2 * c + 1] = textGateUp + static_cast<long long>(inter + j0 + c) * h;
            }
            dotRows<T, VEC, NT, 2 * C, U>(rows, NormWeightedRows<T, NW>{hidden, textNorm}, acc, squares[0], h, 0, h, text,
                &waited);
        }
        if (audio != 0) {
            T const* rows[2 * C];
#pragma unroll
            for (int c = 0; c < C; c++) {
                rows[2 * c] = audioGate + static_cast<long long>(j0 + c) * h;
                rows[2 * c + 1] = audioUp + static_cast<long long>(j0 + c) * h;
            }
            dotRows<T, VEC, NT, 2 * C, U>(rows, NormWeightedRows<T, NW>{hidden, audioNorm}, acc, squares[0], h, 0, h, audio,
                &waited);
        }
    };
    // early: the paths are read before the wait, so that the first weight loads go out before it; they
    // are read again after it, and a wrong guess is computed again
    unsigned audio = audioSet(mask, maskIsInt, tokens);
    dots(audio);
    if (early) {
        settleGuess(waited, audio, mask, maskIsInt, tokens, dots);
    } else {
        allowDependents();
    }
#pragma unroll
    for (int t = 0; t < NT; t++) {
        if (t >= tokens) {
            break;
        }
        float inv = rsqrtf(warpSum(squares[0][t]) / h + eps);
#pragma unroll
        for (int c = 0; c < C; c++) {
            float gs = warpSum(acc[2 * c][t]) * inv;
            float us = warpSum(acc[2 * c + 1][t]) * inv;
            if ((threadIdx.x & 31) == 0) {
                act[static_cast<long long>(t) * inter + j0 + c] = fromFloat<T>(silu(gs) * us);
            }
        }
    }
}

// out[t, c] = residual[t, c] + down_c . act_t with token t's path's down rows (no residual where it
// is null), for the C columns of each group of S warps (C must divide h, and S chunks inter); the S
// partial sums meet in shared memory. May be launched as a dependent launch.
template <typename T, bool VEC, int NT, int C, int U, int S>
__global__ void skinnyDownKernel(T const* act, void const* mask, bool maskIsInt, int tokens, T const* textDown,
    T const* audioDown, T const* residual, T* out, int h, int inter, unsigned prefetch, bool early) {
    static_assert(C * NT <= 32, "one lane per column and token sums the partials");
    if (early) {
        allowDependents();
    }
    __shared__ float partial[kSkinnyWarps][C][NT];
    int warp = threadIdx.x >> 5;
    int c0 = (blockIdx.x * (blockDim.x >> 5) / S + warp / S) * C;
    int part = warp % S;
    bool active = c0 < h;
    int from = inter / S * part;
    int to = part == S - 1 ? inter : from + inter / S;
    int lane = threadIdx.x & 31;
    if (VEC && active && prefetch != 0 && lane < C) {   // the paths guessed before the wait, as in the gate/up kernel
        unsigned guess = audioSet(mask, maskIsInt, tokens);
        if ((((1u << tokens) - 1) & ~guess) != 0) {
            prefetchL2(textDown + static_cast<long long>(c0 + lane) * inter + from, prefetch);
        }
        if (guess != 0) {
            prefetchL2(audioDown + static_cast<long long>(c0 + lane) * inter + from, prefetch);
        }
    }
    bool waited = !early;
    if (!early) {
        gridDependencyWait();
    }
    float acc[C][NT];
    float unused[1][NT];   // plain rows sum no squares
    auto dots = [&](unsigned audio) {
        higgs::zero(acc);
        unsigned text = ((1u << tokens) - 1) & ~audio;
        if (active && text != 0) {
            T const* rows[C];
#pragma unroll
            for (int c = 0; c < C; c++) {
                rows[c] = textDown + static_cast<long long>(c0 + c) * inter;
            }
            dotRows<T, VEC, NT, C, U>(rows, PlainRows<T>{act}, acc, unused[0], inter, from, to, text, &waited);
        }
        if (active && audio != 0) {
            T const* rows[C];
#pragma unroll
            for (int c = 0; c < C; c++) {
                rows[c] = audioDown + static_cast<long long>(c0 + c) * inter;
            }
            dotRows<T, VEC, NT, C, U>(rows, PlainRows<T>{act}, acc, unused[0], inter, from, to, audio, &waited);
        }
    };
    unsigned audio = audioSet(mask, maskIsInt, tokens);   // early: a guess, as in the gate/up kernel
    dots(audio);
    if (early) {
        settleGuess(waited, audio, mask, maskIsInt, tokens, dots);
    } else {
        allowDependents();
    }
#pragma unroll
    for (int t = 0; t < NT; t++) {
#pragma unroll
        for (int c = 0; c < C; c++) {
            float v = warpSum(acc[c][t]);
            if ((threadIdx.x & 31) == 0) {
                partial[warp][c][t] = v;
            }
        }
    }
    if (S > 1) {
        __syncthreads();
    } else {
        __syncwarp();   // lane 0's partials to the lanes that read them
    }
    if (!active || part != 0 || lane >= C * NT) {
        return;
    }
    int c = lane / NT;
    int t = lane % NT;
    if (t >= tokens) {
        return;
    }
    float sum = 0.f;
#pragma unroll
    for (int p = 0; p < S; p++) {
        sum += partial[warp + p][c][t];
    }
    long long i = static_cast<long long>(t) * h + c0 + c;
    out[i] = fromFloat<T>((residual != nullptr ? toFloat(residual[i]) : 0.f) + sum);
}

// The two skinny GEMMs of the few-token path, with the token count rounded up to a power of two
// as the kernels' register tile (NT), and the tilings above (one column and one warp a column where
// they do not divide the sizes).
template <typename T, typename NW, bool VEC, int NT, int GATE_UP_COLUMNS, int GATE_UP_UNROLL, int DOWN_COLUMNS,
    int DOWN_UNROLL, int DOWN_SPLIT>
void launchSkinnyTiled(T const* hidden, NW const* textNorm, NW const* audioNorm, float eps, void const* mask,
    bool maskIsInt, int tokens, T const* textGateUp, T const* audioGate, T const* audioUp, T const* textDown,
    T const* audioDown, T* act, T const* residual, T* out, int h, int inter, cudaStream_t stream) {
    constexpr int kThreads = kSkinnyWarps * 32;
    constexpr int cu = GATE_UP_COLUMNS;
    constexpr int cd = DOWN_COLUMNS;
    constexpr int sd = DOWN_SPLIT;
    static_assert(kSkinnyWarps % sd == 0, "down tiling");
    dim3 one(1, 1, 1);
    // the prefetch shares of one path's rows (gate and up rows whole; down rows in sd slices)
    unsigned gateUpPrefetch = VEC ? prefetchShare(2LL * inter, static_cast<long long>(h) * sizeof(T)) : 0u;
    bool early = earlyWeights(kDependentFfn);
    // launch errors are left for the caller's cudaGetLastError
    if (inter % cu == 0) {
        unsigned blocks = (inter / cu + kSkinnyWarps - 1) / kSkinnyWarps;
        launchDependent(kDependentFfn, skinnyGateUpKernel<T, NW, VEC, NT, cu, GATE_UP_UNROLL>, blocks, kThreads, 0, stream, one,
            hidden, textNorm, audioNorm, eps, mask, maskIsInt, tokens, textGateUp, audioGate, audioUp, act, h, inter,
            gateUpPrefetch, early);
    } else {
        launchDependent(kDependentFfn, skinnyGateUpKernel<T, NW, VEC, NT, 1, GATE_UP_UNROLL>,
            (inter + kSkinnyWarps - 1) / kSkinnyWarps, kThreads, 0, stream, one,
            hidden, textNorm, audioNorm, eps, mask, maskIsInt, tokens, textGateUp, audioGate, audioUp, act, h, inter,
            gateUpPrefetch, early);
    }
    if (h % cd == 0 && inter % (sd * Vec<T>::N) == 0) {
        unsigned blocks = (h / cd * sd + kSkinnyWarps - 1) / kSkinnyWarps;
        unsigned downPrefetch = VEC ? prefetchShare(static_cast<long long>(h) * sd,
            static_cast<long long>(inter / sd) * sizeof(T)) : 0u;
        launchDependent(kDependentFfn, skinnyDownKernel<T, VEC, NT, cd, DOWN_UNROLL, sd>, blocks, kThreads, 0, stream, one,
            act, mask, maskIsInt, tokens, textDown, audioDown, residual, out, h, inter, downPrefetch, early);
    } else {
        launchDependent(kDependentFfn, skinnyDownKernel<T, VEC, NT, 1, DOWN_UNROLL, 1>, (h + kSkinnyWarps - 1) / kSkinnyWarps,
            kThreads, 0, stream, one, act, mask, maskIsInt, tokens, textDown, audioDown, residual, out, h, inter, 0u,
            early);
    }
}

#ifdef HIGGS_TRT_TILING_KNOBS
// Hand-run benchmarks only (decode_step_bench.cu): HIGGS_TRT_FFN_TILING="GATE_UP_COLUMNS,GATE_UP_UNROLL,
// DOWN_UNROLL,DOWN_SPLIT" replaces the one-token tilings (down keeps 2 columns).
template <typename T, typename NW, int GC, int GU>
bool launchKnobDown(int du, int ds, T const* hidden, NW const* textNorm, NW const* audioNorm, float eps,
    void const* mask, bool maskIsInt, int tokens, T const* textGateUp, T const* audioGate, T const* audioUp,
    T const* textDown, T const* audioDown, T* act, T const* residual, T* out, int h, int inter, cudaStream_t stream) {
#define HX_KNOB(DU, DS)                                                                                              \
    if (du == DU && ds == DS) {                                                                                    \
        launchSkinnyTiled<T, NW, true, 1, GC, GU, 2, DU, DS>(hidden, textNorm, audioNorm, eps, mask, maskIsInt, tokens, \
            textGateUp, audioGate, audioUp, textDown, audioDown, act, residual, out, h, inter, stream);            \
        return true;                                                                                               \
    }
    HX_KNOB(1, 2) HX_KNOB(1, 4) HX_KNOB(1, 8) HX_KNOB(2, 2) HX_KNOB(2, 4) HX_KNOB(2, 8)
#undef HX_KNOB
    return false;
}

template <typename T, typename NW>
bool launchKnobs(T const* hidden, NW const* textNorm, NW const* audioNorm, float eps, void const* mask, bool maskIsInt,
    int tokens, T const* textGateUp, T const* audioGate, T const* audioUp, T const* textDown, T const* audioDown, T* act,
    T const* residual, T* out, int h, int inter, cudaStream_t stream) {
    char const* v = std::getenv("HIGGS_TRT_FFN_TILING");
    int gc = 4, gu = 1, du = 1, ds = 4;
    if (v == nullptr || tokens != 1 || std::sscanf(v, "%d,%d,%d,%d", &gc, &gu, &du, &ds) != 4) {
        return false;
    }
#define HX_KNOB_ARGS du, ds, hidden, textNorm, audioNorm, eps, mask, maskIsInt, tokens, textGateUp, audioGate, audioUp, \
    textDown, audioDown, act, residual, out, h, inter, stream
    if (gc == 2 && gu == 1) return launchKnobDown<T, NW, 2, 1>(HX_KNOB_ARGS);
    if (gc == 2 && gu == 2) return launchKnobDown<T, NW, 2, 2>(HX_KNOB_ARGS);
    if (gc == 4 && gu == 1) return launchKnobDown<T, NW, 4, 1>(HX_KNOB_ARGS);
    if (gc == 4 && gu == 2) return launchKnobDown<T, NW, 4, 2>(HX_KNOB_ARGS);
#undef HX_KNOB_ARGS
    return false;
}
#endif

template <typename T, typename NW, bool VEC, int NT>
void launchSkinny(T const* hidden, NW const* textNorm, NW const* audioNorm, float eps, void const* mask, bool maskIsInt,
    int tokens, T const* textGateUp, T const* audioGate, T const* audioUp, T const* textDown, T const* audioDown, T* act,
    T const* residual, T* out, int h, int inter, cudaStream_t stream) {
    static_assert(kGateUpTiling.split == 1, "the gate/up kernel gives each column one warp");
    constexpr SkinnyTiling kDown = downTiling(NT);
    launchSkinnyTiled<T, NW, VEC, NT, kGateUpTiling.columns, kGateUpTiling.unroll, kDown.columns, kDown.unroll,
        kDown.split>(hidden, textNorm, audioNorm, eps, mask, maskIsInt, tokens, textGateUp, audioGate, audioUp, textDown,
        audioDown, act, residual, out, h, inter, stream);
}

template <typename T, typename NW, bool VEC>
void launchSkinny(T const* hidden, NW const* textNorm, NW const* audioNorm, float eps, void const* mask, bool maskIsInt,
    int tokens, T const* textGateUp, T const* audioGate, T const* audioUp, T const* textDown, T const* audioDown, T* act,
    T const* residual, T* out, int h, int inter, cudaStream_t stream) {
#ifdef HIGGS_TRT_TILING_KNOBS
    if (VEC && inter % 4 == 0 && h % 4 == 0 && inter % (8 * Vec<T>::N) == 0
        && launchKnobs<T, NW>(hidden, textNorm, audioNorm, eps, mask, maskIsInt, tokens, textGateUp, audioGate, audioUp,
            textDown, audioDown, act, residual, out, h, inter, stream)) {
        return;
    }
#endif
    static_assert(kSmallTokens <= 8, "the token tiles below go up to 8");
    auto go = [&](auto nt) {
        launchSkinny<T, NW, VEC, decltype(nt)::value>(hidden, textNorm, audioNorm, eps, mask, maskIsInt, tokens, textGateUp,
            audioGate, audioUp, textDown, audioDown, act, residual, out, h, inter, stream);
    };
    if (tokens <= 1) {
        go(std::integral_constant<int, 1>{});
    } else if (tokens <= 2) {
        go(std::integral_constant<int, 2>{});
    } else if (tokens <= 4) {
        go(std::integral_constant<int, 4>{});
    } else {
        go(std::integral_constant<int, 8>{});
    }
}

// Splits the tokens into the two index lists, in order, with one block: counts[0] text tokens,
// counts[1] audio tokens.
__global__ void compactKernel(void const* mask, bool maskIsInt, int tokens, int* textIdx, int* audioIdx, int* counts) {
    __shared__ int warpAudio[32];
    __shared__ int base[2];
    gridDependencyWait();
    if (threadIdx.x == 0) {
        base[0] = 0;
        base[1] = 0;
    }
    __syncthreads();
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    int warps = blockDim.x >> 5;
    for (int start = 0; start < tokens; start += blockDim.x) {
        int t = start + threadIdx.x;
        bool valid = t < tokens;
        bool audio = valid && isAudio(mask, maskIsInt, t);
        unsigned ballot = __ballot_sync(0xffffffffu, audio);
        int audioBefore = __popc(ballot & ((1u << lane) - 1));
        if (lane == 0) {
            warpAudio[warp] = __popc(ballot);
        }
        __syncthreads();
        int audioWarpOffset = 0;
        int audioChunk = 0;
        for (int i = 0; i < warps; i++) {
            audioWarpOffset += i < warp ? warpAudio[i] : 0;
            audioChunk += warpAudio[i];
        }
        int chunk = min(static_cast<int>(blockDim.x), tokens - start);
        int audioRank = audioWarpOffset + audioBefore;
        int textRank = (t - start) - audioRank;
        if (valid) {
            if (audio) {
                audioIdx[base[1] + audioRank] = t;
            } else {
                textIdx[base[0] + textRank] = t;
            }
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            base[1] += audioChunk;
            base[0] += chunk - audioChunk;
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        counts[0] = base[0];
        counts[1] = base[1];
    }
}

template <typename Index>
struct ChunkPlace {
    Index row, chunk;
};

// Where flat chunk i of rows of perRow chunks lies.
template <typename Index>
__device__ inline ChunkPlace<Index> placeOf(Index i, Index perRow) {
    Index r = i / perRow;
    return {r, i - r * perRow};
}

// act[r] = silu(gate_r) * up_r over all rows' chunks in one flat grid, U chunks a thread in flight
// (2 chunks a thread and 8 blocks an SM: 11.3-13.7 us for 512 rows of the full model on H200s, 14.1-14.6
// with a block per row and a chunk a thread; prefill_ffn_bench.cu). Rows from upFirstFrom on hold
// [up, gate] (the audio path's batched GEMM writes them so where up lies below gate). W elements a
// chunk: 16 bytes where rows are aligned, else one. The index is 32-bit where it fits: a 64-bit
// division per element once made this kernel a twentieth of a prefill's FFN time.
template <typename T, int W, int U, typename Index>
__global__ void siluMulKernel(T const* gateUp, T* act, Index rows, int inter, Index upFirstFrom) {
    using Chunk = std::conditional_t<W == 1, T, higgs::Vec<T>>;
    static_assert(sizeof(Chunk) == W * sizeof(T), "W elements a chunk");
    gridDependencyWait();
    Index perRow = static_cast<Index>(inter / W);
    Index chunks = rows * perRow;
    Index step = static_cast<Index>(gridDim.x) * blockDim.x * U;
    for (Index base = static_cast<Index>(blockIdx.x) * blockDim.x * U + threadIdx.x; base < chunks; base += step) {
        Chunk g[U];
        Chunk u[U];
#pragma unroll
        for (int k = 0; k < U; k++) {
            Index i = base + static_cast<Index>(k) * blockDim.x;
            if (i < chunks) {
                ChunkPlace<Index> at = placeOf(i, perRow);
                auto row = reinterpret_cast<Chunk const*>(gateUp + static_cast<long long>(at.row) * 2 * inter);
                bool upFirst = at.row >= upFirstFrom;
                g[k] = row[upFirst ? perRow + at.chunk : at.chunk];
                u[k] = row[upFirst ? at.chunk : perRow + at.chunk];
            }
        }
#pragma unroll
        for (int k = 0; k < U; k++) {
            Index i = base + static_cast<Index>(k) * blockDim.x;
            if (i < chunks) {
                ChunkPlace<Index> at = placeOf(i, perRow);
                T const* ge = reinterpret_cast<T const*>(&g[k]);
                T const* ue = reinterpret_cast<T const*>(&u[k]);
                Chunk y;
                T* ye = reinterpret_cast<T*>(&y);
#pragma unroll
                for (int e = 0; e < W; e++) {
                    ye[e] = fromFloat<T>(silu(toFloat(ge[e])) * toFloat(ue[e]));
                }
                reinterpret_cast<Chunk*>(act + static_cast<long long>(at.row) * inter)[at.chunk] = y;
            }
        }
    }
}

// siluMulKernel over rows of gate/up, as many blocks as 8 an SM at most.
template <typename T>
void launchSiluMul(T const* gateUp, T* act, int rows, int inter, int upFirstFrom, cudaStream_t stream) {
    constexpr int kChunk = higgs::Vec<T>::N;
    constexpr int kInFlight = 2;
    bool chunked = inter % kChunk == 0
        && (reinterpret_cast<uintptr_t>(gateUp) | reinterpret_cast<uintptr_t>(act)) % 16 == 0;
    long long chunks = static_cast<long long>(rows) * (chunked ? inter / kChunk : inter);
    int device = 0;
    int sms = 132;
    if (cudaGetDevice(&device) != cudaSuccess || cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
        sms = 132;
    }
    long long wanted = (chunks + 256 * kInFlight - 1) / (256 * kInFlight);
    unsigned blocks = static_cast<unsigned>(std::max(1LL, std::min(wanted, 8LL * sms)));
    bool narrow = chunks + 256LL * kInFlight * blocks < (1LL << 31);
    dim3 one(1, 1, 1);
    if (chunked && narrow) {
        launchDependent(kDependentManyTokens, siluMulKernel<T, kChunk, kInFlight, unsigned>, blocks, 256, 0, stream, one,
            gateUp, act, static_cast<unsigned>(rows), inter, static_cast<unsigned>(upFirstFrom));
    } else if (chunked) {
        launchDependent(kDependentManyTokens, siluMulKernel<T, kChunk, kInFlight, long long>, blocks, 256, 0, stream, one,
            gateUp, act, rows, inter, upFirstFrom);
    } else if (narrow) {
        launchDependent(kDependentManyTokens, siluMulKernel<T, 1, kInFlight, unsigned>, blocks, 256, 0, stream, one,
            gateUp, act, static_cast<unsigned>(rows), inter, static_cast<unsigned>(upFirstFrom));
    } else {
        launchDependent(kDependentManyTokens, siluMulKernel<T, 1, kInFlight, long long>, blocks, 256, 0, stream, one,
            gateUp, act, rows, inter, upFirstFrom);
    }
}

// Where the down GEMMs leave their FP32 sums: a path's rows in `splits` planes of its rows each (the
// GEMM's K in that many parts, added here), the text path's planes first.
struct DownSums {
    float const* sums;
    int textCount, audioCount;
    int textSplits, audioSplits;
};

// out[token of compacted row r] = residual + the sum of down's planes at r, W elements a thread (4
// where the rows allow 16-byte loads of down: ncu timed the element loop at 9.7 us a layer of a
// 512-position prefill).
template <typename T, int W>
__global__ void scatterResidualKernel(DownSums down, int const* textIdx, int const* audioIdx, T const* residual, T* out,
    int h) {
    gridDependencyWait();
    int r = blockIdx.x;
    bool audio = r >= down.textCount;
    int token = sourceRow(r, down.textCount, textIdx, audioIdx);
    if (token < 0 || token >= static_cast<int>(gridDim.x)) {
        return;   // a list entry the compaction did not write (a text count that disagrees with the mask)
    }
    long long dst = static_cast<long long>(token) * h;
    int splits = audio ? down.audioSplits : down.textSplits;
    long long plane = static_cast<long long>(audio ? down.audioCount : down.textCount) * h;
    float const* d = down.sums + (audio ? down.textSplits * static_cast<long long>(down.textCount) * h : 0)
        + static_cast<long long>(audio ? r - down.textCount : r) * h;
    for (int i = threadIdx.x * W; i < h; i += blockDim.x * W) {
        float v[W] = {};
        for (int p = 0; p < splits; p++) {
            if constexpr (W == 4) {
                float4 q = *reinterpret_cast<float4 const*>(d + p * plane + i);
                v[0] += q.x;
                v[1] += q.y;
                v[2] += q.z;
                v[3] += q.w;
            } else {
                v[0] += d[p * plane + i];
            }
        }
#pragma unroll
        for (int e = 0; e < W; e++) {
            out[dst + i + e] = fromFloat<T>((residual != nullptr ? toFloat(residual[dst + i + e]) : 0.f) + v[e]);
        }
    }
}

// The parts a path's down GEMM splits its K (the intermediate size) into, for n tokens: on the H200
// (prefill_ffn_bench.cu sweep, BF16, full model) 4 parts took 16.1-17.7 us against 18.2-19.6 for up to
// 64 tokens, 2 parts 22.7 against 27.2 at 256, none was best from 384 on. A part must start on a
// 16-byte boundary, and cuBLAS must have the strided-batched GEMM.
constexpr int kDownSplit4Below = 96;
constexpr int kDownSplit2UpTo = 320;
// rows the split adds to a path at most (95 x 3 or 320 x 1): the workspace's bound
constexpr int kDownSplitExtraRows = 3 * (kDownSplit4Below - 1) > kDownSplit2UpTo ? 3 * (kDownSplit4Below - 1) : kDownSplit2UpTo;

int downSplits(int n, int inter, size_t elementBytes) {
    if (!higgs::hasStridedGemm()) {
        return 1;
    }
    int s = n < kDownSplit4Below ? 4 : n <= kDownSplit2UpTo ? 2 : 1;
    while (s > 1 && (inter % s != 0 || (inter / s) * elementBytes % 16 != 0)) {
        s /= 2;
    }
    return s;
}

// ---------------------------------------------------------------------------------------------
// Workspace: one layout function for getWorkspaceSize and enqueue.

size_t alignUp(size_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

struct Workspace {
    size_t textIdx, audioIdx, counts, normed, gateUp, act, down, smallAct, cublas, total;
};

size_t elementSize(DataType t) { return t == DataType::kFLOAT ? 4 : 2; }

Workspace layout(long long tokens, int h, int inter, DataType type) {
    size_t es = elementSize(type);
    size_t t = static_cast<size_t>(tokens);
    Workspace w{};
    size_t at = 0;
    auto take = [&at](size_t bytes) {
        size_t start = at;
        at = alignUp(at + bytes);
        return start;
    };
    w.textIdx = take(t * 4);
    w.audioIdx = take(t * 4);
    w.counts = take(16);
    w.normed = take(t * h * es);
    w.gateUp = take(t * 2 * inter * es);
    w.act = take(t * inter * es);
    // each path's down sums in up to 4 planes (downSplits): at most 4 x tokens rows, and at most
    // kDownSplitExtraRows more than its rows a path
    w.down = take(std::min(4 * t, t + 2 * static_cast<size_t>(kDownSplitExtraRows)) * h * 4);
    w.smallAct = take(static_cast<size_t>(kSmallTokens) * inter * 4);
    w.cublas = take(kCublasWorkspace);
    w.total = at;
    return w;
}

long long tokenCount(Dims const& d) {
    long long n = 1;
    for (int i = 0; i + 1 < d.nbDims; i++) {
        n *= d.d[i];
    }
    return n;
}

using higgs::volume;

cudaDataType cudaType(DataType t) {
    return t == DataType::kFLOAT ? CUDA_R_32F : t == DataType::kHALF ? CUDA_R_16F : CUDA_R_16BF;
}

// ---------------------------------------------------------------------------------------------

class DualFfnPlugin final : public IPluginV3, public IPluginV3OneCore, public IPluginV3OneBuild,
                            public IPluginV3OneRuntime {
public:
    DualFfnPlugin(int hidden, int inter, float eps, int residual)
        : hidden_(hidden), inter_(inter), eps_(eps), residual_(residual) {
        gLivePlugins.fetch_add(1);
        fields_[0] = PluginField{"hidden_size", &hidden_, PluginFieldType::kINT32, 1};
        fields_[1] = PluginField{"intermediate_size", &inter_, PluginFieldType::kINT32, 1};
        fields_[2] = PluginField{"eps", &eps_, PluginFieldType::kFLOAT32, 1};
        fields_[3] = PluginField{"residual", &residual_, PluginFieldType::kINT32, 1};
        collection_.nbFields = 4;
        collection_.fields = fields_;
    }

    DualFfnPlugin(DualFfnPlugin const& other) : DualFfnPlugin(other.hidden_, other.inter_, other.eps_, other.residual_) {
        cublas_ = other.cublas_;
        if (other.hostCounts_ != nullptr && cudaMallocHost(&hostCounts_, 2 * sizeof(int)) != cudaSuccess) {
            hostCounts_ = nullptr;
        }
    }

    ~DualFfnPlugin() override {
        if (hostCounts_ != nullptr) {
            cudaFreeHost(hostCounts_);
        }
        gLivePlugins.fetch_sub(1);
    }

    // IPluginV3
    IPluginCapability* getCapabilityInterface(PluginCapabilityType type) noexcept override {
        count(mGetCapabilityInterface);
        switch (type) {
        case PluginCapabilityType::kCORE: return static_cast<IPluginV3OneCore*>(this);
        case PluginCapabilityType::kBUILD: return static_cast<IPluginV3OneBuild*>(this);
        case PluginCapabilityType::kRUNTIME: return static_cast<IPluginV3OneRuntime*>(this);
        }
        return nullptr;
    }

    IPluginV3* clone() noexcept override {
        count(mClone);
        return new (std::nothrow) DualFfnPlugin(*this);
    }

    // IPluginV3OneCore
    AsciiChar const* getPluginName() const noexcept override {
        count(mGetPluginName);
        return kPluginName;
    }
    AsciiChar const* getPluginVersion() const noexcept override {
        count(mGetPluginVersion);
        return kPluginVersion;
    }
    AsciiChar const* getPluginNamespace() const noexcept override {
        count(mGetPluginNamespace);
        return higgs::kPluginNamespace;
    }

    // IPluginV3OneBuild
    int32_t configurePlugin(DynamicPluginTensorDesc const* in, int32_t nbInputs, DynamicPluginTensorDesc const* out,
        int32_t nbOutputs) noexcept override {
        count(mConfigurePlugin);
        if (!arity(nbInputs, nbOutputs)) {
            return -1;
        }
        Dims const& x = in[0].desc.dims;
        long long h = hidden_;
        long long i2 = 2LL * inter_;
        long long i1 = inter_;
        if (x.nbDims < 2 || (x.d[x.nbDims - 1] != -1 && x.d[x.nbDims - 1] != h)) {
            gErrors.set("dual FFN: hidden must be [..., %lld], got rank %d with last dimension %lld", h, x.nbDims,
                x.nbDims > 0 ? static_cast<long long>(x.d[x.nbDims - 1]) : -1LL);
            return -1;
        }
        long long expected[kInputs][2] = {{0, 0}, {0, 0}, {h, 1}, {h, 1}, {i2, h}, {h, i1}, {i1, h}, {i1, h}, {h, i1}};
        for (int i = 2; i < kInputs; i++) {
            Dims const& d = in[i].desc.dims;
            bool ok;
            if (i <= 3) {
                ok = volume(d) == h || (d.nbDims >= 1 && d.d[d.nbDims - 1] == h && volume(d) < 0);
            } else {
                ok = d.nbDims == 2 && d.d[0] == expected[i][0] && d.d[1] == expected[i][1];
            }
            if (!ok) {
                std::string want = i <= 3 ? "[" + std::to_string(h) + "]"
                                          : "[" + std::to_string(expected[i][0]) + ", " + std::to_string(expected[i][1]) + "]";
                gErrors.set("dual FFN: input %d (%s) has shape %s, expected %s (hidden size %d, intermediate size %d)", i,
                    kInputNames[i], describe(d).c_str(), want.c_str(), hidden_, inter_);
                return -1;
            }
        }
        return 0;
    }

    int32_t getOutputDataTypes(DataType* outputTypes, int32_t nbOutputs, DataType const* inputTypes,
        int32_t nbInputs) const noexcept override {
        count(mGetOutputDataTypes);
        if (!arity(nbInputs, nbOutputs)) {
            return -1;
        }
        outputTypes[0] = inputTypes[0];
        return 0;
    }

    int32_t getOutputShapes(DimsExprs const* inputs, int32_t nbInputs, DimsExprs const*, int32_t,
        DimsExprs* outputs, int32_t nbOutputs, IExprBuilder&) noexcept override {
        count(mGetOutputShapes);
        if (!arity(nbInputs, nbOutputs)) {
            return -1;
        }
        outputs[0] = inputs[0];
        return 0;
    }

    bool supportsFormatCombination(int32_t pos, DynamicPluginTensorDesc const* inOut, int32_t nbInputs,
        int32_t nbOutputs) noexcept override {
        count(mSupportsFormatCombination);
        if ((nbInputs != kInputs && nbInputs != kInputs + 1) || nbOutputs != 1 || pos < 0 || pos > nbInputs) {
            return false;
        }
        PluginTensorDesc const& d = inOut[pos].desc;
        if (d.format != TensorFormat::kLINEAR) {
            return false;
        }
        DataType hiddenType = inOut[0].desc.type;
        if (nbInputs == kInputs + 1 && pos == kInputs) {
            if (d.type != DataType::kINT32) {
                gErrors.set("dual FFN: text_tokens has type %s; supported: INT32", typeName(d.type));
                return false;
            }
            return true;
        }
        bool ok;
        if (pos == 0) {
            ok = higgs::isComputeType(d.type);
        } else if (pos == 1) {
            ok = d.type == DataType::kBOOL || d.type == DataType::kINT32;
        } else if (pos == 2 || pos == 3) {
            ok = d.type == DataType::kFLOAT || d.type == hiddenType;
        } else {
            ok = d.type == hiddenType;
        }
        bool hiddenSupported = higgs::isComputeType(hiddenType);
        if (!ok) {
            char const* name = pos < kInputs ? kInputNames[pos] : "output";
            if (pos == 0 || !hiddenSupported) {
                gErrors.set("dual FFN: hidden has type %s; supported: FLOAT, HALF, BF16", typeName(hiddenType));
            } else if (pos == 0) {
                gErrors.set("dual FFN: hidden has type %s; supported: FLOAT, HALF, BF16", typeName(d.type));
            } else if (pos == 1) {
                gErrors.set("dual FFN: audio_mask has type %s; supported: BOOL, INT32", typeName(d.type));
            } else {
                gErrors.set("dual FFN: %s has type %s but hidden is %s", name, typeName(d.type), typeName(hiddenType));
            }
        }
        return ok;
    }

    int32_t getNbOutputs() const noexcept override {
        count(mGetNbOutputs);
        return 1;
    }

    size_t getWorkspaceSize(DynamicPluginTensorDesc const* inputs, int32_t nbInputs, DynamicPluginTensorDesc const*,
        int32_t) const noexcept override {
        count(mGetWorkspaceSize);
        if (nbInputs != kInputs && nbInputs != kInputs + 1) {
            return 0;
        }
        return layout(tokenCount(inputs[0].max), hidden_, inter_, inputs[0].desc.type).total;
    }

    int32_t getValidTactics(int32_t*, int32_t) noexcept override {
        count(mGetValidTactics);
        return 0;
    }
    int32_t getNbTactics() noexcept override {
        count(mGetNbTactics);
        return 0;
    }
    char const* getTimingCacheID() noexcept override {
        count(mGetTimingCacheID);
        return nullptr;
    }
    int32_t getFormatCombinationLimit() noexcept override {
        count(mGetFormatCombinationLimit);
        return kDEFAULT_FORMAT_COMBINATION_LIMIT;
    }
    char const* getMetadataString() noexcept override {
        count(mGetMetadataString);
        return "HiggsDualFfn: per-token text/audio FFN";
    }

    // IPluginV3OneRuntime
    int32_t setTactic(int32_t) noexcept override {
        count(mSetTactic);
        return 0;
    }

    int32_t onShapeChange(PluginTensorDesc const* in, int32_t nbInputs, PluginTensorDesc const*, int32_t nbOutputs)
        noexcept override {
        count(mOnShapeChange);
        if (!arity(nbInputs, nbOutputs)) {
            return -1;
        }
        long long tokens = tokenCount(in[0].dims);
        textCountGiven_ = nbInputs == kInputs + 1;
        if (textCountGiven_ && (in[kInputs].dims.nbDims != 1 || in[kInputs].dims.d[0] > tokens)) {
            gErrors.set("dual FFN: text_tokens %s for %lld tokens: expected [text positions]", describe(in[kInputs].dims).c_str(),
                tokens);
            return -1;
        }
        if (volume(in[1].dims) != tokens) {
            gErrors.set("dual FFN: audio_mask %s has %lld values for %lld tokens", describe(in[1].dims).c_str(),
                volume(in[1].dims), tokens);
            return -1;
        }
        return 0;
    }

    int32_t enqueue(PluginTensorDesc const* inputDesc, PluginTensorDesc const*, void const* const* inputs,
        void* const* outputs, void* workspace, cudaStream_t stream) noexcept override {
        count(mEnqueue);
        if (cublas_ == nullptr) {
            // not attached to a context (TensorRT attaches before running; this is the safety net)
            cublas_ = cublasHandleForCurrentDevice();
            if (cublas_ == nullptr) {
                return -1;
            }
        }
        long long tokens = tokenCount(inputDesc[0].dims);
        if (tokens == 0) {
            return 0;
        }
        if (tokens > (1LL << 30)) {
            gErrors.set("dual FFN: %lld tokens is more than supported", tokens);
            return -1;
        }
        DataType type = inputDesc[0].type;
        DataType normType = inputDesc[2].type;
        int status;
        if (type == DataType::kFLOAT) {
            status = normType == DataType::kFLOAT ? run<float, float>(inputDesc, inputs, outputs, workspace, stream)
                                                  : -1;
        } else if (type == DataType::kHALF) {
            status = normType == DataType::kFLOAT ? run<__half, float>(inputDesc, inputs, outputs, workspace, stream)
                                                  : run<__half, __half>(inputDesc, inputs, outputs, workspace, stream);
        } else if (type == DataType::kBF16) {
            status = normType == DataType::kFLOAT
                ? run<__nv_bfloat16, float>(inputDesc, inputs, outputs, workspace, stream)
                : run<__nv_bfloat16, __nv_bfloat16>(inputDesc, inputs, outputs, workspace, stream);
        } else {
            gErrors.set("dual FFN: hidden type %s is not supported", typeName(type));
            return -1;
        }
        return status;
    }

    IPluginV3* attachToContext(IPluginResourceContext*) noexcept override {
        count(mAttachToContext);
        cublasHandle_t handle = cublasHandleForCurrentDevice();
        if (handle == nullptr) {
            return nullptr;
        }
        DualFfnPlugin* attached = new (std::nothrow) DualFfnPlugin(*this);
        if (attached == nullptr) {
            return nullptr;
        }
        attached->cublas_ = handle;
        if (cudaMallocHost(&attached->hostCounts_, 2 * sizeof(int)) != cudaSuccess) {
            gErrors.set("dual FFN: cudaMallocHost of 8 bytes failed");
            delete attached;
            return nullptr;
        }
        return attached;
    }

    PluginFieldCollection const* getFieldsToSerialize() noexcept override {
        count(mGetFieldsToSerialize);
        return &collection_;
    }

private:
    // TensorRT hands every call the layer's input and output counts; anything but 9 (or 10) and 1 is a misuse.
    static bool arity(int32_t nbInputs, int32_t nbOutputs) {
        if ((nbInputs == kInputs || nbInputs == kInputs + 1) && nbOutputs == 1) {
            return true;
        }
        gErrors.set("dual FFN: %d inputs and %d outputs, expected %d (or %d with text_tokens) and 1", nbInputs, nbOutputs,
            kInputs, kInputs + 1);
        return false;
    }

    static std::string describe(Dims const& d) {
        std::string s = "[";
        for (int i = 0; i < d.nbDims; i++) {
            s += (i ? ", " : "") + std::to_string(static_cast<long long>(d.d[i]));
        }
        return s + "]";
    }

    bool gemm(int m, int n, int k, void const* w, int ldw, void const* x, int ldx, void* c, cudaDataType cType, int ldc,
        cudaDataType abType) {
        std::string error;
        if (!higgs::gemmRowMajor(cublas_, m, n, k, w, ldw, x, ldx, 0.f, c, cType, ldc, abType, &error)) {
            gErrors.set("dual FFN: %s", error.c_str());
            return false;
        }
        return true;
    }

    // higgs::gemmStridedRowMajor on the plugin's handle, counted in gBatchedGemms; a failure in gErrors.
    bool stridedGemm(int m, int n, int k, void const* w, int ldw, long long strideW, void const* x, int ldx,
        long long strideX, void* c, cudaDataType cType, int ldc, long long strideC, int batch, cudaDataType abType) {
        std::string error;
        if (!higgs::gemmStridedRowMajor(cublas_, m, n, k, w, ldw, strideW, x, ldx, strideX, c, cType, ldc, strideC, batch,
                abType, &error)) {
            gErrors.set("dual FFN: %s", error.c_str());
            return false;
        }
        gBatchedGemms.fetch_add(1, std::memory_order_relaxed);
        return true;
    }

    // The audio path's gate and up rows of its n tokens into ga (rows of 2 x inter): one strided-batched
    // GEMM over the two weights where cuBLAS has it and they lie a whole number of 16-byte chunks apart
    // (37.4 us against 42.5 for two GEMMs at 256 tokens, 26.9 against 31.7 at 8, on the H200). The batch
    // starts at the lower address, so where up lies below gate the rows come out [up, gate] and
    // *upFirst says so; otherwise the two GEMMs of before.
    bool audioGateUp(int n, void const* gate, void const* up, void const* xa, char* ga, bool* upFirst, cudaDataType ab,
        size_t es) {
        int const h = hidden_;
        int const inter = inter_;
        long long distance = static_cast<long long>(reinterpret_cast<uintptr_t>(up) - reinterpret_cast<uintptr_t>(gate));
        if (higgs::hasStridedGemm() && distance != 0 && distance % 16 == 0) {
            *upFirst = distance < 0;
            void const* low = distance < 0 ? up : gate;
            long long stride = (distance < 0 ? -distance : distance) / static_cast<long long>(es);
            return stridedGemm(inter, n, h, low, h, stride, xa, h, 0, ga, ab, 2 * inter, inter, 2, ab);
        }
        *upFirst = false;
        return gemm(inter, n, h, gate, h, xa, h, ga, ab, 2 * inter, ab)
            && gemm(inter, n, h, up, h, xa, h, ga + inter * es, ab, 2 * inter, ab);
    }

    // A path's down GEMM of its n rows of act into `splits` FP32 planes of n rows at sums (downSplits).
    bool downGemm(int n, int splits, void const* w, void const* x, float* sums, cudaDataType ab) {
        int const h = hidden_;
        int const inter = inter_;
        if (splits == 1) {
            return gemm(h, n, inter, w, inter, x, inter, sums, CUDA_R_32F, h, ab);
        }
        int part = inter / splits;
        return stridedGemm(h, n, part, w, inter, part, x, inter, part, sums, CUDA_R_32F, h, static_cast<long long>(n) * h,
            splits, ab);
    }

    template <typename T, typename NW>
    int run(PluginTensorDesc const* desc, void const* const* inputs, void* const* outputs, void* workspace,
        cudaStream_t stream) {
        int const h = hidden_;
        int const inter = inter_;
        int const tokens = static_cast<int>(tokenCount(desc[0].dims));
        bool const maskIsInt = desc[1].type == DataType::kINT32;
        auto hidden = static_cast<T const*>(inputs[0]);
        void const* mask = inputs[1];
        auto textNorm = static_cast<NW const*>(inputs[2]);
        auto audioNorm = static_cast<NW const*>(inputs[3]);
        auto textGateUp = static_cast<T const*>(inputs[4]);
        auto textDown = static_cast<T const*>(inputs[5]);
        auto audioGate = static_cast<T const*>(inputs[6]);
        auto audioUp = static_cast<T const*>(inputs[7]);
        auto audioDown = static_cast<T const*>(inputs[8]);
        auto out = static_cast<T*>(outputs[0]);
        T const* residual = residual_ != 0 ? hidden : nullptr;
        auto base = static_cast<char*>(workspace);
        Workspace ws = layout(tokens, h, inter, desc[0].type);

        if (tokens <= kSmallTokens) {
            auto act = reinterpret_cast<T*>(base + ws.smallAct);
            // one flag for both GEMMs (the vector path needs both row lengths in whole 16-byte chunks)
            if (h % Vec<T>::N == 0 && inter % Vec<T>::N == 0) {
                launchSkinny<T, NW, true>(hidden, textNorm, audioNorm, eps_, mask, maskIsInt, tokens, textGateUp, audioGate,
                    audioUp, textDown, audioDown, act, residual, out, h, inter, stream);
            } else {
                launchSkinny<T, NW, false>(hidden, textNorm, audioNorm, eps_, mask, maskIsInt, tokens, textGateUp, audioGate,
                    audioUp, textDown, audioDown, act, residual, out, h, inter, stream);
            }
            return launched();
        }

        auto textIdx = reinterpret_cast<int*>(base + ws.textIdx);
        auto audioIdx = reinterpret_cast<int*>(base + ws.audioIdx);
        auto counts = reinterpret_cast<int*>(base + ws.counts);
        int pageable[2] = {0, 0};
        int* host = hostCounts_ != nullptr ? hostCounts_ : pageable;
        if (textCountGiven_) {
            // the host knows the split: no round trip, so the call can be captured in a CUDA graph, and the norm
            // kernel compacts the rows itself
            host[0] = static_cast<int>(desc[kInputs].dims.d[0]);
            host[1] = tokens - host[0];
        } else {
            higgs::launchDependent(higgs::kDependentManyTokens, compactKernel, 1, 1024, 0, stream, dim3(1, 1, 1), mask,
                maskIsInt, tokens, textIdx, audioIdx, counts);
            if (cudaMemcpyAsync(host, counts, 2 * sizeof(int), cudaMemcpyDeviceToHost, stream) != cudaSuccess
                || cudaStreamSynchronize(stream) != cudaSuccess) {
                gErrors.set("dual FFN: reading the path counts failed: %s", cudaGetErrorString(cudaGetLastError()));
                return -1;
            }
        }
        int const nText = host[0];
        int const nAudio = host[1];
        if (nText + nAudio != tokens) {
            gErrors.set("dual FFN: %d text + %d audio positions for %d tokens", nText, nAudio, tokens);
            return -1;
        }
        auto normed = reinterpret_cast<T*>(base + ws.normed);
        auto gateUp = reinterpret_cast<T*>(base + ws.gateUp);
        auto act = reinterpret_cast<T*>(base + ws.act);
        auto down = reinterpret_cast<float*>(base + ws.down);
        size_t es = sizeof(T);
        higgs::normRows<T, NW>(textCountGiven_, tokens, hidden, mask, maskIsInt, textIdx, audioIdx, nText, textNorm,
            audioNorm, normed, h, eps_, stream);   // compacting where no compaction kernel ran

        std::lock_guard<std::mutex> lock(higgs::cublasMutex());
        if (higgs::cublas().setStream(cublas_, stream) != kCublasSuccess
            || higgs::cublas().setWorkspace(cublas_, base + ws.cublas, kCublasWorkspace) != kCublasSuccess) {
            gErrors.set("dual FFN: cuBLAS stream or workspace could not be set");
            return -1;
        }
        cudaDataType ab = cudaType(desc[0].type);
        bool ok = true;
        if (nText > 0) {
            ok = ok && gemm(2 * inter, nText, h, textGateUp, h, normed, h, gateUp, ab, 2 * inter, ab);
        }
        bool audioUpFirst = false;
        if (nAudio > 0) {
            char const* xa = reinterpret_cast<char const*>(normed) + static_cast<size_t>(nText) * h * es;
            char* ga = reinterpret_cast<char*>(gateUp) + static_cast<size_t>(nText) * 2 * inter * es;
            ok = ok && audioGateUp(nAudio, audioGate, audioUp, xa, ga, &audioUpFirst, ab, es);
        }
        if (!ok) {
            return -1;
        }
        launchSiluMul(gateUp, act, tokens, inter, audioUpFirst ? nText : tokens, stream);
        DownSums sums{down, nText, nAudio, downSplits(nText, inter, es), downSplits(nAudio, inter, es)};
        if (nText > 0) {
            ok = ok && downGemm(nText, sums.textSplits, textDown, act, down, ab);
        }
        if (nAudio > 0) {
            char const* aa = reinterpret_cast<char const*>(act) + static_cast<size_t>(nText) * inter * es;
            ok = ok && downGemm(nAudio, sums.audioSplits, audioDown, aa,
                down + static_cast<size_t>(sums.textSplits) * nText * h, ab);
        }
        if (!ok) {
            return -1;
        }
        if (h % 4 == 0) {   // the workspace's down rows are 256-byte aligned, so h % 4 == 0 makes every row 16-byte aligned
            higgs::launchDependent(higgs::kDependentManyTokens, scatterResidualKernel<T, 4>, tokens, 256, 0, stream, dim3(1, 1, 1),
                sums, textIdx, audioIdx, residual, out, h);
        } else {
            higgs::launchDependent(higgs::kDependentManyTokens, scatterResidualKernel<T, 1>, tokens, 256, 0, stream, dim3(1, 1, 1),
                sums, textIdx, audioIdx, residual, out, h);
        }
        return launched();
    }

    static int launched() {
        cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess) {
            gErrors.set("dual FFN: kernel launch failed: %s", cudaGetErrorString(e));
            return -1;
        }
        return 0;
    }

    int32_t hidden_;
    int32_t inter_;
    float eps_;
    int32_t residual_;
    PluginField fields_[4];
    PluginFieldCollection collection_{};
    cublasHandle_t cublas_ = nullptr;
    int* hostCounts_ = nullptr;
    bool textCountGiven_ = false;
};

class DualFfnCreator final : public IPluginCreatorV3One {
public:
    DualFfnCreator() {
        fields_[0] = PluginField{"hidden_size", nullptr, PluginFieldType::kINT32, 1};
        fields_[1] = PluginField{"intermediate_size", nullptr, PluginFieldType::kINT32, 1};
        fields_[2] = PluginField{"eps", nullptr, PluginFieldType::kFLOAT32, 1};
        fields_[3] = PluginField{"residual", nullptr, PluginFieldType::kINT32, 1};
        collection_.nbFields = 4;
        collection_.fields = fields_;
    }

    IPluginV3* createPlugin(AsciiChar const*, PluginFieldCollection const* fc, TensorRTPhase) noexcept override {
        count(mCreatorCreatePlugin);
        if (fc == nullptr) {
            gErrors.set("dual FFN: no plugin fields given");
            return nullptr;
        }
        int hidden = -1;
        int inter = -1;
        float eps = -1.f;
        int residual = 1;
        for (int i = 0; i < fc->nbFields; i++) {
            PluginField const& f = fc->fields[i];
            if (f.name == nullptr || f.data == nullptr || f.length != 1) {
                continue;
            }
            if (std::strcmp(f.name, "hidden_size") == 0 && f.type == PluginFieldType::kINT32) {
                hidden = *static_cast<int32_t const*>(f.data);
            } else if (std::strcmp(f.name, "intermediate_size") == 0 && f.type == PluginFieldType::kINT32) {
                inter = *static_cast<int32_t const*>(f.data);
            } else if (std::strcmp(f.name, "eps") == 0 && f.type == PluginFieldType::kFLOAT32) {
                eps = *static_cast<float const*>(f.data);
            } else if (std::strcmp(f.name, "residual") == 0 && f.type == PluginFieldType::kINT32) {
                residual = *static_cast<int32_t const*>(f.data);
            }
        }
        if (hidden <= 0 || inter <= 0 || !(eps > 0.f) || !std::isfinite(eps) || (residual != 0 && residual != 1)) {
            gErrors.set("dual FFN: fields hidden_size (INT32 > 0), intermediate_size (INT32 > 0) and eps (FLOAT32 > 0) "
                     "are required, residual (INT32 0 or 1, default 1) is optional; got %d, %d, %g, %d",
                hidden, inter, static_cast<double>(eps), residual);
            return nullptr;
        }
        return new (std::nothrow) DualFfnPlugin(hidden, inter, eps, residual);
    }

    PluginFieldCollection const* getFieldNames() noexcept override {
        count(mCreatorGetFieldNames);
        return &collection_;
    }
    AsciiChar const* getPluginName() const noexcept override {
        count(mCreatorGetPluginName);
        return kPluginName;
    }
    AsciiChar const* getPluginVersion() const noexcept override {
        count(mCreatorGetPluginVersion);
        return kPluginVersion;
    }
    AsciiChar const* getPluginNamespace() const noexcept override {
        count(mCreatorGetPluginNamespace);
        return higgs::kPluginNamespace;
    }

private:
    PluginField fields_[4];
    PluginFieldCollection collection_{};
};

DualFfnCreator gCreator;

} // namespace

// ---------------------------------------------------------------------------------------------
// C entry points for the Java side (JNA).

HX_EXPORT IPluginCreatorV3One* higgs_dual_ffn_creator() { return &gCreator; }

// 0 when cuBLAS could be loaded; otherwise writes why into message.
HX_EXPORT int higgs_dual_ffn_init(char* message, int capacity) {
    std::string error;
    if (higgs::loadCublas(&error)) {
        return 0;
    }
    if (message != nullptr && capacity > 0) {
        std::snprintf(message, static_cast<size_t>(capacity), "%s", error.c_str());
    }
    return 1;
}

HX_EXPORT int higgs_dual_ffn_last_error(char* message, int capacity) {
    return gErrors.copyTo(message, capacity);
}

HX_EXPORT void higgs_dual_ffn_clear_error() { gErrors.clear(); }

HX_EXPORT int higgs_dual_ffn_method_count() { return kMethodCount; }

HX_EXPORT char const* higgs_dual_ffn_method_name(int method) {
    return method >= 0 && method < kMethodCount ? kMethodNames[method] : nullptr;
}

HX_EXPORT long long higgs_dual_ffn_calls(int method) {
    return method >= 0 && method < kMethodCount ? gCalls[method].load() : -1;
}

HX_EXPORT long long higgs_dual_ffn_live_plugins() { return gLivePlugins.load(); }

HX_EXPORT int higgs_dual_ffn_small_tokens() { return kSmallTokens; }

// How many strided-batched GEMMs the many-token path has made (0 where cuBLAS lacks them).
HX_EXPORT long long higgs_dual_ffn_batched_gemms() { return gBatchedGemms.load(); }

// Sets which decode kernels of the library's plugins are launched dependently (plugin_common.cuh's
// bits: 1 linear, 2 dual FFN, 4 attention) for the launches that follow; returns the previous mask.
// HIGGS_TRT_PDL=MASK sets the mask a process starts with.
HX_EXPORT int higgs_set_dependent_launch(int mask) { return higgs::dependentLaunches().exchange(mask & higgs::kDependentAll); }

// Deletes a plugin that the Java side created through the creator (TensorRT deletes its own clones).
HX_EXPORT void higgs_dual_ffn_destroy(IPluginV3* plugin) { delete plugin; }
