// The sum over a tensor-parallel group as a TensorRT 10 IPluginV3 (HiggsAllReduce): every rank's
// engine holds one per partial sum (attention dense, feed-forward), and each rank's output is the
// sum of all ranks' inputs.
//
//   input   0 partial [...]  FLOAT, HALF or BF16
//   output  0 the sum over the group, same type and shape
//   field   world (INT32): the group size the plan was built for
//
// Nothing about the group is serialized (a plan is per rank; communicators are per process). The
// Java side creates a group, binds (group, rank) on the thread that creates an execution context,
// and attachToContext takes the binding into the context's copy of the plugin. Two kinds of group:
//   NCCL       one communicator per rank, made by the Java side; enqueue calls ncclAllReduce on the
//              enqueue stream. libnccl is the one already loaded in the process (or HIGGS_TRT_NCCL).
//   in-process ranks that are threads of this process, on one GPU or on peer GPUs: each rank posts
//              its input and an event, waits on the host until all have, and sums every input in
//              rank order on its own stream (so all ranks get bit-identical sums). A second host
//              barrier and event keep each rank from reusing its input before all have read it.
//              For tests of tensor-parallel engines where NCCL cannot run (several ranks on one GPU).
#include "trt_plugin_abi.h"
#include "plugin_common.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <vector>

using namespace nvinfer1;

namespace {

constexpr char kPluginName[] = "HiggsAllReduce";
constexpr char kPluginVersion[] = "1";
constexpr int kMaxWorld = 8;

higgs::ErrorSlot gErrors;

// NCCL, declared from the facts of nccl.h: the enum values and ncclAllReduce's signature.
using ncclComm_t = void*;
enum ncclDataType_t : int { ncclFloat16 = 6, ncclFloat32 = 7, ncclBfloat16 = 9 };
enum ncclRedOp_t : int { ncclSum = 0 };
using ncclResult_t = int;
using AllReduceFn = ncclResult_t (*)(void const*, void*, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t);
using ErrorStringFn = char const* (*)(ncclResult_t);

std::mutex gNcclMutex;
AllReduceFn gAllReduce = nullptr;
ErrorStringFn gNcclError = nullptr;

bool loadNccl() {
    std::lock_guard<std::mutex> lock(gNcclMutex);
    if (gAllReduce != nullptr) {
        return true;
    }
    char const* configured = std::getenv("HIGGS_TRT_NCCL");
    char const* name = configured != nullptr && *configured != 0 ? configured : "libnccl.so.2";
    void* lib = dlopen(name, RTLD_NOW | RTLD_NOLOAD);
    if (lib == nullptr) {
        lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    }
    if (lib == nullptr) {
        gErrors.set("all-reduce: NCCL (%s) could not be loaded: %s", name, dlerror());
        return false;
    }
    gNcclError = reinterpret_cast<ErrorStringFn>(dlsym(lib, "ncclGetErrorString"));
    gAllReduce = reinterpret_cast<AllReduceFn>(dlsym(lib, "ncclAllReduce"));
    if (gAllReduce == nullptr) {
        gErrors.set("all-reduce: %s has no ncclAllReduce", name);
        return false;
    }
    return true;
}

std::atomic<long long> gNcclCalls{0};
std::atomic<long long> gLocalCalls{0};
std::atomic<long long> gLivePlugins{0};

struct Group {
    bool nccl;
    int world;
    long long timeoutMs;
    std::vector<ncclComm_t> comms;

    std::mutex mutex;
    std::condition_variable arrivedAll;
    int arrived = 0;
    long long generation = 0;
    bool broken = false;
    std::string brokenWhy;
    std::vector<void const*> inputs;
    std::vector<cudaEvent_t> ready;
    std::vector<cudaEvent_t> done;
    std::vector<int> devices;
    std::vector<bool> peersEnabled;

    Group(bool isNccl, int n, long long timeout)
        : nccl(isNccl), world(n), timeoutMs(timeout), comms(n, nullptr), inputs(n, nullptr), ready(n, nullptr),
          done(n, nullptr), devices(n, -1), peersEnabled(n, false) {}

    ~Group() {
        for (int r = 0; r < world; r++) {
            if (ready[r] != nullptr) {
                cudaEventDestroy(ready[r]);
            }
            if (done[r] != nullptr) {
                cudaEventDestroy(done[r]);
            }
        }
    }

    // Waits until all ranks arrive; false (and the group broken for good) when one does not in time.
    bool barrier(int rank) {
        std::unique_lock<std::mutex> lock(mutex);
        if (broken) {
            return false;
        }
        long long gen = generation;
        if (++arrived == world) {
            arrived = 0;
            generation++;
            arrivedAll.notify_all();
            return true;
        }
        bool ok = arrivedAll.wait_for(lock, std::chrono::milliseconds(timeoutMs),
            [&] { return generation != gen || broken; });
        if (!ok || broken) {
            if (!broken) {
                broken = true;
                brokenWhy = "rank " + std::to_string(rank) + " waited " + std::to_string(timeoutMs)
                    + " ms for the other ranks of the group";
                arrivedAll.notify_all();
            }
            return false;
        }
        return true;
    }
};

thread_local Group* tBoundGroup = nullptr;
thread_local int tBoundRank = -1;

struct Inputs {
    void const* p[kMaxWorld];
};

using higgs::fromFloat;
using higgs::toFloat;

template <typename T>
__global__ void sumKernel(Inputs in, int world, T* out, long long n) {
    for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<long long>(gridDim.x) * blockDim.x) {
        float s = 0.f;
        for (int r = 0; r < world; r++) {
            s += toFloat(static_cast<T const*>(in.p[r])[i]);
        }
        out[i] = fromFloat<T>(s);
    }
}

using higgs::volume;

using higgs::isComputeType;

class AllReducePlugin final : public IPluginV3, public IPluginV3OneCore, public IPluginV3OneBuild,
                              public IPluginV3OneRuntime {
public:
    explicit AllReducePlugin(int world) : world_(world) {
        gLivePlugins.fetch_add(1);
        fields_[0] = PluginField{"world", &world_, PluginFieldType::kINT32, 1};
        collection_.nbFields = 1;
        collection_.fields = fields_;
    }

    AllReducePlugin(AllReducePlugin const& other) : AllReducePlugin(other.world_) {
        group_ = other.group_;
        rank_ = other.rank_;
    }

    ~AllReducePlugin() override { gLivePlugins.fetch_sub(1); }

    IPluginCapability* getCapabilityInterface(PluginCapabilityType type) noexcept override {
        switch (type) {
        case PluginCapabilityType::kCORE: return static_cast<IPluginV3OneCore*>(this);
        case PluginCapabilityType::kBUILD: return static_cast<IPluginV3OneBuild*>(this);
        case PluginCapabilityType::kRUNTIME: return static_cast<IPluginV3OneRuntime*>(this);
        }
        return nullptr;
    }

    IPluginV3* clone() noexcept override { return new (std::nothrow) AllReducePlugin(*this); }

    AsciiChar const* getPluginName() const noexcept override { return kPluginName; }
    AsciiChar const* getPluginVersion() const noexcept override { return kPluginVersion; }
    AsciiChar const* getPluginNamespace() const noexcept override { return higgs::kPluginNamespace; }

    int32_t configurePlugin(DynamicPluginTensorDesc const*, int32_t nbInputs, DynamicPluginTensorDesc const*,
        int32_t nbOutputs) noexcept override {
        return arity(nbInputs, nbOutputs) ? 0 : -1;
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
        int32_t nbOutputs, IExprBuilder&) noexcept override {
        if (!arity(nbInputs, nbOutputs)) {
            return -1;
        }
        outputs[0] = inputs[0];
        return 0;
    }

    bool supportsFormatCombination(int32_t pos, DynamicPluginTensorDesc const* inOut, int32_t nbInputs,
        int32_t nbOutputs) noexcept override {
        if (nbInputs != 1 || nbOutputs != 1 || pos < 0 || pos > 1) {
            return false;
        }
        PluginTensorDesc const& d = inOut[pos].desc;
        return d.format == TensorFormat::kLINEAR && isComputeType(d.type) && (pos == 0 || d.type == inOut[0].desc.type);
    }

    int32_t getNbOutputs() const noexcept override { return 1; }

    char const* getMetadataString() noexcept override { return "HiggsAllReduce: sum over a tensor-parallel group"; }

    int32_t onShapeChange(PluginTensorDesc const*, int32_t nbInputs, PluginTensorDesc const*, int32_t nbOutputs)
        noexcept override {
        return arity(nbInputs, nbOutputs) ? 0 : -1;
    }

    int32_t enqueue(PluginTensorDesc const* inputDesc, PluginTensorDesc const*, void const* const* inputs,
        void* const* outputs, void* , cudaStream_t stream) noexcept override {
        long long n = volume(inputDesc[0].dims);
        DataType type = inputDesc[0].type;
        size_t bytes = static_cast<size_t>(n) * (type == DataType::kFLOAT ? 4 : 2);
        if (world_ == 1 && group_ == nullptr) {
            if (outputs[0] != inputs[0] && n > 0
                && cudaMemcpyAsync(outputs[0], inputs[0], bytes, cudaMemcpyDeviceToDevice, stream) != cudaSuccess) {
                gErrors.set("all-reduce: copy of a one-rank sum failed: %s", cudaGetErrorString(cudaGetLastError()));
                return -1;
            }
            return 0;
        }
        if (group_ == nullptr) {
            gErrors.set("all-reduce: no group bound to this execution context (world %d): bind one before creating it",
                world_);
            return -1;
        }
        if (group_->world != world_) {
            gErrors.set("all-reduce: the plan was built for %d ranks, the bound group has %d", world_, group_->world);
            return -1;
        }
        return group_->nccl ? viaNccl(inputs[0], outputs[0], n, type, stream)
                            : inProcess(inputs[0], outputs[0], n, type, stream);
    }

    IPluginV3* attachToContext(IPluginResourceContext*) noexcept override {
        AllReducePlugin* attached = new (std::nothrow) AllReducePlugin(*this);
        if (attached != nullptr && tBoundGroup != nullptr) {
            attached->group_ = tBoundGroup;
            attached->rank_ = tBoundRank;
        }
        return attached;
    }

    PluginFieldCollection const* getFieldsToSerialize() noexcept override { return &collection_; }

private:
    static bool arity(int32_t nbInputs, int32_t nbOutputs) {
        if (nbInputs == 1 && nbOutputs == 1) {
            return true;
        }
        gErrors.set("all-reduce: %d inputs and %d outputs, expected 1 and 1", nbInputs, nbOutputs);
        return false;
    }

    int viaNccl(void const* in, void* out, long long n, DataType type, cudaStream_t stream) {
        if (!loadNccl()) {
            return -1;
        }
        ncclDataType_t t = type == DataType::kFLOAT ? ncclFloat32 : type == DataType::kHALF ? ncclFloat16 : ncclBfloat16;
        ncclResult_t r = gAllReduce(in, out, static_cast<size_t>(n), t, ncclSum, group_->comms[rank_], stream);
        if (r != 0) {
            gErrors.set("all-reduce: ncclAllReduce of %lld values on rank %d failed: %s", n, rank_,
                gNcclError != nullptr ? gNcclError(r) : "(no message)");
            return -1;
        }
        gNcclCalls.fetch_add(1);
        return 0;
    }

    int inProcess(void const* in, void* out, long long n, DataType type, cudaStream_t stream) {
        Group& g = *group_;
        int r = rank_;
        if (g.ready[r] == nullptr) {
            if (cudaGetDevice(&g.devices[r]) != cudaSuccess
                || cudaEventCreateWithFlags(&g.ready[r], cudaEventDisableTiming) != cudaSuccess
                || cudaEventCreateWithFlags(&g.done[r], cudaEventDisableTiming) != cudaSuccess) {
                gErrors.set("all-reduce: events of rank %d could not be created: %s", r, cudaGetErrorString(cudaGetLastError()));
                return -1;
            }
        }
        g.inputs[r] = in;
        if (cudaEventRecord(g.ready[r], stream) != cudaSuccess) {
            gErrors.set("all-reduce: cudaEventRecord on rank %d failed", r);
            return -1;
        }
        if (!g.barrier(r)) {
            return broken(g);
        }
        if (!g.peersEnabled[r] && !enablePeers(g, r)) {
            return -1;
        }
        Inputs all{};
        for (int j = 0; j < g.world; j++) {
            all.p[j] = g.inputs[j];
            if (j != r && cudaStreamWaitEvent(stream, g.ready[j], 0) != cudaSuccess) {
                gErrors.set("all-reduce: rank %d could not wait for rank %d", r, j);
                return -1;
            }
        }
        if (n > 0) {
            unsigned blocks = static_cast<unsigned>(n / 256 + 1 < 4096 ? n / 256 + 1 : 4096);
            if (type == DataType::kFLOAT) {
                sumKernel<float><<<blocks, 256, 0, stream>>>(all, g.world, static_cast<float*>(out), n);
            } else if (type == DataType::kHALF) {
                sumKernel<__half><<<blocks, 256, 0, stream>>>(all, g.world, static_cast<__half*>(out), n);
            } else {
                sumKernel<__nv_bfloat16><<<blocks, 256, 0, stream>>>(all, g.world, static_cast<__nv_bfloat16*>(out), n);
            }
            cudaError_t e = cudaGetLastError();
            if (e != cudaSuccess) {
                gErrors.set("all-reduce: sum kernel on rank %d failed: %s", r, cudaGetErrorString(e));
                return -1;
            }
        }
        if (cudaEventRecord(g.done[r], stream) != cudaSuccess) {
            gErrors.set("all-reduce: cudaEventRecord on rank %d failed", r);
            return -1;
        }
        if (!g.barrier(r)) {
            return broken(g);
        }
        for (int j = 0; j < g.world; j++) {
            if (j != r && cudaStreamWaitEvent(stream, g.done[j], 0) != cudaSuccess) {
                gErrors.set("all-reduce: rank %d could not wait for rank %d", r, j);
                return -1;
            }
        }
        gLocalCalls.fetch_add(1);
        return 0;
    }

    static int broken(Group& g) {
        std::lock_guard<std::mutex> lock(g.mutex);
        gErrors.set("all-reduce: the in-process group is broken: %s", g.brokenWhy.c_str());
        return -1;
    }

    // Ranks on other GPUs read this rank's inputs directly: each rank enables access to the others' devices.
    static bool enablePeers(Group& g, int r) {
        for (int j = 0; j < g.world; j++) {
            int other = g.devices[j];
            if (other == g.devices[r]) {
                continue;
            }
            int can = 0;
            if (cudaDeviceCanAccessPeer(&can, g.devices[r], other) != cudaSuccess || !can) {
                gErrors.set("all-reduce: GPU %d cannot access GPU %d directly (in-process groups need peer access; use NCCL)",
                    g.devices[r], other);
                return false;
            }
            cudaError_t e = cudaDeviceEnablePeerAccess(other, 0);
            if (e != cudaSuccess && e != cudaErrorPeerAccessAlreadyEnabled) {
                gErrors.set("all-reduce: enabling peer access from GPU %d to %d failed: %s", g.devices[r], other,
                    cudaGetErrorString(e));
                return false;
            }
            cudaGetLastError();
        }
        g.peersEnabled[r] = true;
        return true;
    }

    int32_t world_;
    PluginField fields_[1];
    PluginFieldCollection collection_{};
    Group* group_ = nullptr;
    int rank_ = -1;
};

class AllReduceCreator final : public IPluginCreatorV3One {
public:
    AllReduceCreator() {
        fields_[0] = PluginField{"world", nullptr, PluginFieldType::kINT32, 1};
        collection_.nbFields = 1;
        collection_.fields = fields_;
    }

    IPluginV3* createPlugin(AsciiChar const*, PluginFieldCollection const* fc, TensorRTPhase) noexcept override {
        int world = -1;
        for (int i = 0; fc != nullptr && i < fc->nbFields; i++) {
            PluginField const& f = fc->fields[i];
            if (f.name != nullptr && f.data != nullptr && f.length == 1 && std::strcmp(f.name, "world") == 0
                && f.type == PluginFieldType::kINT32) {
                world = *static_cast<int32_t const*>(f.data);
            }
        }
        if (world < 1 || world > kMaxWorld) {
            gErrors.set("all-reduce: field world (INT32 in [1, %d]) is required; got %d", kMaxWorld, world);
            return nullptr;
        }
        return new (std::nothrow) AllReducePlugin(world);
    }

    PluginFieldCollection const* getFieldNames() noexcept override { return &collection_; }
    AsciiChar const* getPluginName() const noexcept override { return kPluginName; }
    AsciiChar const* getPluginVersion() const noexcept override { return kPluginVersion; }
    AsciiChar const* getPluginNamespace() const noexcept override { return higgs::kPluginNamespace; }

private:
    PluginField fields_[1];
    PluginFieldCollection collection_{};
};

AllReduceCreator gCreator;

} // namespace

// ---------------------------------------------------------------------------------------------
// C entry points for the Java side (JNA).

HX_EXPORT IPluginCreatorV3One* higgs_all_reduce_creator() { return &gCreator; }

HX_EXPORT int higgs_all_reduce_max_world() { return kMaxWorld; }

// A group of world ranks that are threads of this process; a rank that waits longer than
// timeout_ms for the others fails its enqueue and breaks the group.
HX_EXPORT void* higgs_all_reduce_local_group(int world, long long timeout_ms) {
    if (world < 1 || world > kMaxWorld || timeout_ms <= 0) {
        return nullptr;
    }
    return new (std::nothrow) Group(false, world, timeout_ms);
}

// A group over NCCL communicators, one per rank (comms[rank]), owned by the caller.
HX_EXPORT void* higgs_all_reduce_nccl_group(int world, void* const* comms) {
    if (world < 1 || world > kMaxWorld || comms == nullptr) {
        return nullptr;
    }
    Group* g = new (std::nothrow) Group(true, world, 1);
    if (g != nullptr) {
        for (int r = 0; r < world; r++) {
            g->comms[r] = comms[r];
        }
    }
    return g;
}

// Frees a group; every execution context bound to it must be gone.
HX_EXPORT void higgs_all_reduce_group_free(void* group) { delete static_cast<Group*>(group); }

// Execution contexts created on this thread until unbind run as rank of group.
HX_EXPORT int higgs_all_reduce_bind(void* group, int rank) {
    Group* g = static_cast<Group*>(group);
    if (g == nullptr || rank < 0 || rank >= g->world) {
        return -1;
    }
    tBoundGroup = g;
    tBoundRank = rank;
    return 0;
}

HX_EXPORT void higgs_all_reduce_unbind() {
    tBoundGroup = nullptr;
    tBoundRank = -1;
}

// 0 when libnccl is loaded (or loadable); otherwise the reason is the last error.
HX_EXPORT int higgs_all_reduce_load_nccl() { return loadNccl() ? 0 : 1; }

HX_EXPORT long long higgs_all_reduce_nccl_calls() { return gNcclCalls.load(); }

HX_EXPORT long long higgs_all_reduce_local_calls() { return gLocalCalls.load(); }

HX_EXPORT long long higgs_all_reduce_live_plugins() { return gLivePlugins.load(); }

HX_EXPORT int higgs_all_reduce_last_error(char* message, int capacity) {
    return gErrors.copyTo(message, capacity);
}

HX_EXPORT void higgs_all_reduce_clear_error() { gErrors.clear(); }

HX_EXPORT void higgs_all_reduce_destroy(IPluginV3* plugin) { delete plugin; }
