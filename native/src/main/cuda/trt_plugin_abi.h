// Our own declarations of the TensorRT 10.6 plugin interfaces that the dual-FFN plugin
// implements. TensorRT's headers are not part of this build; everything here is written from the
// facts of the public v10.6.0 headers (NvInferRuntimeBase.h, NvInferRuntime.h,
// NvInferRuntimePlugin.h, NvInferPluginBase.h): class and namespace names (kept, so that the
// mangled names match), the order of virtual methods, where the virtual destructors sit, noexcept,
// struct layouts and enum values. Only what the plugin uses is declared; a class is declared with
// all of its virtual methods up to the last one, since the vtable layout depends on every slot.
//
// The static_asserts at the end check the struct sizes against the layouts derived by hand.
#pragma once

#include <cstddef>
#include <cstdint>

struct CUstream_st;
typedef CUstream_st* cudaStream_t;

namespace nvinfer1 {

using AsciiChar = char;
using InterfaceKind = char const*;

enum class DataType : int32_t {
    kFLOAT = 0, kHALF = 1, kINT8 = 2, kINT32 = 3, kBOOL = 4, kUINT8 = 5, kFP8 = 6, kBF16 = 7,
    kINT64 = 8, kINT4 = 9,
};

enum class TensorFormat : int32_t { kLINEAR = 0 };

enum class APILanguage : int32_t { kCPP = 0, kPYTHON = 1 };

enum class PluginFieldType : int32_t {
    kFLOAT16 = 0, kFLOAT32 = 1, kFLOAT64 = 2, kINT8 = 3, kINT16 = 4, kINT32 = 5, kCHAR = 6,
    kDIMS = 7, kUNKNOWN = 8, kBF16 = 9, kINT64 = 10, kFP8 = 11, kINT4 = 12,
};

enum class TensorRTPhase : int32_t { kBUILD = 0, kRUNTIME = 1 };

enum class PluginCapabilityType : int32_t { kCORE = 0, kBUILD = 1, kRUNTIME = 2 };

class Dims64 {
public:
    static constexpr int32_t MAX_DIMS{8};
    int32_t nbDims;
    int64_t d[MAX_DIMS];
};
using Dims = Dims64;

class InterfaceInfo {
public:
    InterfaceKind kind;
    int32_t major;
    int32_t minor;
};

class PluginField {
public:
    AsciiChar const* name;
    void const* data;
    PluginFieldType type;
    int32_t length;
};

struct PluginFieldCollection {
    int32_t nbFields{};
    PluginField const* fields{};
};

struct PluginTensorDesc {
    Dims dims;
    DataType type;
    TensorFormat format;
    float scale;
};

struct DynamicPluginTensorDesc {
    PluginTensorDesc desc;
    Dims min;
    Dims max;
    Dims opt;
};

// Received by reference. IDimensionExpr is never called into; of IExprBuilder only constant() is
// used (the paged attention's output width with fused q/k/v), so only the layout that call needs is
// declared: the builder's pointer to its implementation after its own vtable pointer, and the
// implementation's vtable of a virtual destructor (two slots) then constant(int64_t).
class IDimensionExpr;

namespace apiv {
class VExprBuilder {
public:
    virtual ~VExprBuilder() noexcept = default;
    virtual IDimensionExpr const* constant(int64_t value) = 0;
};
} // namespace apiv

class IExprBuilder {
public:
    IDimensionExpr const* constant(int64_t value) noexcept { return mImpl->constant(value); }

protected:
    virtual ~IExprBuilder() noexcept = default;
    apiv::VExprBuilder* mImpl;
};

class DimsExprs {
public:
    int32_t nbDims;
    IDimensionExpr const* d[Dims::MAX_DIMS];
};

// Slots: getAPILanguage, getInterfaceInfo, the two destructor entries.
class IVersionedInterface {
public:
    virtual APILanguage getAPILanguage() const noexcept { return APILanguage::kCPP; }
    virtual InterfaceInfo getInterfaceInfo() const noexcept = 0;
    virtual ~IVersionedInterface() noexcept = default;

protected:
    IVersionedInterface() = default;
    IVersionedInterface(IVersionedInterface const&) = default;
    IVersionedInterface& operator=(IVersionedInterface const&) & = default;
};

class IGpuAllocator;
class IErrorRecorder;

class IPluginResourceContext {
public:
    virtual IGpuAllocator* getGpuAllocator() const noexcept = 0;
    virtual IErrorRecorder* getErrorRecorder() const noexcept = 0;
    virtual ~IPluginResourceContext() noexcept = default;
};

namespace v_1_0 {

class IPluginCapability : public IVersionedInterface {};

class IPluginCreatorInterface : public IVersionedInterface {
public:
    ~IPluginCreatorInterface() noexcept override = default;
};

class IPluginV3 : public IVersionedInterface {
public:
    InterfaceInfo getInterfaceInfo() const noexcept override { return InterfaceInfo{"PLUGIN", 1, 0}; }
    virtual IPluginCapability* getCapabilityInterface(PluginCapabilityType type) noexcept = 0;
    virtual IPluginV3* clone() noexcept = 0;
};

class IPluginCreatorV3One : public IPluginCreatorInterface {
public:
    InterfaceInfo getInterfaceInfo() const noexcept override { return InterfaceInfo{"PLUGIN CREATOR_V3ONE", 1, 0}; }
    virtual IPluginV3* createPlugin(AsciiChar const* name, PluginFieldCollection const* fc, TensorRTPhase phase) noexcept = 0;
    virtual PluginFieldCollection const* getFieldNames() noexcept = 0;
    virtual AsciiChar const* getPluginName() const noexcept = 0;
    virtual AsciiChar const* getPluginVersion() const noexcept = 0;
    virtual AsciiChar const* getPluginNamespace() const noexcept = 0;
};

class IPluginV3OneCore : public IPluginCapability {
public:
    InterfaceInfo getInterfaceInfo() const noexcept override { return InterfaceInfo{"PLUGIN_V3ONE_CORE", 1, 0}; }
    virtual AsciiChar const* getPluginName() const noexcept = 0;
    virtual AsciiChar const* getPluginVersion() const noexcept = 0;
    virtual AsciiChar const* getPluginNamespace() const noexcept = 0;
};

class IPluginV3OneBuild : public IPluginCapability {
public:
    static constexpr int32_t kDEFAULT_FORMAT_COMBINATION_LIMIT = 100;
    InterfaceInfo getInterfaceInfo() const noexcept override { return InterfaceInfo{"PLUGIN_V3ONE_BUILD", 1, 0}; }
    virtual int32_t configurePlugin(DynamicPluginTensorDesc const* in, int32_t nbInputs,
        DynamicPluginTensorDesc const* out, int32_t nbOutputs) noexcept = 0;
    virtual int32_t getOutputDataTypes(DataType* outputTypes, int32_t nbOutputs, DataType const* inputTypes,
        int32_t nbInputs) const noexcept = 0;
    virtual int32_t getOutputShapes(DimsExprs const* inputs, int32_t nbInputs, DimsExprs const* shapeInputs,
        int32_t nbShapeInputs, DimsExprs* outputs, int32_t nbOutputs, IExprBuilder& exprBuilder) noexcept = 0;
    virtual bool supportsFormatCombination(int32_t pos, DynamicPluginTensorDesc const* inOut, int32_t nbInputs,
        int32_t nbOutputs) noexcept = 0;
    virtual int32_t getNbOutputs() const noexcept = 0;
    virtual size_t getWorkspaceSize(DynamicPluginTensorDesc const* inputs, int32_t nbInputs,
        DynamicPluginTensorDesc const* outputs, int32_t nbOutputs) const noexcept { return 0; }
    virtual int32_t getValidTactics(int32_t* tactics, int32_t nbTactics) noexcept { return 0; }
    virtual int32_t getNbTactics() noexcept { return 0; }
    virtual char const* getTimingCacheID() noexcept { return nullptr; }
    virtual int32_t getFormatCombinationLimit() noexcept { return kDEFAULT_FORMAT_COMBINATION_LIMIT; }
    virtual char const* getMetadataString() noexcept { return nullptr; }
};

class IPluginV3OneRuntime : public IPluginCapability {
public:
    InterfaceInfo getInterfaceInfo() const noexcept override { return InterfaceInfo{"PLUGIN_V3ONE_RUNTIME", 1, 0}; }
    virtual int32_t setTactic(int32_t tactic) noexcept { return 0; }
    virtual int32_t onShapeChange(PluginTensorDesc const* in, int32_t nbInputs, PluginTensorDesc const* out,
        int32_t nbOutputs) noexcept = 0;
    virtual int32_t enqueue(PluginTensorDesc const* inputDesc, PluginTensorDesc const* outputDesc,
        void const* const* inputs, void* const* outputs, void* workspace, cudaStream_t stream) noexcept = 0;
    virtual IPluginV3* attachToContext(IPluginResourceContext* context) noexcept = 0;
    virtual PluginFieldCollection const* getFieldsToSerialize() noexcept = 0;
};

} // namespace v_1_0

using IPluginCapability = v_1_0::IPluginCapability;
using IPluginCreatorInterface = v_1_0::IPluginCreatorInterface;
using IPluginV3 = v_1_0::IPluginV3;
using IPluginCreatorV3One = v_1_0::IPluginCreatorV3One;
using IPluginV3OneCore = v_1_0::IPluginV3OneCore;
using IPluginV3OneBuild = v_1_0::IPluginV3OneBuild;
using IPluginV3OneRuntime = v_1_0::IPluginV3OneRuntime;

// Layouts: Dims64 is int32 + 4 bytes padding + 8 x int64; PluginTensorDesc adds two int32 enums
// and a float, padded to 8; DynamicPluginTensorDesc is that plus three Dims64.
static_assert(sizeof(Dims64) == 72, "Dims64 layout");
static_assert(sizeof(PluginTensorDesc) == 88, "PluginTensorDesc layout");
static_assert(sizeof(DynamicPluginTensorDesc) == 88 + 3 * 72, "DynamicPluginTensorDesc layout");
static_assert(sizeof(PluginField) == 24, "PluginField layout");
static_assert(sizeof(PluginFieldCollection) == 16, "PluginFieldCollection layout");
static_assert(sizeof(InterfaceInfo) == 16, "InterfaceInfo layout");
static_assert(sizeof(DimsExprs) == 72, "DimsExprs layout");

} // namespace nvinfer1
