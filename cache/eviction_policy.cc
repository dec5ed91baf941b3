#include "cache/eviction_policy.h"

#include <algorithm>

#include "cache/radix_tree.h"

namespace radixserve::cache {

uint64_t LruEvictionPolicy::Priority(const RadixNode& node) const { return node.last_access; }

uint64_t LfuEvictionPolicy::Priority(const RadixNode& node) const {
  // 24 bits of hit count above 40 bits of access tick: counts saturate rather than wrap.
  constexpr uint64_t kTickBits = 40;
  const uint64_t hits = std::min<uint64_t>(node.hit_count, (uint64_t{1} << 24) - 1);
  return (hits << kTickBits) | (node.last_access & ((uint64_t{1} << kTickBits) - 1));
}

}  // namespace radixserve::cache
