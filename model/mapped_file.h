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

// Drops this process's pages of the whole pages inside [data, data + size) of a mapping
// from MapReadOnly, for bytes copied elsewhere: the memory is not held twice, and a later
// read of the range faults the file back in.
void ReleasePages(const void* data, size_t size);

}  // namespace radixserve::model
