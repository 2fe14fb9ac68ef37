// A linear layer as a TensorRT 10 IPluginV3 (HiggsLinear): out = residual + RMSNorm?(x) . W^T, or
// one output per weight of several that share the input (q and k/v), for the attention's
// projections and the audio head of the packed network. TensorRT picks one GEMM
// tactic for the profile's optimum (64 tokens there), and at one token that tactic read the
// projections at 1.1 TB/s (ncu, session 10); this plugin reads them at about 3 TB/s.
//
//   inputs   0 x [T, in]                  FLOAT, HALF or BF16 (the compute type)
//            1..W weight w [out_w, in]      the compute type, W = 1 or 2
//            then with norm = 1: norm weight [in]                     FLOAT or the compute type
//                 with norm = 2: audio mask [T] or [T, 1] (BOOL or INT32), text norm weight [in],
//                                audio norm weight [in]: each token takes its path's norm
//            last, with residual = 1 (W = 1 only): residual [T, out], the compute type
//   outputs  w [T, out_w], the compute type
//   fields   in_features (INT32 > 0), out_features (INT32 > 0, one per weight), norm (INT32 0, 1 or
//            2; default 0), eps (FLOAT32 > 0, needed with a norm), residual (INT32 0 or 1; default 0)
//
// Two ways through, both without allocation or host synchronisation (a call can be captured in a
// CUDA graph):
//   few tokens (T <= kSmallTokens): one skinny kernel (skinny_gemm.cuh) that reads each weight row
//     once for all tokens, the norm's 1/rms found by each block and applied to the dot products,
//     the residual added on the way out.
//   more tokens: the norm into the workspace, then one GEMM a weight. With a residual, one cuBLASLt
//     call writes residual + x . W^T to the output (28 copies and their launch gaps fewer a prefill
//     than copying the residual into the output for cublasGemmEx to add onto, which is what runs
//     where the process has no cuBLASLt or HIGGS_TRT_CUBLASLT=0).
#include "trt_plugin_abi.h"
#include "plugin_common.cuh"
#include "cublas_runtime.h"
#include "skinny_gemm.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

using namespace nvinfer1;

namespace {

using namespace higgs;

constexpr char kPluginName[] = "HiggsLinear";
constexpr char kPluginVersion[] = "1";
// Up to this many tokens a call takes the skinny kernel: on the H200 (skinny_bench.cu) a second
// token cost it nearly as much again, while cuBLAS's GEMM takes as long for two tokens as for one.
constexpr int kSmallTokens = 1;
constexpr int kWarps = 8;
constexpr int kMaxWeights = 2;
// Skinny tilings chosen on the H200 by skinny_bench.cu at one token (BF16, 3072 inputs): two rows
// a warp; the q/k/v projection (5120 rows) with each row split over 2 warps, 10.3 us (cuBLAS
// 11.8); the output projection (3072 rows) over 4 warps, 7.3 us (cuBLAS 10.5). Outputs of at least
// kManyRowPairs row pairs take the 2-warp split.
constexpr int kColumns = 2;
constexpr int kManyRowPairs = 2048;
constexpr size_t kCublasWorkspace = size_t{32} << 20;
constexpr size_t kAlign = 256;

ErrorSlot gErrors;
std::atomic<long long> gLivePlugins{0};
std::atomic<long long> gEnqueues{0};
std::atomic<long long> gLtGemms{0};   // residual GEMMs done by cuBLASLt

// The weights of a call, their rows in turn, and the output of each.
template <typename T>
struct Weights {
    T const* w[kMaxWeights];
    T* out[kMaxWeights];
    int rows[kMaxWeights];
    int count;
};

// out_w[t, r] = residual[t, r] + (w_r . n_t) for the C rows r of each group of S warps (the rows of
// all weights in turn; C divides each weight's rows), where n_t is token t's input (norm 0) or its
// RMSNorm times the norm weight of its path (norm 1: textNorm for all; norm 2: audioNorm where the
// mask is set). The S partial sums meet in shared memory, and so do the S slices' sums of squares
// that the norm's 1/rms comes from. May be launched as a dependent launch.
template <typename T, typename NW, bool VEC, int NT, int C, int S, int NORM, int U = 1>
__global__ void __launch_bounds__(kWarps * 32) skinnyLinearKernel(T const* x, int tokens, Weights<T> weights,
    NW const* textNorm, NW const* audioNorm, void const* mask, bool maskIsInt, float eps, T const* residual, int cols,
    unsigned prefetch, bool early) {
    static_assert(C * NT <= 32, "one lane per row and token sums the partials");
    static_assert(kWarps % S == 0, "whole warp groups a block");
    if (early) {
        allowDependents();
    }
    __shared__ float partial[kWarps][C][NT];
    __shared__ float partialSquares[kWarps][NT];
    int warp = threadIdx.x >> 5;
    int r0 = (blockIdx.x * (kWarps / S) + warp / S) * C;
    int seg = 0;
    for (; seg + 1 < weights.count && r0 >= weights.rows[seg]; seg++) {
        r0 -= weights.rows[seg];
    }
    int rows = weights.rows[seg];
    T const* w = weights.w[seg];
    int part = warp % S;
    bool active = r0 < rows;
    int from = cols / S * part;
    int to = part == S - 1 ? cols : from + cols / S;
    float acc[C][NT];
    float squares[1][NT];
    zero(acc);
    zero(squares);
    int lane = threadIdx.x & 31;
    if (VEC && active && lane < C) {   // the first prefetch bytes of each of the warp's row slices
        prefetchL2(w + static_cast<long long>(r0 + lane) * cols + from, prefetch);
    }
    bool waited = !early;
    if (!early) {
        gridDependencyWait();
    }
    unsigned all = (1u << tokens) - 1;
    auto dots = [&](unsigned audio) {
        zero(acc);
        zero(squares);
        if (!active) {
            return;
        }
        T const* ws[C];
#pragma unroll
        for (int c = 0; c < C; c++) {
            ws[c] = w + static_cast<long long>(r0 + c) * cols;
        }
        if constexpr (NORM == 0) {
            dotRows<T, VEC, NT, C, U>(ws, PlainRows<T>{x}, acc, squares[0], cols, from, to, all, &waited);
        } else {
            if ((all & ~audio) != 0) {
                dotRows<T, VEC, NT, C, U>(ws, NormWeightedRows<T, NW>{x, textNorm}, acc, squares[0], cols, from, to,
                    all & ~audio, &waited);
            }
            if (audio != 0) {
                dotRows<T, VEC, NT, C, U>(ws, NormWeightedRows<T, NW>{x, audioNorm}, acc, squares[0], cols, from, to,
                    audio, &waited);
            }
        }
    };
    // early: the norm's paths are read before the wait (a guess, checked after it, as in the dual FFN)
    unsigned audio = NORM == 2 ? audioSet(mask, maskIsInt, tokens) : 0u;
    dots(audio);
    if (!early) {
        allowDependents();
    } else if (NORM == 2) {
        settleGuess(waited, audio, mask, maskIsInt, tokens, dots);
    } else {
        waitOnce(waited);
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
        if constexpr (NORM != 0) {
            float s = warpSum(squares[0][t]);
            if ((threadIdx.x & 31) == 0) {
                partialSquares[warp][t] = s;
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
    float sumSquares = 0.f;
#pragma unroll
    for (int p = 0; p < S; p++) {
        sum += partial[warp + p][c][t];
        if constexpr (NORM != 0) {
            sumSquares += partialSquares[warp + p][t];
        }
    }
    if constexpr (NORM != 0) {
        sum *= rsqrtf(sumSquares / cols + eps);
    }
    long long i = static_cast<long long>(t) * rows + r0 + c;
    weights.out[seg][i] = fromFloat<T>((residual != nullptr ? toFloat(residual[i]) : 0.f) + sum);
}

struct Call {
    void const* x;
    void const* w[kMaxWeights];
    void* out[kMaxWeights];
    int rows[kMaxWeights];
    int weights;
    int norm;
    void const* textNorm;
    void const* audioNorm;
    void const* mask;
    bool maskIsInt;
    float eps;
    void const* residual;
    int tokens;
    int cols;

    int totalRows() const {
        int n = 0;
        for (int i = 0; i < weights; i++) {
            n += rows[i];
        }
        return n;
    }

    bool rowsDivide(int c) const {
        for (int i = 0; i < weights; i++) {
            if (rows[i] % c != 0) {
                return false;
            }
        }
        return true;
    }

    template <typename T>
    Weights<T> segments() const {
        Weights<T> s{};
        for (int i = 0; i < weights; i++) {
            s.w[i] = static_cast<T const*>(w[i]);
            s.out[i] = static_cast<T*>(out[i]);
            s.rows[i] = rows[i];
        }
        s.count = weights;
        return s;
    }
};

template <typename T, typename NW, bool VEC, int NT, int C, int S, int U = 1>
void launchSkinny(Call const& c, cudaStream_t stream) {
    unsigned groups = static_cast<unsigned>((c.totalRows() / C + kWarps / S - 1) / (kWarps / S));
    unsigned prefetch = VEC ? prefetchShare(static_cast<long long>(c.totalRows()) * S,
        static_cast<long long>(c.cols / S) * sizeof(T)) : 0u;
    bool early = earlyWeights(kDependentLinear);
    auto go = [&](auto kernel) {   // launch errors are left for the caller's cudaGetLastError
        launchDependent(kDependentLinear, kernel, groups, kWarps * 32, 0, stream, dim3(1, 1, 1),
            static_cast<T const*>(c.x), c.tokens, c.segments<T>(), static_cast<NW const*>(c.textNorm),
            static_cast<NW const*>(c.audioNorm), c.mask, c.maskIsInt, c.eps, static_cast<T const*>(c.residual), c.cols,
            prefetch, early);
    };
    switch (c.norm) {
    case 0: go(skinnyLinearKernel<T, NW, VEC, NT, C, S, 0, U>); break;
    case 1: go(skinnyLinearKernel<T, NW, VEC, NT, C, S, 1, U>); break;
    default: go(skinnyLinearKernel<T, NW, VEC, NT, C, S, 2, U>); break;
    }
}

// The tiling for the sizes: two rows a warp split over 2 or 4 warps where the rows are whole
// 16-byte chunks of every split; one row a warp and element loads otherwise.
#ifdef HIGGS_TRT_TILING_KNOBS
// Hand-run benchmarks only (decode_step_bench.cu): HIGGS_TRT_LINEAR_TILING="S_LARGE,S_SMALL,U" replaces the
// splits of outputs of at least / under kManyRowPairs row pairs and the unroll.
template <typename T, typename NW, int NT, int S>
void launchKnobU(Call const& c, int u, cudaStream_t stream) {
    switch (u) {
    case 2: launchSkinny<T, NW, true, NT, kColumns, S, 2>(c, stream); break;
    case 3: launchSkinny<T, NW, true, NT, kColumns, S, 3>(c, stream); break;
    default: launchSkinny<T, NW, true, NT, kColumns, S, 1>(c, stream); break;
    }
}

template <typename T, typename NW, int NT>
bool launchKnobs(Call const& c, cudaStream_t stream) {
    char const* v = std::getenv("HIGGS_TRT_LINEAR_TILING");
    int large = 2, small = 4, u = 1;
    if (v == nullptr || std::sscanf(v, "%d,%d,%d", &large, &small, &u) != 3) {
        return false;
    }
    int s = c.totalRows() / kColumns >= kManyRowPairs ? large : small;
    switch (s) {
    case 1: launchKnobU<T, NW, NT, 1>(c, u, stream); break;
    case 2: launchKnobU<T, NW, NT, 2>(c, u, stream); break;
    case 8: launchKnobU<T, NW, NT, 8>(c, u, stream); break;
    default: launchKnobU<T, NW, NT, 4>(c, u, stream); break;
    }
    return true;
}
#endif

template <typename T, typename NW, int NT>
void launchSkinny(Call const& c, cudaStream_t stream) {
    constexpr int N = Vec<T>::N;
#ifdef HIGGS_TRT_TILING_KNOBS
    if (c.cols % (8 * N) == 0 && c.rowsDivide(kColumns) && launchKnobs<T, NW, NT>(c, stream)) {
        return;
    }
#endif
    if (c.cols % (4 * N) == 0 && c.rowsDivide(kColumns)) {
        if (c.totalRows() / kColumns >= kManyRowPairs) {
            launchSkinny<T, NW, true, NT, kColumns, 2>(c, stream);
        } else {
            launchSkinny<T, NW, true, NT, kColumns, 4>(c, stream);
        }
    } else {
        launchSkinny<T, NW, false, NT, 1, 1>(c, stream);
    }
}

size_t alignUp(size_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

size_t elementSize(DataType t) { return t == DataType::kFLOAT ? 4 : 2; }

// The workspace of a call of up to maxTokens tokens: the normalised input, then cuBLAS's.
size_t workspaceFor(long long maxTokens, int cols, DataType type, int norm) {
    size_t normed = norm != 0 ? alignUp(static_cast<size_t>(maxTokens) * cols * elementSize(type)) : 0;
    return normed + kCublasWorkspace;
}

cudaDataType cudaType(DataType t) {
    return t == DataType::kFLOAT ? CUDA_R_32F : t == DataType::kHALF ? CUDA_R_16F : CUDA_R_16BF;
}

int launched() {
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) {
        gErrors.set("linear: kernel launch failed: %s", cudaGetErrorString(e));
        return -1;
    }
    gEnqueues.fetch_add(1, std::memory_order_relaxed);
    return 0;
}

template <typename T, typename NW>
int launch(Call const& c, DataType type, void* workspace, cublasHandle_t handle, cudaStream_t stream) {
    static_assert(kSmallTokens == 1, "the skinny kernel runs with a token tile of 1");
    if (c.tokens <= kSmallTokens) {
        launchSkinny<T, NW, 1>(c, stream);
        return launched();
    }
    char* base = static_cast<char*>(workspace);
    void const* x = c.x;
    size_t normedBytes = 0;
    if (c.norm != 0) {
        normedBytes = alignUp(static_cast<size_t>(c.tokens) * c.cols * sizeof(T));
        higgs::normRows<T, NW>(false, c.tokens, static_cast<T const*>(c.x), c.norm == 2 ? c.mask : nullptr, c.maskIsInt,
            nullptr, nullptr, 0, static_cast<NW const*>(c.textNorm), static_cast<NW const*>(c.audioNorm),
            reinterpret_cast<T*>(base), c.cols, c.eps, stream);
        x = base;
    }
    std::lock_guard<std::mutex> lock(cublasMutex());
    std::string error;
    if (c.residual != nullptr) {   // one weight (the fields say so): D = residual + x . W^T in one cuBLASLt call
        if (gemmAddRowMajor(c.rows[0], c.tokens, c.cols, c.w[0], c.cols, x, c.cols, c.residual, c.out[0], c.rows[0],
                cudaType(type), base + normedBytes, kCublasWorkspace, stream, &error)) {
            gLtGemms.fetch_add(1, std::memory_order_relaxed);
            return launched();
        }
        if (!error.empty()) {
            gErrors.set("linear: %s", error.c_str());
            return -1;
        }
    }
    float beta = 0.f;
    if (c.residual != nullptr) {   // without cuBLASLt: the residual copied into the output, then accumulated onto
        if (cudaMemcpyAsync(c.out[0], c.residual, static_cast<size_t>(c.tokens) * c.rows[0] * sizeof(T), cudaMemcpyDeviceToDevice,
                stream) != cudaSuccess) {
            gErrors.set("linear: copying the residual failed: %s", cudaGetErrorString(cudaGetLastError()));
            return -1;
        }
        beta = 1.f;
    }
    if (cublas().setStream(handle, stream) != kCublasSuccess
        || cublas().setWorkspace(handle, base + normedBytes, kCublasWorkspace) != kCublasSuccess) {
        gErrors.set("linear: cuBLAS stream or workspace could not be set");
        return -1;
    }
    for (int i = 0; i < c.weights; i++) {
        if (!gemmRowMajor(handle, c.rows[i], c.tokens, c.cols, c.w[i], c.cols, x, c.cols, beta, c.out[i], cudaType(type),
                c.rows[i], cudaType(type), &error)) {
            gErrors.set("linear: %s", error.c_str());
            return -1;
        }
    }
    return launched();
}

// Runs a call in the workspace of workspaceFor(c.tokens, ...) bytes or more.
int run(Call const& c, DataType type, DataType normType, void* workspace, cublasHandle_t handle, cudaStream_t stream) {
    if (c.tokens == 0) {
        return 0;
    }
    bool floatNorm = c.norm == 0 || normType == DataType::kFLOAT;
    switch (type) {
    case DataType::kFLOAT: return launch<float, float>(c, type, workspace, handle, stream);
    case DataType::kHALF:
        return floatNorm ? launch<__half, float>(c, type, workspace, handle, stream)
                         : launch<__half, __half>(c, type, workspace, handle, stream);
    case DataType::kBF16:
        return floatNorm ? launch<__nv_bfloat16, float>(c, type, workspace, handle, stream)
                         : launch<__nv_bfloat16, __nv_bfloat16>(c, type, workspace, handle, stream);
    default: gErrors.set("linear: unsupported type %d", static_cast<int>(type)); return -1;
    }
}

std::string describe(Dims const& d) {
    std::string s = "[";
    for (int i = 0; i < d.nbDims; i++) {
        s += (i ? ", " : "") + std::to_string(static_cast<long long>(d.d[i]));
    }
    return s + "]";
}

// Where each input sits for the fields: x, the weights, then the norm's inputs, then the residual.
struct Inputs {
    int weights;
    int norm;
    int residual;

    int normInputs() const { return norm == 0 ? 0 : norm == 1 ? 1 : 3; }
    int count() const { return 1 + weights + normInputs() + residual; }
    int mask() const { return norm == 2 ? 1 + weights : -1; }
    int textNorm() const { return norm == 0 ? -1 : norm == 1 ? 1 + weights : 2 + weights; }
    int audioNorm() const { return norm == 0 ? -1 : norm == 1 ? 1 + weights : 3 + weights; }
    int residualAt() const { return residual != 0 ? 1 + weights + normInputs() : -1; }
    bool isWeight(int i) const { return i >= 1 && i <= weights; }
    bool isNorm(int i) const { return i == textNorm() || i == audioNorm(); }
};

class LinearPlugin final : public IPluginV3, public IPluginV3OneCore, public IPluginV3OneBuild,
                           public IPluginV3OneRuntime {
public:
    LinearPlugin(int in, int const* out, int weights, int norm, float eps, int residual)
        : in_(in), weights_(weights), norm_(norm), eps_(eps), residual_(residual) {
        gLivePlugins.fetch_add(1);
        for (int i = 0; i < kMaxWeights; i++) {
            out_[i] = i < weights ? out[i] : 0;
        }
        fields_[0] = PluginField{"in_features", &in_, PluginFieldType::kINT32, 1};
        fields_[1] = PluginField{"out_features", out_, PluginFieldType::kINT32, weights_};
        fields_[2] = PluginField{"norm", &norm_, PluginFieldType::kINT32, 1};
        fields_[3] = PluginField{"eps", &eps_, PluginFieldType::kFLOAT32, 1};
        fields_[4] = PluginField{"residual", &residual_, PluginFieldType::kINT32, 1};
        collection_.nbFields = 5;
        collection_.fields = fields_;
    }

    LinearPlugin(LinearPlugin const& o) : LinearPlugin(o.in_, o.out_, o.weights_, o.norm_, o.eps_, o.residual_) {
        cublas_ = o.cublas_;
    }

    ~LinearPlugin() override { gLivePlugins.fetch_sub(1); }

    IPluginCapability* getCapabilityInterface(PluginCapabilityType type) noexcept override {
        switch (type) {
        case PluginCapabilityType::kCORE: return static_cast<IPluginV3OneCore*>(this);
        case PluginCapabilityType::kBUILD: return static_cast<IPluginV3OneBuild*>(this);
        case PluginCapabilityType::kRUNTIME: return static_cast<IPluginV3OneRuntime*>(this);
        }
        return nullptr;
    }

    IPluginV3* clone() noexcept override { return new (std::nothrow) LinearPlugin(*this); }

    AsciiChar const* getPluginName() const noexcept override { return kPluginName; }
    AsciiChar const* getPluginVersion() const noexcept override { return kPluginVersion; }
    AsciiChar const* getPluginNamespace() const noexcept override { return kPluginNamespace; }

    int32_t configurePlugin(DynamicPluginTensorDesc const* in, int32_t nbInputs, DynamicPluginTensorDesc const*,
        int32_t nbOutputs) noexcept override {
        if (!arity(nbInputs, nbOutputs)) {
            return -1;
        }
        Dims const& x = in[0].desc.dims;
        if (x.nbDims != 2 || (x.d[1] != -1 && x.d[1] != in_)) {
            gErrors.set("linear: x has shape %s, expected [T, %d]", describe(x).c_str(), in_);
            return -1;
        }
        Inputs at = inputs();
        for (int i = 1; i < nbInputs; i++) {
            Dims const& d = in[i].desc.dims;
            if (at.isWeight(i) && (d.nbDims != 2 || d.d[0] != out_[i - 1] || d.d[1] != in_)) {
                gErrors.set("linear: weight %d has shape %s, expected [%d, %d]", i - 1, describe(d).c_str(), out_[i - 1], in_);
                return -1;
            }
            if (at.isNorm(i) && volume(d) != in_) {
                gErrors.set("linear: norm weight (input %d) has shape %s, expected [%d]", i, describe(d).c_str(), in_);
                return -1;
            }
            if (i == at.residualAt() && (d.nbDims != 2 || (d.d[1] != -1 && d.d[1] != out_[0]))) {
                gErrors.set("linear: residual has shape %s, expected [T, %d]", describe(d).c_str(), out_[0]);
                return -1;
            }
        }
        return 0;
    }

    int32_t getOutputDataTypes(DataType* outputTypes, int32_t nbOutputs, DataType const* inputTypes,
        int32_t nbInputs) const noexcept override {
        if (!arity(nbInputs, nbOutputs)) {
            return -1;
        }
        for (int i = 0; i < nbOutputs; i++) {
            outputTypes[i] = inputTypes[0];
        }
        return 0;
    }

    int32_t getOutputShapes(DimsExprs const* inputs, int32_t nbInputs, DimsExprs const*, int32_t, DimsExprs* outputs,
        int32_t nbOutputs, IExprBuilder&) noexcept override {
        if (!arity(nbInputs, nbOutputs) || inputs[0].nbDims != 2) {
            return -1;
        }
        for (int i = 0; i < nbOutputs; i++) {
            if (inputs[1 + i].nbDims != 2) {
                return -1;
            }
            outputs[i].nbDims = 2;
            outputs[i].d[0] = inputs[0].d[0];
            outputs[i].d[1] = inputs[1 + i].d[0];   // the weight's rows: a build-time constant
        }
        return 0;
    }

    bool supportsFormatCombination(int32_t pos, DynamicPluginTensorDesc const* inOut, int32_t nbInputs,
        int32_t nbOutputs) noexcept override {
        Inputs at = inputs();
        if (nbInputs != at.count() || nbOutputs != weights_ || pos < 0 || pos >= nbInputs + nbOutputs) {
            return false;
        }
        PluginTensorDesc const& d = inOut[pos].desc;
        if (d.format != TensorFormat::kLINEAR) {
            return false;
        }
        DataType compute = inOut[0].desc.type;
        if (pos == 0) {
            return isComputeType(d.type);
        }
        if (pos == at.mask()) {
            return d.type == DataType::kBOOL || d.type == DataType::kINT32;
        }
        if (at.isNorm(pos)) {
            // both norms of one type (the kernels take one norm type); FLOAT where the compute type is
            DataType first = inOut[at.textNorm()].desc.type;
            return (d.type == DataType::kFLOAT || d.type == compute) && (pos == at.textNorm() || d.type == first)
                && (compute != DataType::kFLOAT || d.type == DataType::kFLOAT);
        }
        return d.type == compute;   // the weights, the residual and the outputs
    }

    int32_t getNbOutputs() const noexcept override { return weights_; }

    size_t getWorkspaceSize(DynamicPluginTensorDesc const* inputs, int32_t nbInputs, DynamicPluginTensorDesc const*,
        int32_t) const noexcept override {
        if (nbInputs < 1) {
            return 0;
        }
        return workspaceFor(inputs[0].max.d[0], in_, inputs[0].desc.type, norm_);
    }

    char const* getMetadataString() noexcept override { return "HiggsLinear: residual + RMSNorm(x) . W^T"; }

    int32_t onShapeChange(PluginTensorDesc const* in, int32_t nbInputs, PluginTensorDesc const*, int32_t nbOutputs)
        noexcept override {
        if (!arity(nbInputs, nbOutputs)) {
            return -1;
        }
        Inputs at = inputs();
        long long tokens = in[0].dims.d[0];
        if (at.mask() >= 0 && volume(in[at.mask()].dims) != tokens) {
            gErrors.set("linear: audio mask %s for %lld tokens", describe(in[at.mask()].dims).c_str(), tokens);
            return -1;
        }
        if (at.residualAt() >= 0 && in[at.residualAt()].dims.d[0] != tokens) {
            gErrors.set("linear: residual %s for %lld tokens", describe(in[at.residualAt()].dims).c_str(), tokens);
            return -1;
        }
        return 0;
    }

    int32_t enqueue(PluginTensorDesc const* inputDesc, PluginTensorDesc const*, void const* const* inputs,
        void* const* outputs, void* workspace, cudaStream_t stream) noexcept override {
        if (cublas_ == nullptr) {
            std::string error;
            cublas_ = cublasHandle(&error);
            if (cublas_ == nullptr) {
                gErrors.set("linear: %s", error.c_str());
                return -1;
            }
        }
        Inputs at = this->inputs();
        long long tokens = inputDesc[0].dims.d[0];
        if (tokens > (1LL << 30)) {
            gErrors.set("linear: %lld tokens is more than supported", tokens);
            return -1;
        }
        Call c{};
        c.x = inputs[0];
        c.weights = weights_;
        for (int i = 0; i < weights_; i++) {
            c.w[i] = inputs[1 + i];
            c.out[i] = outputs[i];
            c.rows[i] = out_[i];
        }
        c.norm = norm_;
        c.textNorm = at.textNorm() >= 0 ? inputs[at.textNorm()] : nullptr;
        c.audioNorm = at.audioNorm() >= 0 ? inputs[at.audioNorm()] : nullptr;
        c.mask = at.mask() >= 0 ? inputs[at.mask()] : nullptr;
        c.maskIsInt = at.mask() >= 0 && inputDesc[at.mask()].type == DataType::kINT32;
        c.eps = eps_;
        c.residual = at.residualAt() >= 0 ? inputs[at.residualAt()] : nullptr;
        c.tokens = static_cast<int>(tokens);
        c.cols = in_;
        DataType normType = at.textNorm() >= 0 ? inputDesc[at.textNorm()].type : DataType::kFLOAT;
        return run(c, inputDesc[0].type, normType, workspace, cublas_, stream);
    }

    IPluginV3* attachToContext(IPluginResourceContext*) noexcept override {
        std::string error;
        cublasHandle_t handle = cublasHandle(&error);
        if (handle == nullptr) {
            gErrors.set("linear: %s", error.c_str());
            return nullptr;
        }
        LinearPlugin* attached = new (std::nothrow) LinearPlugin(*this);
        if (attached != nullptr) {
            attached->cublas_ = handle;
        }
        return attached;
    }

    PluginFieldCollection const* getFieldsToSerialize() noexcept override { return &collection_; }

private:
    Inputs inputs() const { return Inputs{weights_, norm_, residual_}; }

    bool arity(int32_t nbInputs, int32_t nbOutputs) const {
        if (nbInputs == inputs().count() && nbOutputs == weights_) {
            return true;
        }
        gErrors.set("linear: %d inputs and %d outputs, expected %d (x, %d weight(s)%s%s) and %d", nbInputs, nbOutputs,
            inputs().count(), weights_, norm_ == 1 ? ", norm" : norm_ == 2 ? ", audio mask, text norm, audio norm" : "",
            residual_ ? ", residual" : "", weights_);
        return false;
    }

    int32_t in_;
    int32_t out_[kMaxWeights];
    int32_t weights_;
    int32_t norm_;
    float eps_;
    int32_t residual_;
    PluginField fields_[5];
    PluginFieldCollection collection_{};
    cublasHandle_t cublas_ = nullptr;
};

class LinearCreator final : public IPluginCreatorV3One {
public:
    LinearCreator() {
        fields_[0] = PluginField{"in_features", nullptr, PluginFieldType::kINT32, 1};
        fields_[1] = PluginField{"out_features", nullptr, PluginFieldType::kINT32, kMaxWeights};
        fields_[2] = PluginField{"norm", nullptr, PluginFieldType::kINT32, 1};
        fields_[3] = PluginField{"eps", nullptr, PluginFieldType::kFLOAT32, 1};
        fields_[4] = PluginField{"residual", nullptr, PluginFieldType::kINT32, 1};
        collection_.nbFields = 5;
        collection_.fields = fields_;
    }

    IPluginV3* createPlugin(AsciiChar const*, PluginFieldCollection const* fc, TensorRTPhase) noexcept override {
        int in = -1;
        int out[kMaxWeights] = {0, 0};
        int weights = 0;
        int norm = 0;
        int residual = 0;
        float eps = -1.f;
        bool outOk = true;
        for (int i = 0; fc != nullptr && i < fc->nbFields; i++) {
            PluginField const& f = fc->fields[i];
            if (f.name == nullptr || f.data == nullptr || f.length < 1) {
                continue;
            }
            bool isInt = f.type == PluginFieldType::kINT32;
            int32_t const* v = static_cast<int32_t const*>(f.data);
            if (std::strcmp(f.name, "out_features") == 0 && isInt) {
                weights = f.length;
                outOk = f.length <= kMaxWeights;
                for (int j = 0; outOk && j < f.length; j++) {
                    out[j] = v[j];
                    outOk = v[j] > 0;
                }
            } else if (f.length != 1) {
                continue;
            } else if (std::strcmp(f.name, "in_features") == 0 && isInt) {
                in = *v;
            } else if (std::strcmp(f.name, "norm") == 0 && isInt) {
                norm = *v;
            } else if (std::strcmp(f.name, "residual") == 0 && isInt) {
                residual = *v;
            } else if (std::strcmp(f.name, "eps") == 0 && f.type == PluginFieldType::kFLOAT32) {
                eps = *static_cast<float const*>(f.data);
            }
        }
        bool epsOk = norm == 0 || (eps > 0.f && std::isfinite(eps));
        if (in <= 0 || weights < 1 || !outOk || norm < 0 || norm > 2 || !epsOk || (residual != 0 && residual != 1)
            || (residual == 1 && weights != 1)) {
            gErrors.set("linear: fields in_features (INT32 > 0) and out_features (INT32 > 0, one or %d: one per weight) "
                        "are required, norm (INT32 0, 1 or 2), eps (FLOAT32 > 0, with a norm) and residual (INT32 0 or 1, "
                        "one weight only) are optional; got in %d, %d out_features, norm %d, eps %g, residual %d",
                kMaxWeights, in, weights, norm, static_cast<double>(eps), residual);
            return nullptr;
        }
        return new (std::nothrow) LinearPlugin(in, out, weights, norm, norm == 0 ? 0.f : eps, residual);
    }

    PluginFieldCollection const* getFieldNames() noexcept override { return &collection_; }
    AsciiChar const* getPluginName() const noexcept override { return kPluginName; }
    AsciiChar const* getPluginVersion() const noexcept override { return kPluginVersion; }
    AsciiChar const* getPluginNamespace() const noexcept override { return kPluginNamespace; }

private:
    PluginField fields_[5];
    PluginFieldCollection collection_{};
};

LinearCreator gCreator;

} // namespace

// ---------------------------------------------------------------------------------------------
// C entry points for the Java side (JNA) and for the kernel check outside TensorRT.

HX_EXPORT IPluginCreatorV3One* higgs_linear_creator() { return &gCreator; }

HX_EXPORT int higgs_linear_last_error(char* message, int capacity) { return gErrors.copyTo(message, capacity); }

HX_EXPORT void higgs_linear_clear_error() { gErrors.clear(); }

HX_EXPORT long long higgs_linear_live_plugins() { return gLivePlugins.load(); }

HX_EXPORT long long higgs_linear_enqueues() { return gEnqueues.load(); }

// How many residual GEMMs cuBLASLt has done, output apart from the residual (none where it was not loaded).
HX_EXPORT long long higgs_linear_lt_gemms() { return gLtGemms.load(); }

HX_EXPORT int higgs_linear_small_tokens() { return kSmallTokens; }

// The workspace bytes a call of up to max_tokens tokens needs (type 0 FLOAT, 1 HALF, 7 BF16).
HX_EXPORT size_t higgs_linear_workspace(long long max_tokens, int in_features, int type, int norm) {
    return workspaceFor(max_tokens, in_features, static_cast<DataType>(type), norm);
}

// The plugin's kernels on raw device pointers for one weight, as enqueue runs them; norm_type is the norms' type
// (0 FLOAT, or the compute type); mask_is_int 1 for an INT32 mask, 0 for BOOL.
HX_EXPORT int higgs_linear_run(int type, int norm_type, void const* x, void const* weight, int norm, void const* text_norm,
    void const* audio_norm, void const* mask, int mask_is_int, float eps, void const* residual, void* out, int tokens,
    int in_features, int out_features, void* workspace, void* stream) {
    std::string error;
    cublasHandle_t handle = cublasHandle(&error);
    if (handle == nullptr) {
        gErrors.set("linear: %s", error.c_str());
        return -1;
    }
    Call c{x, {weight, nullptr}, {out, nullptr}, {out_features, 0}, 1, norm, text_norm, audio_norm, mask, mask_is_int != 0, eps,
        residual, tokens, in_features};
    return run(c, static_cast<DataType>(type), static_cast<DataType>(norm_type), workspace, handle,
        static_cast<cudaStream_t>(stream));
}

HX_EXPORT void higgs_linear_destroy(IPluginV3* plugin) { delete plugin; }
