// Times the kernels of one batch-1 decode step of the full model (28 layers, BF16, one audio token)
// as the plugins launch them, outside TensorRT, against the step's floor: the bytes it must read
// (each layer's q/k/v, output projection and audio-path FFN weights, the audio head, the KV cache
// of the context) over the device-to-device copy rate measured in the same run. Not part of the
// build: compile and run by hand on the GPU machine, with the plugins' settings in the environment
// (HIGGS_TRT_PDL and the others), so that each variant of a kernel change is one run of the binary.
//
//   nvcc -O3 -std=c++17 -gencode arch=compute_90,code=sm_90 -o /tmp/decode_step_bench decode_step_bench.cu \
//     ../../main/cuda/linear_plugin.cu ../../main/cuda/paged_attention_plugin.cu ../../main/cuda/cublas_runtime.cu -ldl
//   /tmp/decode_step_bench [context [step]]     (step: the whole step only)
//
// Each layer is the engine's: the linear plugin's q/k/v projection with the per-path input RMSNorm,
// the paged attention's one-kernel decode on the fused q/k/v rows, the output projection with the
// residual, then the dual FFN's two skinny kernels with the residual; the audio head (with the final
// norm) last. One step is captured as a CUDA graph and replayed; the median of 7 runs of 100
// replays. Each kind of kernel is also timed alone, 28 of its calls in a graph (the bytes of the
// other kernels no longer between them). The embedding and the token's bookkeeping kernels are not
// here (a few microseconds a step in the engine).
#include "../../main/cuda/dual_ffn_plugin.cu"
#include "bench_check.cuh"

#include <algorithm>
#include <functional>
#include <vector>

extern "C" size_t higgs_linear_workspace(long long max_tokens, int in_features, int type, int norm);
extern "C" int higgs_linear_run(int type, int norm_type, void const* x, void const* weight, int norm, void const* text_norm,
    void const* audio_norm, void const* mask, int mask_is_int, float eps, void const* residual, void* out, int tokens,
    int in_features, int out_features, void* workspace, void* stream);
extern "C" size_t higgs_paged_attention_workspace(long long max_tokens, int heads, int kv_heads, int head_dim);
extern "C" int higgs_paged_attention_run(int type, void const* q, void const* kv, int const* positions, int const* slots,
    int const* tables, float const* inv_freq, void* cache, void* out, long long tokens, long long sequences, int heads,
    int kv_heads, int head_dim, int block_size, int max_blocks, int num_blocks, int consecutive, int fused_qkv,
    void* workspace, void* stream);

namespace {

using bench::B16;
constexpr int kLayers = 28;
constexpr int H = 3072;
constexpr int I = 8192;
constexpr int kHeads = 24;
constexpr int kKvHeads = 8;
constexpr int D = 128;
constexpr int kQkv = (kHeads + 2 * kKvHeads) * D;
constexpr int kHeadRows = 8 * 1026;   // 8 codebooks of 1,026 codes
constexpr int kBlock = 32;
constexpr int kBf16 = 7;              // nvinfer1::DataType::kBF16

struct Layer {
    B16* qkv;       // [kQkv, H]
    B16* o;         // [H, H]
    B16* gateUp;    // [2I, H]: the audio gate rows, then the up rows (also passed as the text path's fused rows)
    B16* down;      // [H, I]
    B16* inputNorm; // [H]
    B16* postNorm;  // [H]
    B16* cache;     // [blocks, 2, kKvHeads, kBlock, D]
};

cudaGraphExec_t capture(cudaStream_t s, std::function<void()> const& body) {
    cudaGraph_t graph;
    CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    body();
    CHECK(cudaStreamEndCapture(s, &graph));
    cudaGraphExec_t exec;
    CHECK(cudaGraphInstantiate(&exec, graph, 0));
    CHECK(cudaGraphDestroy(graph));
    return exec;
}

void ok(int rc, char const* what) {
    if (rc != 0) {
        std::fprintf(stderr, "%s failed (%d)\n", what, rc);
        std::exit(1);
    }
}

} // namespace

int main(int argc, char** argv) {
    int context = argc > 1 ? std::atoi(argv[1]) : 600;   // the positions before the step's token
    bool stepOnly = argc > 2 && std::strcmp(argv[2], "step") == 0;   // the whole step alone (the sweeps)
    cudaStream_t s;
    CHECK(cudaStreamCreate(&s));
    cudaDeviceProp prop;
    CHECK(cudaGetDeviceProperties(&prop, 0));
    char const* pdl = std::getenv("HIGGS_TRT_PDL");
    std::printf("device: %s, %d SMs; context %d; HIGGS_TRT_PDL=%s\n", prop.name, prop.multiProcessorCount, context,
        pdl == nullptr ? "(default)" : pdl);

    int blocks = (context + 1 + kBlock - 1) / kBlock;
    long long cacheElems = static_cast<long long>(blocks) * 2 * kKvHeads * kBlock * D;
    std::vector<Layer> layers(kLayers);
    for (int l = 0; l < kLayers; l++) {
        unsigned seed = 31u * (l + 1);
        layers[l] = {bench::alloc(1LL * kQkv * H, seed + 1, 0.05f), bench::alloc(1LL * H * H, seed + 2, 0.05f),
            bench::alloc(2LL * I * H, seed + 3, 0.05f), bench::alloc(1LL * H * I, seed + 4, 0.05f),
            bench::alloc(H, seed + 5, 2.f), bench::alloc(H, seed + 6, 2.f), bench::alloc(cacheElems, seed + 7, 2.f)};
    }
    B16* head = bench::alloc(1LL * kHeadRows * H, 7, 0.05f);
    B16* finalNorm = bench::alloc(H, 8, 2.f);
    B16* hidden = bench::alloc(H, 9, 2.f);
    B16* hidden2 = bench::alloc(H, 10, 2.f);
    B16* qkvOut = bench::alloc(kQkv, 11, 1.f);
    B16* attnOut = bench::alloc(kHeads * D, 12, 1.f);
    B16* act = bench::alloc(I, 13, 1.f);
    B16* logits = bench::alloc(kHeadRows, 14, 1.f);

    std::vector<int> table(blocks);
    for (int b = 0; b < blocks; b++) {
        table[b] = blocks - 1 - b;   // not in order, as a cache shared by many sequences would have them
    }
    int *position, *slot, *tables, *mask;
    float* invFreq;
    CHECK(cudaMalloc(&position, 4));
    CHECK(cudaMalloc(&slot, 4));
    CHECK(cudaMalloc(&tables, 4 * blocks));
    CHECK(cudaMalloc(&mask, 4));
    CHECK(cudaMalloc(&invFreq, 4 * D / 2));
    int one = 1, zero = 0;
    CHECK(cudaMemcpy(position, &context, 4, cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(slot, &zero, 4, cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(mask, &one, 4, cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(tables, table.data(), 4 * blocks, cudaMemcpyHostToDevice));
    std::vector<float> freq(D / 2);
    for (int i = 0; i < D / 2; i++) {
        freq[i] = std::pow(500000.f, -2.f * i / D);
    }
    CHECK(cudaMemcpy(invFreq, freq.data(), 4 * D / 2, cudaMemcpyHostToDevice));
    void *linearWs, *attentionWs;
    CHECK(cudaMalloc(&linearWs, std::max<size_t>(higgs_linear_workspace(1, H, kBf16, 2), 256)));
    CHECK(cudaMalloc(&attentionWs, std::max<size_t>(higgs_paged_attention_workspace(1, kHeads, kKvHeads, D), 256)));
    cudaEvent_t a, b;
    CHECK(cudaEventCreate(&a));
    CHECK(cudaEventCreate(&b));
    CHECK(cudaDeviceSynchronize());

    double copyRate = bench::measureCeilings(s, a, b, prop.multiProcessorCount).copy;   // bytes a second

    auto qkv = [&](Layer const& L) {
        ok(higgs_linear_run(kBf16, kBf16, hidden, L.qkv, 2, L.inputNorm, L.inputNorm, mask, 1, 1e-5f, nullptr, qkvOut, 1, H,
            kQkv, linearWs, s), "q/k/v");
    };
    auto attention = [&](Layer const& L) {
        ok(higgs_paged_attention_run(kBf16, qkvOut, nullptr, position, slot, tables, invFreq, L.cache, attnOut, 1, 1, kHeads,
            kKvHeads, D, kBlock, blocks, blocks, 1, 1, attentionWs, s), "attention");
    };
    auto output = [&](Layer const& L) {
        ok(higgs_linear_run(kBf16, kBf16, attnOut, L.o, 0, nullptr, nullptr, nullptr, 1, 1e-5f, hidden, hidden2, 1, kHeads * D,
            H, linearWs, s), "output projection");
    };
    auto ffn = [&](Layer const& L) {
        launchSkinny<B16, B16, true>(hidden2, L.postNorm, L.postNorm, 1e-5f, mask, true, 1, L.gateUp, L.gateUp,
            L.gateUp + static_cast<long long>(I) * H, L.down, L.down, act, hidden2, hidden, H, I, s);
        CHECK(cudaGetLastError());
    };
    auto audioHead = [&] {
        ok(higgs_linear_run(kBf16, kBf16, hidden, head, 1, finalNorm, finalNorm, mask, 1, 1e-5f, nullptr, logits, 1, H,
            kHeadRows, linearWs, s), "audio head");
    };

    double layerBytes = 2.0 * (1.0 * kQkv * H + 1.0 * H * H + 2.0 * I * H + 1.0 * H * I);
    double kvBytes = 2.0 * 2 * kKvHeads * D * (context + 1);
    double stepBytes = kLayers * (layerBytes + kvBytes) + 2.0 * kHeadRows * H;
    double floorMs = stepBytes / copyRate * 1e3;

    struct Part {
        char const* name;
        std::function<void()> body;
        double bytes;
    };
    std::vector<Part> parts{
        {"whole step", [&] {
             for (Layer const& L : layers) {
                 qkv(L);
                 attention(L);
                 output(L);
                 ffn(L);
             }
             audioHead();
         }, stepBytes},
        {"step without attention", [&] {
             for (Layer const& L : layers) {
                 qkv(L);
                 output(L);
                 ffn(L);
             }
             audioHead();
         }, stepBytes - kLayers * kvBytes},
        {"28 q/k/v", [&] { for (Layer const& L : layers) qkv(L); }, kLayers * 2.0 * kQkv * H},
        {"28 attention", [&] { for (Layer const& L : layers) attention(L); }, kLayers * kvBytes},
        {"28 output projection", [&] { for (Layer const& L : layers) output(L); }, kLayers * 2.0 * H * H},
        {"28 FFN (gate/up, down)", [&] { for (Layer const& L : layers) ffn(L); }, kLayers * 2.0 * 3 * I * H},
        {"audio head", audioHead, 2.0 * kHeadRows * H},
    };
    std::printf("floor %.3f ms (%.2f GB a step)\n", floorMs, stepBytes / 1e9);
    parts[0].body();   // once on the stream: the plugins' first calls create their cuBLAS handle, which a capture may not
    CHECK(cudaStreamSynchronize(s));
    for (Part const& p : parts) {
        if (stepOnly && &p != &parts[0]) {
            break;
        }
        cudaGraphExec_t exec = capture(s, p.body);
        for (int w = 0; w < 20; w++) {
            CHECK(cudaGraphLaunch(exec, s));
        }
        float ms = bench::medianMsPerCall(7, 100, s, a, b, [&](int) { CHECK(cudaGraphLaunch(exec, s)); });
        double floor = p.bytes / copyRate * 1e3;
        std::printf("  %-24s %8.1f us  floor %7.1f us  %.2fx\n", p.name, ms * 1e3, floor * 1e3, ms / floor);
        CHECK(cudaGraphExecDestroy(exec));
    }
    CHECK(cudaDeviceSynchronize());
    return 0;
}
