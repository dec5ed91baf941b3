// Read-only memory mapping of a whole file, shared by the weight readers.
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

namespace radixserve::model {

struct Mapping {
  void* data = nullptr;  // nullptr for an empty file
  size_t size = 0;
};

// Maps `path` (a regular file) read-only and privately. The caller owns the mapping and
// releases it with Unmap(). Errors carry the path and errno text.
absl::StatusOr<Mapping> MapReadOnly(const std::string& path);
void Unmap(Mapping m);

}  // namespace radixserve::model
