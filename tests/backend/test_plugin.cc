// A plugin for the loader tests. Its behaviour is chosen at build time by macros so one
// source makes a good plugin and each kind of bad one.
#include <cstring>

#include "backend/plugin_abi.h"

namespace {

class EchoBackend final : public radixserve::backend::Backend {
 public:
  std::string_view name() const override { return PLUGIN_NAME; }
  absl::StatusOr<radixserve::backend::ModelInfo> Load(const std::string& path,
                                                      const radixserve::backend::BackendOptions&) override {
    radixserve::backend::ModelInfo info;
    info.name = "echo:" + path;
    return info;
  }
  radixserve::backend::KvLayout kv_layout() const override { return {}; }
  absl::StatusOr<radixserve::backend::StepResult> Forward(const radixserve::backend::StepBatch&) override {
    return absl::UnimplementedError("test plugin");
  }
  absl::Status CopyBlocks(std::span<const radixserve::backend::BlockCopy>) override { return absl::OkStatus(); }
  absl::Status SwapOut(std::span<const radixserve::backend::BlockCopy>) override { return absl::OkStatus(); }
  absl::Status SwapIn(std::span<const radixserve::backend::BlockCopy>) override { return absl::OkStatus(); }
};

radixserve::backend::Backend* Create(char* error_buf, uint32_t len) {
#ifdef PLUGIN_REFUSES
  std::strncpy(error_buf, "no device here", len);
  return nullptr;
#else
  return new EchoBackend();
#endif
}

void Destroy(radixserve::backend::Backend* backend) { delete backend; }

const RadixserveBackendPlugin kPlugin = {PLUGIN_ABI_VERSION, RADIXSERVE_CXX_ABI_TAG, PLUGIN_NAME, &Create,
                                         &Destroy};

}  // namespace

extern "C" __attribute__((visibility("default"))) const RadixserveBackendPlugin* radixserve_backend_plugin() {
  return &kPlugin;
}
