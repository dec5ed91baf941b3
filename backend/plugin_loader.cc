#include "backend/plugin_loader.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backend/plugin_abi.h"

namespace radixserve::backend {
namespace {

// Owns a backend created by a plugin: destroys it through the plugin, then unloads the
// library (in that order: the backend's code lives in the library).
class PluginBackend final : public Backend {
 public:
  PluginBackend(void* handle, const RadixserveBackendPlugin* plugin, Backend* impl)
      : handle_(handle), plugin_(plugin), impl_(impl) {}
  ~PluginBackend() override {
    plugin_->destroy(impl_);
    dlclose(handle_);
  }

  std::string_view name() const override { return impl_->name(); }
  absl::StatusOr<ModelInfo> Load(const std::string& path, const BackendOptions& options) override {
    return impl_->Load(path, options);
  }
  KvLayout kv_layout() const override { return impl_->kv_layout(); }
  absl::StatusOr<StepResult> Forward(const StepBatch& batch) override { return impl_->Forward(batch); }
  absl::Status CopyBlocks(std::span<const BlockCopy> pairs) override { return impl_->CopyBlocks(pairs); }
  absl::Status SwapOut(std::span<const BlockCopy> pairs) override { return impl_->SwapOut(pairs); }
  absl::Status SwapIn(std::span<const BlockCopy> pairs) override { return impl_->SwapIn(pairs); }

 private:
  void* handle_;
  const RadixserveBackendPlugin* plugin_;
  Backend* impl_;
};

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

}  // namespace

std::string PluginFileName(std::string_view name) {
  return absl::StrCat("libradixserve_backend_", std::string(name), ".so");
}

absl::StatusOr<std::unique_ptr<Backend>> LoadPluginBackend(const std::string& path,
                                                           std::string_view expected_name) {
  if (!FileExists(path)) {
    return absl::NotFoundError(absl::StrCat("backend plugin ", path, ": no such file"));
  }
  // RTLD_NODELETE: a plugin is never unmapped, even when it refuses to start. What it
  // pulls in (the CUDA runtime, cuBLASLt with its own static libstdc++) allocates at load
  // and does not support being unloaded; unmapping would leak that memory on every try.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (handle == nullptr) {
    const char* err = dlerror();
    return absl::FailedPreconditionError(
        absl::StrCat("backend plugin ", path, ": cannot be loaded: ", err ? err : "unknown dlopen error"));
  }
  auto fail = [&](std::string reason) {
    dlclose(handle);
    return absl::FailedPreconditionError(absl::StrCat("backend plugin ", path, ": ", reason));
  };
  auto entry = reinterpret_cast<RadixserveBackendPluginFn>(dlsym(handle, RADIXSERVE_BACKEND_PLUGIN_SYMBOL));
  if (entry == nullptr) return fail(absl::StrCat("no entry point '", RADIXSERVE_BACKEND_PLUGIN_SYMBOL, "'"));
  const RadixserveBackendPlugin* plugin = entry();
  if (plugin == nullptr) return fail("entry point returned no plugin description");
  if (plugin->abi_version != kBackendAbiVersion) {
    return fail(absl::StrCat("built for backend ABI version ", plugin->abi_version,
                             ", this server needs version ", kBackendAbiVersion, "; rebuild the plugin"));
  }
  if (plugin->cxx_abi_tag != RADIXSERVE_CXX_ABI_TAG) {
    return fail(absl::StrCat("built with C++ ABI tag ", plugin->cxx_abi_tag, ", this server has ",
                             RADIXSERVE_CXX_ABI_TAG, "; rebuild it with the same compiler"));
  }
  if (plugin->name == nullptr || expected_name != plugin->name) {
    return fail(absl::StrCat("provides backend '", plugin->name ? plugin->name : "", "', expected '",
                             std::string(expected_name), "'"));
  }
  if (plugin->create == nullptr || plugin->destroy == nullptr) return fail("incomplete plugin description");
  char error_buf[512] = {0};
  Backend* impl = plugin->create(error_buf, sizeof(error_buf));
  if (impl == nullptr) {
    error_buf[sizeof(error_buf) - 1] = '\0';
    return fail(absl::StrCat("could not create the backend: ", error_buf[0] ? error_buf : "no reason given"));
  }
  return std::make_unique<PluginBackend>(handle, plugin, impl);
}

absl::StatusOr<std::unique_ptr<Backend>> FindAndLoadPluginBackend(
    std::string_view name, const std::vector<std::string>& search_dirs) {
  const std::string file = PluginFileName(name);
  std::vector<std::string> looked;
  for (const std::string& dir : search_dirs) {
    std::string path = dir.empty() ? file : absl::StrCat(dir, "/", file);
    if (FileExists(path)) return LoadPluginBackend(path, name);
    looked.push_back(std::move(path));
  }
  return absl::NotFoundError(absl::StrCat("backend '", std::string(name), "': plugin ", file,
                                          " not found; looked in: ", absl::StrJoin(looked, ", ")));
}

}  // namespace radixserve::backend
