// Loads backends built as shared libraries (libradixserve_backend_<name>.so) with dlopen
// through the one extern "C" entry point of backend/plugin_abi.h.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/backend.h"

namespace radixserve::backend {

// The file name a plugin for backend `name` has: "libradixserve_backend_<name>.so".
std::string PluginFileName(std::string_view name);

// Opens `path` and creates its backend. The returned backend keeps the library loaded
// until it is destroyed. Errors name the file and the reason: NotFound (no such file),
// FailedPrecondition (dlopen failed, e.g. a missing libcuda; no entry point; ABI or name
// mismatch; the plugin's create() refused).
absl::StatusOr<std::unique_ptr<Backend>> LoadPluginBackend(const std::string& path,
                                                           std::string_view expected_name);

// Looks for PluginFileName(name) in each of `search_dirs` in order and loads the first
// found; NotFound listing every place looked at when none has it.
absl::StatusOr<std::unique_ptr<Backend>> FindAndLoadPluginBackend(
    std::string_view name, const std::vector<std::string>& search_dirs);

}  // namespace radixserve::backend
