// A minimal GPU timeline recorder for machines without Nsight Systems (run by hand; see
// scripts/gpu-bench.sh trace). Loaded by the CUDA driver through CUDA_INJECTION64_PATH, it records,
// between cudaProfilerStart and cudaProfilerStop only, every kernel, copy and memset with its GPU
// start and end, and every driver API call with its host start and end, all on CUPTI's one clock.
// At exit it writes two CSV files in the column names of `nsys stats` (cuda_gpu_trace and
// cuda_api_trace), which scripts/bench/nsys_gaps.py reads:
//   $HX_TRACE_OUT.gpu.csv   "Start (ns)","Duration (ns)","CorrId","Name"
//   $HX_TRACE_OUT.api.csv   "Start (ns)","Duration (ns)","Name","CorrID"
// Build on the GPU machine against its own CUPTI (the record layouts are its version's):
//   g++ -O2 -shared -fPIC -I/usr/local/cuda/include -o libhxtrace.so cupti_trace.cpp \
//       -L/usr/local/cuda/lib64 -L/usr/local/cuda/extras/CUPTI/lib64 -lcupti
#include <cupti.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

namespace {

struct Gpu {
    unsigned long long start, end;
    unsigned correlation;
    std::string name;
};
struct Api {
    unsigned long long start, end;
    unsigned correlation;
    unsigned cbid;
};

std::mutex gMutex;
std::vector<Gpu> gGpu;
std::vector<Api> gApi;
bool gRecording = false;
CUpti_SubscriberHandle gSubscriber;

constexpr CUpti_ActivityKind kKinds[] = {CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL, CUPTI_ACTIVITY_KIND_MEMCPY,
    CUPTI_ACTIVITY_KIND_MEMSET, CUPTI_ACTIVITY_KIND_DRIVER};

void CUPTIAPI bufferRequested(uint8_t** buffer, size_t* size, size_t* maxRecords) {
    *size = size_t{16} << 20;
    *buffer = static_cast<uint8_t*>(std::aligned_alloc(8, *size));
    *maxRecords = 0;
}

void CUPTIAPI bufferCompleted(CUcontext, uint32_t, uint8_t* buffer, size_t, size_t valid) {
    std::lock_guard<std::mutex> lock(gMutex);
    CUpti_Activity* record = nullptr;
    while (cuptiActivityGetNextRecord(buffer, valid, &record) == CUPTI_SUCCESS) {
        switch (record->kind) {
        case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL:
        case CUPTI_ACTIVITY_KIND_KERNEL: {
            auto k = reinterpret_cast<CUpti_ActivityKernel10*>(record);
            gGpu.push_back({k->start, k->end, k->correlationId, k->name != nullptr ? k->name : "?"});
            break;
        }
        case CUPTI_ACTIVITY_KIND_MEMCPY: {
            auto m = reinterpret_cast<CUpti_ActivityMemcpy6*>(record);
            gGpu.push_back({m->start, m->end, m->correlationId,
                "[memcpy kind " + std::to_string(m->copyKind) + " " + std::to_string(m->bytes) + " B]"});
            break;
        }
        case CUPTI_ACTIVITY_KIND_MEMSET: {
            auto m = reinterpret_cast<CUpti_ActivityMemset4*>(record);
            gGpu.push_back({m->start, m->end, m->correlationId, "[memset " + std::to_string(m->bytes) + " B]"});
            break;
        }
        case CUPTI_ACTIVITY_KIND_DRIVER: {
            auto a = reinterpret_cast<CUpti_ActivityAPI*>(record);
            gApi.push_back({a->start, a->end, a->correlationId, a->cbid});
            break;
        }
        default: break;
        }
    }
    std::free(buffer);
}

void CUPTIAPI onDriverCall(void*, CUpti_CallbackDomain domain, CUpti_CallbackId cbid, void const* data) {
    auto info = static_cast<CUpti_CallbackData const*>(data);
    if (domain != CUPTI_CB_DOMAIN_DRIVER_API || info->callbackSite != CUPTI_API_EXIT) {
        return;
    }
    if (cbid == CUPTI_DRIVER_TRACE_CBID_cuProfilerStart && !gRecording) {
        for (auto kind : kKinds) {
            cuptiActivityEnable(kind);
        }
        gRecording = true;
    } else if (cbid == CUPTI_DRIVER_TRACE_CBID_cuProfilerStop && gRecording) {
        for (auto kind : kKinds) {
            cuptiActivityDisable(kind);
        }
        gRecording = false;
        cuptiActivityFlushAll(1);
    }
}

void writeFiles() {
    cuptiActivityFlushAll(1);
    std::lock_guard<std::mutex> lock(gMutex);
    char const* base = std::getenv("HX_TRACE_OUT");
    std::string prefix = base != nullptr ? base : "/tmp/hxtrace";
    if (FILE* f = std::fopen((prefix + ".gpu.csv").c_str(), "w")) {
        std::fprintf(f, "\"Start (ns)\",\"Duration (ns)\",\"CorrId\",\"Name\"\n");
        for (auto const& g : gGpu) {
            std::string name = g.name;
            for (auto& ch : name) {
                if (ch == '"') {
                    ch = '\'';
                }
            }
            std::fprintf(f, "%llu,%llu,%u,\"%s\"\n", g.start, g.end - g.start, g.correlation, name.c_str());
        }
        std::fclose(f);
    }
    if (FILE* f = std::fopen((prefix + ".api.csv").c_str(), "w")) {
        std::fprintf(f, "\"Start (ns)\",\"Duration (ns)\",\"Name\",\"CorrID\"\n");
        for (auto const& a : gApi) {
            char const* name = nullptr;
            cuptiGetCallbackName(CUPTI_CB_DOMAIN_DRIVER_API, a.cbid, &name);
            std::fprintf(f, "%llu,%llu,\"%s\",%u\n", a.start, a.end - a.start, name != nullptr ? name : "?", a.correlation);
        }
        std::fclose(f);
    }
    std::fprintf(stderr, "hxtrace: %zu GPU records, %zu API records -> %s.{gpu,api}.csv\n", gGpu.size(), gApi.size(),
        prefix.c_str());
}

}  // namespace

extern "C" int InitializeInjection(void) {
    if (cuptiActivityRegisterCallbacks(bufferRequested, bufferCompleted) != CUPTI_SUCCESS
        || cuptiSubscribe(&gSubscriber, onDriverCall, nullptr) != CUPTI_SUCCESS
        || cuptiEnableCallback(1, gSubscriber, CUPTI_CB_DOMAIN_DRIVER_API, CUPTI_DRIVER_TRACE_CBID_cuProfilerStart)
            != CUPTI_SUCCESS
        || cuptiEnableCallback(1, gSubscriber, CUPTI_CB_DOMAIN_DRIVER_API, CUPTI_DRIVER_TRACE_CBID_cuProfilerStop)
            != CUPTI_SUCCESS) {
        std::fprintf(stderr, "hxtrace: CUPTI set-up failed\n");
        return 0;
    }
    std::atexit(writeFiles);
    return 1;
}
