// EvictionPolicy: the order in which the radix tree gives cached prefixes back.
//
// Only unlocked leaves are ever candidates (a parent becomes one when its last child
// goes and nobody locks it), so any policy keeps the tree prefix-closed. A policy
// maps a candidate to a priority; the smallest is evicted first. Priorities are
// re-read whenever a candidate is touched by a match, so they may depend on the
// node's access time and hit count, nothing else.
//
// Threading: stateless, called from the owning RadixTree only.
#pragma once

#include <cstdint>
#include <memory>

namespace radixserve::cache {

struct RadixNode;

class EvictionPolicy {
 public:
  virtual ~EvictionPolicy() = default;
  virtual uint64_t Priority(const RadixNode& node) const = 0;
  virtual const char* name() const = 0;
};

// Least recently used first (the default): priority = last access tick.
class LruEvictionPolicy final : public EvictionPolicy {
 public:
  uint64_t Priority(const RadixNode& node) const override;
  const char* name() const override { return "lru"; }
};

// Least frequently hit first, LRU among equals: suits a few hot system prompts
// surrounded by one-off conversations.
class LfuEvictionPolicy final : public EvictionPolicy {
 public:
  uint64_t Priority(const RadixNode& node) const override;
  const char* name() const override { return "lfu"; }
};

}  // namespace radixserve::cache
