// Times the dual-FFN plugin's few-token (decode) kernels on a GPU against the memory's read rate, for
// the choice of their tilings (kGateUpTiling, downTiling and kSmallTokens in dual_ffn_plugin.cu).
// Not part of the build: compile and run by hand on the GPU machine.
//
//   nvcc -O3 -std=c++17 -gencode arch=compute_90,code=sm_90 -o /tmp/skinny_bench skinny_bench.cu \
//     ../../main/cuda/linear_plugin.cu ../../main/cuda/cublas_runtime.cu -ldl && /tmp/skinny_bench
//
// The full model's geometry (hidden 3072, intermediate 8192), BF16 weights, six layers' worth of
// weights in turn so that L2 holds none of them; per variant the median of 9 runs of 300 calls
// timed with CUDA events, as microseconds per block or kernel and the weight bytes read over that
// time. Beside them: the device-to-device copy rate, a plain streaming read, and cuBLAS's two GEMMs
// of one path (what the many-token path does). Each variant's output is compared with session 9's
// kernels' (whose act was FP32; the new act is in the weights' type, so BF16 rounding shows). Last,
// the attention side's two projections at one and two tokens: cuBLAS against the linear plugin's
// path (higgs_linear_run), plain and with the fused RMSNorm or residual.
#include "../../main/cuda/dual_ffn_plugin.cu"
#include "bench_check.cuh"

#include <algorithm>
#include <vector>

// the linear plugin's entry points (linear_plugin.cu, compiled beside this file)
extern "C" size_t higgs_linear_workspace(long long max_tokens, int in_features, int type, int norm);
extern "C" int higgs_linear_run(int type, int norm_type, void const* x, void const* weight, int norm, void const* text_norm,
    void const* audio_norm, void const* mask, int mask_is_int, float eps, void const* residual, void* out, int tokens,
    int in_features, int out_features, void* workspace, void* stream);

namespace legacy {
using namespace ::higgs;
// the kernels before session 10 (one 16-byte load per lane in flight per row), the baseline; they
// took up to 8 tokens then
constexpr int kLegacyTokens = 8;
template <typename T, bool VEC>
// acc[t] += w . x_t for the tokens in tokenSet; w and every row of x [tokens, n] have n elements.
__device__ inline void dotRows(T const* w, float const* x, float* acc, int n, unsigned tokenSet) {
    int lane = threadIdx.x & 31;
    if (VEC) {
        constexpr int N = Vec<T>::N;
        // unrolled so that each lane has several 16-byte weight loads in flight, not one
#pragma unroll 4
        for (int base = lane * N; base < n; base += 32 * N) {
            Vec<T> chunk = *reinterpret_cast<Vec<T> const*>(w + base);
            float wf[N];
#pragma unroll
            for (int e = 0; e < N; e++) {
                wf[e] = toFloat(chunk.v[e]);
            }
#pragma unroll
            for (int t = 0; t < kLegacyTokens; t++) {
                if (tokenSet & (1u << t)) {
                    float4 const* xt = reinterpret_cast<float4 const*>(x + static_cast<long long>(t) * n + base);
                    float s = 0.f;
#pragma unroll
                    for (int e = 0; e < N / 4; e++) {
                        float4 v = xt[e];
                        s += wf[4 * e] * v.x + wf[4 * e + 1] * v.y + wf[4 * e + 2] * v.z + wf[4 * e + 3] * v.w;
                    }
                    acc[t] += s;
                }
            }
        }
    } else {
#pragma unroll 4
        for (int i = lane; i < n; i += 32) {
            float wf = toFloat(w[i]);
#pragma unroll
            for (int t = 0; t < kLegacyTokens; t++) {
                if (tokenSet & (1u << t)) {
                    acc[t] += wf * x[static_cast<long long>(t) * n + i];
                }
            }
        }
    }
}

// act[t, j] = silu(gate_j . x_t) * (up_j . x_t), with the gate/up rows of token t's path; one warp
// per column j. x is the normalised input in FP32 [tokens, h].
template <typename T, bool VEC>
__global__ void skinnyGateUpKernel(float const* x, void const* mask, bool maskIsInt, int tokens, T const* textGateUp,
    T const* audioGate, T const* audioUp, float* act, int h, int inter) {
    int warpsPerBlock = blockDim.x >> 5;
    int j = blockIdx.x * warpsPerBlock + (threadIdx.x >> 5);
    if (j >= inter) {
        return;
    }
    unsigned audio = audioSet(mask, maskIsInt, tokens);
    unsigned text = ((1u << tokens) - 1) & ~audio;
    float g[kLegacyTokens];
    float u[kLegacyTokens];
#pragma unroll
    for (int t = 0; t < kLegacyTokens; t++) {
        g[t] = 0.f;
        u[t] = 0.f;
    }
    if (text != 0) {
        dotRows<T, VEC>(textGateUp + static_cast<long long>(j) * h, x, g, h, text);
        dotRows<T, VEC>(textGateUp + static_cast<long long>(inter + j) * h, x, u, h, text);
    }
    if (audio != 0) {
        dotRows<T, VEC>(audioGate + static_cast<long long>(j) * h, x, g, h, audio);
        dotRows<T, VEC>(audioUp + static_cast<long long>(j) * h, x, u, h, audio);
    }
#pragma unroll
    for (int t = 0; t < kLegacyTokens; t++) {
        if (t >= tokens) {
            break;
        }
        float gs = warpSum(g[t]);
        float us = warpSum(u[t]);
        if ((threadIdx.x & 31) == 0) {
            act[static_cast<long long>(t) * inter + j] = silu(gs) * us;
        }
    }
}

// out[t, c] = residual[t, c] + down_c . act_t with token t's path's down rows (no residual where it
// is null); one warp per column.
template <typename T, bool VEC>
__global__ void skinnyDownKernel(float const* act, void const* mask, bool maskIsInt, int tokens, T const* textDown,
    T const* audioDown, T const* residual, T* out, int h, int inter) {
    int warpsPerBlock = blockDim.x >> 5;
    int c = blockIdx.x * warpsPerBlock + (threadIdx.x >> 5);
    if (c >= h) {
        return;
    }
    unsigned audio = audioSet(mask, maskIsInt, tokens);
    unsigned text = ((1u << tokens) - 1) & ~audio;
    float acc[kLegacyTokens];
#pragma unroll
    for (int t = 0; t < kLegacyTokens; t++) {
        acc[t] = 0.f;
    }
    if (text != 0) {
        dotRows<T, VEC>(textDown + static_cast<long long>(c) * inter, act, acc, inter, text);
    }
    if (audio != 0) {
        dotRows<T, VEC>(audioDown + static_cast<long long>(c) * inter, act, acc, inter, audio);
    }
#pragma unroll
    for (int t = 0; t < kLegacyTokens; t++) {
        if (t >= tokens) {
            break;
        }
        float s = warpSum(acc[t]);
        if ((threadIdx.x & 31) == 0) {
            long long i = static_cast<long long>(t) * h + c;
            out[i] = fromFloat<T>((residual != nullptr ? toFloat(residual[i]) : 0.f) + s);
        }
    }
}

} // namespace legacy

namespace {


using B16 = __nv_bfloat16;

struct Layer {
    B16 *textGateUp, *textDown, *audioGate, *audioUp, *audioDown, *textNorm, *audioNorm;
};

constexpr int H = 3072;
constexpr int I = 8192;
constexpr int kLayers = 6;

// One kernel of the few-token path with its tiling, or the whole block (norm + gate/up + down).
struct Variant {
    char const* name;
    enum { Legacy, Production, GateUp, Down, Cublas } kind;
    int columns, unroll, split;
};

cublasHandle_t gHandle;
CublasApi const& gCublas = higgs::cublas();   // filled in by higgs::loadCublas

B16* gAct;   // [8, I]: the act of the new kernels (in the weights' type)

template <int NT, int C, int U, int S>
void tiled(bool down, B16 const* hidden, void const* mask, int tokens, Layer const& l, float*, B16* out, cudaStream_t s) {
    B16* act = gAct;
    if (down) {
        skinnyDownKernel<B16, true, NT, C, U, S><<<H / C * S / 8, 256, 0, s>>>(act, mask, false, tokens, l.textDown,
            l.audioDown, hidden, out, H, I, 0u, false);
    } else {
        skinnyGateUpKernel<B16, B16, true, NT, C, U><<<I / C / 8, 256, 0, s>>>(hidden, l.textNorm, l.audioNorm, 1e-5f, mask,
            false, tokens, l.textGateUp, l.audioGate, l.audioUp, act, H, I, 0u, false);
    }
}

template <int NT>
void tiled(Variant const& v, B16 const* hidden, void const* mask, int tokens, Layer const& l, float* act, B16* out,
    cudaStream_t s) {
    bool down = v.kind == Variant::Down;
    switch (v.columns * 100 + v.unroll * 10 + v.split) {
    case 111: tiled<NT, 1, 1, 1>(down, hidden, mask, tokens, l, act, out, s); break;
    case 211: tiled<NT, 2, 1, 1>(down, hidden, mask, tokens, l, act, out, s); break;
    case 411: tiled<NT, 4, 1, 1>(down, hidden, mask, tokens, l, act, out, s); break;
    case 421: tiled<NT, 4, 2, 1>(down, hidden, mask, tokens, l, act, out, s); break;
    case 811: tiled<NT, 8, 1, 1>(down, hidden, mask, tokens, l, act, out, s); break;
    case 112: tiled<NT, 1, 1, 2>(down, hidden, mask, tokens, l, act, out, s); break;
    case 212: tiled<NT, 2, 1, 2>(down, hidden, mask, tokens, l, act, out, s); break;
    case 222: tiled<NT, 2, 2, 2>(down, hidden, mask, tokens, l, act, out, s); break;
    case 214: tiled<NT, 2, 1, 4>(down, hidden, mask, tokens, l, act, out, s); break;
    case 412: tiled<NT, 4, 1, 2>(down, hidden, mask, tokens, l, act, out, s); break;
    default: std::fprintf(stderr, "no tiling\n"); std::exit(3);
    }
}

void norm(Layer const& l, B16 const* hidden, void const* mask, int tokens, float* normed, cudaStream_t s) {
    normKernel<B16, B16, float, false><<<tokens, 256, 0, s>>>(hidden, mask, false, nullptr, nullptr, 0, l.textNorm, l.audioNorm,
        normed, H, 1e-5f);
}

B16* gBf16Act;   // [8, I] bf16 and [8, 2I] for the cuBLAS rows

void runVariant(Variant const& v, Layer const& l, B16 const* hidden, void const* mask, int tokens, float* normed, float* act,
    B16* out, cudaStream_t s) {
    switch (v.kind) {
    case Variant::Legacy:
        norm(l, hidden, mask, tokens, normed, s);
        legacy::skinnyGateUpKernel<B16, true><<<I / 8, 256, 0, s>>>(normed, mask, false, tokens, l.textGateUp, l.audioGate,
            l.audioUp, act, H, I);
        legacy::skinnyDownKernel<B16, true><<<H / 8, 256, 0, s>>>(act, mask, false, tokens, l.textDown, l.audioDown, hidden,
            out, H, I);
        return;
    case Variant::Production:
        launchSkinny<B16, B16, true>(hidden, l.textNorm, l.audioNorm, 1e-5f, mask, false, tokens, l.textGateUp, l.audioGate,
            l.audioUp, l.textDown, l.audioDown, gAct, hidden, out, H, I, s);
        return;
    case Variant::Cublas: {
        // what the plugin's many-token path does for one path: the gate/up GEMM and the down GEMM in BF16
        float one = 1.f, zero = 0.f;
        gCublas.setStream(gHandle, s);
        gCublas.gemmEx(gHandle, kCublasOpT, kCublasOpN, 2 * I, tokens, H, &one, l.textGateUp, CUDA_R_16BF, H, hidden,
            CUDA_R_16BF, H, &zero, gBf16Act, CUDA_R_16BF, 2 * I, kCublasCompute32F, kCublasGemmDefault);
        gCublas.gemmEx(gHandle, kCublasOpT, kCublasOpN, H, tokens, I, &one, l.textDown, CUDA_R_16BF, I, gBf16Act,
            CUDA_R_16BF, I, &zero, out, CUDA_R_16BF, H, kCublasCompute32F, kCublasGemmDefault);
        return;
    }
    default:
        break;
    }
    if (tokens <= 1) {
        tiled<1>(v, hidden, mask, tokens, l, act, out, s);
    } else if (tokens <= 2) {
        tiled<2>(v, hidden, mask, tokens, l, act, out, s);
    } else {
        tiled<4>(v, hidden, mask, tokens, l, act, out, s);
    }
}


} // namespace

int main() {
    cudaStream_t s;
    CHECK(cudaStreamCreate(&s));
    cudaDeviceProp prop;
    CHECK(cudaGetDeviceProperties(&prop, 0));
    std::printf("device: %s, %d SMs, L2 %d MB\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20);

    std::vector<Layer> layers(kLayers);
    for (int i = 0; i < kLayers; i++) {
        unsigned seed = 17u * (i + 1);
        layers[i] = {bench::alloc(2LL * I * H, seed + 1, 0.05f), bench::alloc(1LL * H * I, seed + 2, 0.05f),
            bench::alloc(1LL * I * H, seed + 3, 0.05f), bench::alloc(1LL * I * H, seed + 4, 0.05f),
            bench::alloc(1LL * H * I, seed + 5, 0.05f), bench::alloc(H, seed + 6, 2.f), bench::alloc(H, seed + 7, 2.f)};
    }
    B16* hidden = bench::alloc(8LL * H, 99, 2.f);
    float *normed, *act;
    B16* out;
    unsigned char* mask;
    CHECK(cudaMalloc(&normed, 8LL * H * 4));
    CHECK(cudaMalloc(&act, 8LL * I * 4));
    CHECK(cudaMalloc(&out, 8LL * H * 2));
    CHECK(cudaMalloc(&mask, 8));
    cudaEvent_t a, b;
    CHECK(cudaEventCreate(&a));
    CHECK(cudaEventCreate(&b));
    CHECK(cudaDeviceSynchronize());

    bench::measureCeilings(s, a, b, prop.multiProcessorCount);

    CHECK(cudaMalloc(&gBf16Act, 8LL * 2 * I * 2));
    {
        std::string error;
        if (!higgs::loadCublas(&error) || gCublas.create(&gHandle) != kCublasSuccess) {
            std::fprintf(stderr, "cuBLAS: %s\n", error.c_str());
            return 1;
        }
    }
    std::vector<Variant> variants = {{"block, session 9", Variant::Legacy, 0, 0, 0},
        {"block, now", Variant::Production, 0, 0, 0}, {"block, cuBLAS (2 GEMMs)", Variant::Cublas, 0, 0, 0}};
    CHECK(cudaMalloc(&gAct, 8LL * I * 2));
    int const upTilings[][3] = {{1, 1, 1}, {2, 1, 1}, {4, 1, 1}, {4, 2, 1}, {8, 1, 1}};
    for (auto const& t : upTilings) {
        variants.push_back({"gate/up", Variant::GateUp, t[0], t[1], t[2]});
    }
    int const downTilings[][3] = {{1, 1, 1}, {1, 1, 2}, {2, 1, 2}, {2, 2, 2}, {2, 1, 4}, {4, 1, 2}};
    for (auto const& t : downTilings) {
        variants.push_back({"down", Variant::Down, t[0], t[1], t[2]});
    }
    struct Mix {
        int tokens;
        int text;   // the first `text` tokens take the text path
    };
    std::vector<Mix> mixes = {{1, 0}, {1, 1}, {2, 0}, {2, 1}, {4, 0}};
    std::vector<float> legacyOut(8 * H), legacyAct(8 * I), mine(8 * I);
    for (Mix m : mixes) {
        unsigned char hmask[8];
        for (int t = 0; t < 8; t++) {
            hmask[t] = t < m.text ? 0 : 1;
        }
        CHECK(cudaMemcpy(mask, hmask, 8, cudaMemcpyHostToDevice));
        int paths = (m.text > 0 ? 1 : 0) + (m.text < m.tokens ? 1 : 0);
        std::printf("tokens %d (%d text), %d path(s)\n", m.tokens, m.text, paths);
        for (size_t vi = 0; vi < variants.size(); vi++) {
            Variant const& v = variants[vi];
            double bytes = (v.kind == Variant::Cublas ? 1 : paths) * (v.kind == Variant::Down ? 1.0 : v.kind == Variant::GateUp ? 2.0 : 3.0) * I * H * 2;
            // checked: a block's output against the legacy block's, a gate/up's act against the
            // legacy act, a down's output (from the legacy act) against the legacy output
            if (v.kind == Variant::Down) {
                runVariant(variants[1], layers[0], hidden, mask, m.tokens, normed, act, out, s);   // the new act
            }
            runVariant(v, layers[0], hidden, mask, m.tokens, normed, act, out, s);
            bool actOut = v.kind == Variant::GateUp;
            int count = m.tokens * (actOut ? I : H);
            if (actOut) {
                std::vector<B16> o(count);
                CHECK(cudaMemcpyAsync(o.data(), gAct, count * 2, cudaMemcpyDeviceToHost, s));
                CHECK(cudaStreamSynchronize(s));
                for (int i = 0; i < count; i++) {
                    mine[i] = __bfloat162float(o[i]);
                }
            } else {
                std::vector<B16> o(count);
                CHECK(cudaMemcpyAsync(o.data(), out, count * 2, cudaMemcpyDeviceToHost, s));
                CHECK(cudaStreamSynchronize(s));
                for (int i = 0; i < count; i++) {
                    mine[i] = __bfloat162float(o[i]);
                }
            }
            CHECK(cudaStreamSynchronize(s));
            CHECK(cudaGetLastError());
            if (v.kind == Variant::Legacy) {
                legacyOut.assign(mine.begin(), mine.begin() + count);
                CHECK(cudaMemcpy(legacyAct.data(), act, m.tokens * I * 4, cudaMemcpyDeviceToHost));
            }
            std::vector<float> const& ref = actOut ? legacyAct : legacyOut;
            double maxDiff = 0, maxAbs = 0;
            for (int i = 0; i < count; i++) {
                maxDiff = std::max(maxDiff, std::fabs(static_cast<double>(mine[i]) - ref[i]));
                maxAbs = std::max(maxAbs, std::fabs(static_cast<double>(ref[i])));
            }
            double us = 1e3 * bench::medianMsPerCall(9, 300, s, a, b, [&](int c) {
                runVariant(v, layers[c % kLayers], hidden, mask, m.tokens, normed, act, out, s);
            });
            if (v.kind == Variant::GateUp || v.kind == Variant::Down) {
                std::printf("  %-24s columns %d unroll %d split %d  %7.2f us  %5.2f TB/s", v.name, v.columns, v.unroll, v.split, us,
                    bytes / us / 1e6);
            } else {
                std::printf("  %-49s %7.2f us  %5.2f TB/s", v.name, us, bytes / us / 1e6);
            }
            if (v.kind == Variant::Cublas) {
                std::printf("   (one path)\n");
            } else {
                std::printf("   max |diff| vs session 9 %.3g (peak %.3g)\n", maxDiff, maxAbs);
            }
        }
    }

    // the attention side's projections: TensorRT's GEMMs took 45 us a layer for these 50 MB at one
    // token (ncu, session 10); cuBLAS and the linear plugin's path, each on 6 weight sets in turn
    std::printf("attention projections (q/k/v 5120 x 3072, output 3072 x 3072)\n");
    void* linearWorkspace = nullptr;
    CHECK(cudaMalloc(&linearWorkspace, higgs_linear_workspace(2, H, 7, 2)));
    struct Proj {
        char const* name;
        int rows, cols;
    };
    for (Proj pr : {Proj{"q/k/v", 5120, 3072}, Proj{"output", 3072, 3072}}) {
        std::vector<B16*> ws;
        for (int i = 0; i < kLayers; i++) {
            ws.push_back(bench::alloc(1LL * pr.rows * pr.cols, 500u + i, 0.05f));
        }
        double bytes = 2.0 * pr.rows * pr.cols;
        auto time = [&](char const* what, auto&& call) {
            double us = 1e3 * bench::medianMsPerCall(9, 300, s, a, b, [&](int c) { call(ws[c % kLayers]); });
            std::printf("  %-8s %-28s %7.2f us  %5.2f TB/s\n", pr.name, what, us, bytes / us / 1e6);
        };
        float one = 1.f, zero = 0.f;
        for (int tokens : {1, 2}) {
            char what[64];
            std::snprintf(what, sizeof what, "cuBLAS, %d token(s)", tokens);
            time(what, [&](B16 const* w) {
                gCublas.setStream(gHandle, s);
                gCublas.gemmEx(gHandle, kCublasOpT, kCublasOpN, pr.rows, tokens, pr.cols, &one, w, CUDA_R_16BF, pr.cols,
                    hidden, CUDA_R_16BF, pr.cols, &zero, gBf16Act, CUDA_R_16BF, pr.rows, kCublasCompute32F,
                    kCublasGemmDefault);
            });
            struct Mode {
                char const* name;
                int norm, residual;
            };
            for (Mode m : {Mode{"plain", 0, 0}, Mode{"dual norm", 2, 0}, Mode{"residual", 0, 1}}) {
                std::snprintf(what, sizeof what, "plugin %s, %d token(s)", m.name, tokens);
                time(what, [&](B16 const* w) {
                    if (higgs_linear_run(7, 7, hidden, w, m.norm, layers[0].textNorm, layers[0].audioNorm, mask, 0, 1e-5f,
                            m.residual ? hidden : nullptr, gBf16Act, tokens, pr.cols, pr.rows, linearWorkspace, s) != 0) {
                        std::fprintf(stderr, "higgs_linear_run failed\n");
                        std::exit(1);
                    }
                });
            }
        }
        CHECK(cudaGetLastError());
        for (B16* w : ws) {
            CHECK(cudaFree(w));
        }
    }
    CHECK(cudaFree(linearWorkspace));
    return 0;
}
