// KvCacheManager: prefix-cache control, pins and session expiry.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "cache/kv_cache_manager.h"
#include "common/status_macros.h"

namespace radixserve::cache {

int64_t KvCacheManager::PeekCachedTokens(absl::Span<const TokenId> tokens) const {
  if (tokens.empty()) return 0;
  return static_cast<int64_t>(tree_.PeekMatchBlocks(tokens.subspan(0, tokens.size() - 1))) *
         options_.block_size;
}

int32_t KvCacheManager::EvictCachedBlocks(int32_t num_blocks) { return tree_.Evict(num_blocks); }

int32_t KvCacheManager::ClearPrefixCache() { return tree_.EvictAll(); }

int32_t KvCacheManager::PinnedBlocks() const {
  // Computed on demand: pins are few, and this cannot drift from the tables it sums.
  int32_t n = 0;
  for (const auto& [id, s] : sessions_) {
    if (s->pinned) n += static_cast<int32_t>(s->blocks.size());
  }
  for (const auto& [pin, node] : prefix_pins_) n += node->depth_blocks;
  return n;
}

absl::Status KvCacheManager::PinSession(absl::string_view id) {
  ASSIGN_OR_RETURN(Session * s, Find(id));
  if (s->pinned) return absl::OkStatus();
  if (s->swapped) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot pin session '", id, "': it is swapped out; restore it first"));
  }
  const int32_t after = PinnedBlocks() + static_cast<int32_t>(s->blocks.size());
  if (after > options_.max_pinned_blocks) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "pinning session '", id, "' (", s->blocks.size(), " blocks) would pin ", after,
        " blocks; the pin cap is ", options_.max_pinned_blocks));
  }
  s->pinned = true;
  Touch(*s);
  return absl::OkStatus();
}

absl::Status KvCacheManager::UnpinSession(absl::string_view id) {
  ASSIGN_OR_RETURN(Session * s, Find(id));
  if (!s->pinned) {
    return absl::FailedPreconditionError(absl::StrCat("session '", id, "' is not pinned"));
  }
  s->pinned = false;
  Touch(*s);
  return absl::OkStatus();
}

absl::StatusOr<PrefixPinId> KvCacheManager::PinPrefix(absl::Span<const TokenId> tokens) {
  const int32_t bs = options_.block_size;
  const int32_t want = static_cast<int32_t>(tokens.size()) / bs;
  if (want == 0) {
    return absl::InvalidArgumentError(absl::StrCat("a prefix pin needs at least one whole block (",
                                                   bs, " tokens), got ", tokens.size()));
  }
  const int32_t cached = tree_.PeekMatchBlocks(tokens);
  if (cached < want) {
    return absl::NotFoundError(absl::StrCat("only ", static_cast<int64_t>(cached) * bs, " of the ",
                                            static_cast<int64_t>(want) * bs,
                                            " prefix tokens are cached; nothing was pinned"));
  }
  if (PinnedBlocks() + want > options_.max_pinned_blocks) {
    return absl::ResourceExhaustedError(
        absl::StrCat("pinning a ", want, "-block prefix would pin ", PinnedBlocks() + want,
                     " blocks; the pin cap is ", options_.max_pinned_blocks));
  }
  RadixTree::MatchResult hit = tree_.Match(tokens.subspan(0, static_cast<size_t>(want) * bs));
  tree_.Lock(hit.node);
  const PrefixPinId pin = next_pin_id_++;
  prefix_pins_.emplace(pin, hit.node);
  return pin;
}

absl::Status KvCacheManager::UnpinPrefix(PrefixPinId pin) {
  auto it = prefix_pins_.find(pin);
  if (it == prefix_pins_.end()) {
    return absl::NotFoundError(absl::StrCat("prefix pin ", pin, " not found"));
  }
  tree_.Unlock(it->second);
  prefix_pins_.erase(it);
  return absl::OkStatus();
}

std::vector<std::string> KvCacheManager::ExpireSessions() {
  const absl::Time now = options_.clock();
  std::vector<std::string> expired;
  for (const auto& [id, s] : sessions_) {
    if (s->state() == SessionState::kRunning) continue;  // the engine is using it
    const SessionOptions& o = s->options;
    const bool ttl_over = o.ttl > absl::ZeroDuration() && now - s->created >= o.ttl;
    const bool idle_over = !s->pinned && o.idle_timeout > absl::ZeroDuration() &&
                           now - s->last_used >= o.idle_timeout;
    if (ttl_over || idle_over) expired.push_back(id);
  }
  std::sort(expired.begin(), expired.end());
  for (const std::string& id : expired) DeleteSession(id).IgnoreError();  // ids come from the table
  return expired;
}

}  // namespace radixserve::cache
