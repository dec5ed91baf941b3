// The one symbol a backend plugin (a shared library) exports, and the checks the loader
// makes before trusting it. Plugins are built from this same tree, so C++ objects may
// cross the boundary once the ABI tags match.
#pragma once

#include <cstdint>

#include "backend/backend.h"

// A tag for the C++ ABI both sides must share: the compiler's ABI version and the
// libstdc++ string/list ABI. A mismatch would break std::string/std::vector crossing.
#if defined(_GLIBCXX_USE_CXX11_ABI)
#define RADIXSERVE_CXX_ABI_TAG (static_cast<uint32_t>(__GXX_ABI_VERSION) * 2u + _GLIBCXX_USE_CXX11_ABI)
#else
#define RADIXSERVE_CXX_ABI_TAG (static_cast<uint32_t>(__GXX_ABI_VERSION) * 2u)
#endif

extern "C" {

struct RadixserveBackendPlugin {
  uint32_t abi_version;   // radixserve::backend::kBackendAbiVersion at build time
  uint32_t cxx_abi_tag;   // RADIXSERVE_CXX_ABI_TAG at build time
  const char* name;       // the backend's name, e.g. "cuda"
  // Creates a backend; on failure returns null and, if error_buf is not null, writes a
  // NUL-terminated reason of at most error_buf_len bytes (e.g. "no CUDA driver").
  radixserve::backend::Backend* (*create)(char* error_buf, uint32_t error_buf_len);
  void (*destroy)(radixserve::backend::Backend* backend);
};

// The entry point every plugin exports (and nothing else: see backend/cuda's version script).
typedef const RadixserveBackendPlugin* (*RadixserveBackendPluginFn)(void);
#define RADIXSERVE_BACKEND_PLUGIN_SYMBOL "radixserve_backend_plugin"

}  // extern "C"
