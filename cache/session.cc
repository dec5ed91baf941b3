#include "cache/session.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "cache/internal_check.h"
#include "cache/radix_tree.h"

namespace radixserve::cache {

const char* SessionStateName(SessionState state) {
  switch (state) {
    case SessionState::kIdle:
      return "idle";
    case SessionState::kRunning:
      return "running";
    case SessionState::kSwapped:
      return "swapped";
  }
  return "unknown";
}

int32_t Session::tree_depth() const { return tree_node ? tree_node->depth_blocks : 0; }

std::string NewSessionId() {
  // Ids are bearer capabilities (whoever knows one can read and fork the session), so
  // they come from the kernel CSPRNG, never from a seeded PRNG.
  unsigned char bytes[16];
  size_t filled = 0;
  while (filled < sizeof(bytes)) {
    const ssize_t n = getrandom(bytes + filled, sizeof(bytes) - filled, 0);
    if (n < 0) {
      CACHE_INTERNAL_CHECK(errno == EINTR);  // no entropy source: nothing safe to do
      continue;
    }
    filled += static_cast<size_t>(n);
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

}  // namespace radixserve::cache
