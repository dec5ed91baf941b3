// KvCacheManager: statistics and the invariant checker.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "cache/kv_cache_manager.h"
#include "common/status_macros.h"

namespace radixserve::cache {

absl::StatusOr<SessionInfo> KvCacheManager::GetSession(absl::string_view id) const {
  ASSIGN_OR_RETURN(const Session* s, Find(id));
  SessionInfo info;
  info.id = s->id;
  info.state = s->state();
  info.pinned = s->pinned;
  info.num_tokens = s->num_tokens();
  info.num_computed = s->num_computed;
  info.device_blocks = static_cast<int32_t>(s->blocks.size());
  info.host_blocks = static_cast<int32_t>(s->host_blocks.size());
  for (BlockId b : s->blocks) info.shared_blocks += device_.RefCount(b) > 1 ? 1 : 0;
  info.cached_tokens = s->cached_tokens;
  info.created = s->created;
  info.last_used = s->last_used;
  return info;
}

std::vector<SessionInfo> KvCacheManager::ListSessions() const {
  std::vector<SessionInfo> out;
  out.reserve(sessions_.size());
  for (const auto& [id, s] : sessions_) out.push_back(*GetSession(id));
  std::sort(out.begin(), out.end(),
            [](const SessionInfo& a, const SessionInfo& b) { return a.id < b.id; });
  return out;
}

CacheStats KvCacheManager::Stats() const {
  CacheStats st;
  st.block_size = options_.block_size;
  st.device_blocks = device_.num_blocks();
  st.device_free = device_.num_free();
  st.host_blocks = host_.num_blocks();
  st.host_free = host_.num_free();
  st.pinned_blocks = PinnedBlocks();
  st.max_pinned_blocks = options_.max_pinned_blocks;
  st.num_sessions = static_cast<int64_t>(sessions_.size());
  for (const auto& [id, s] : sessions_) st.swapped_sessions += s->swapped ? 1 : 0;
  st.pinned_prefixes = static_cast<int64_t>(prefix_pins_.size());
  st.tree = tree_.stats();
  return st;
}

absl::Status KvCacheManager::CheckInvariants() const {
  const int32_t bs = options_.block_size;
  std::vector<int32_t> device_refs(device_.num_blocks(), 0);
  std::vector<int32_t> host_refs(host_.num_blocks(), 0);
  absl::flat_hash_map<const RadixNode*, int32_t> locks;
  for (const auto& [pin, node] : prefix_pins_) ++locks[node];
  for (const auto& [id, s] : sessions_) {
    if (s->tree_node) ++locks[s->tree_node];
  }
  RETURN_IF_ERROR(tree_.CheckConsistency(locks, &device_refs));
  // Holders always lock what they hold, so an unlocked node's blocks are the tree's
  // alone: evicting them frees exactly that many (admission relies on it).
  std::vector<const RadixNode*> stack = {tree_.root()};
  while (!stack.empty()) {
    const RadixNode* node = stack.back();
    stack.pop_back();
    for (const auto& [key, child] : node->children) stack.push_back(child.get());
    if (node->lock_ref != 0 || node == tree_.root()) continue;
    for (BlockId b : node->blocks) {
      if (device_.RefCount(b) != 1) {
        return absl::InternalError(absl::StrCat("block ", b, " of unlocked radix node ", node->id,
                                                " has refcount ", device_.RefCount(b)));
      }
    }
  }

  for (const auto& [id, s] : sessions_) {
    const std::string where = absl::StrCat("session '", id, "': ");
    if (id != s->id) return absl::InternalError(where + "table key differs from id");
    const int64_t n = s->num_tokens();
    if (s->num_computed < 0 || s->num_computed > n) {
      return absl::InternalError(where + absl::StrCat("num_computed ", s->num_computed, " of ", n));
    }
    if (s->swapped) {
      const size_t want = s->needs_recompute ? 0 : BlocksFor(n);
      if (!s->blocks.empty() || s->tree_node || s->host_blocks.size() != want || s->pinned) {
        return absl::InternalError(where + "swapped session still holds device state");
      }
      if (!s->needs_recompute && s->num_computed != n) {
        return absl::InternalError(where + "swapped with uncomputed tokens");
      }
      for (BlockId b : s->host_blocks) {
        if (b < 0 || b >= host_.num_blocks()) return absl::InternalError(where + "bad host block");
        ++host_refs[b];
      }
      continue;
    }
    if (s->needs_recompute || !s->host_blocks.empty()) {
      return absl::InternalError(where + "on device but holds host state");
    }
    if (static_cast<int32_t>(s->blocks.size()) != BlocksFor(n)) {
      return absl::InternalError(
          where + absl::StrCat(s->blocks.size(), " blocks for ", n, " tokens"));
    }
    for (BlockId b : s->blocks) {
      if (b < 0 || b >= device_.num_blocks()) return absl::InternalError(where + "bad block id");
      ++device_refs[b];
    }
    // Whole computed blocks are in the tree, and the lock covers exactly the leading
    // blocks the session shares with it (at most one partial block beyond them).
    const int32_t depth = s->tree_depth();
    const int32_t full = static_cast<int32_t>(s->num_computed / bs);
    if (depth < full || depth > BlocksFor(s->num_computed) ||
        depth > static_cast<int32_t>(s->blocks.size())) {
      return absl::InternalError(where + absl::StrCat("tree lock depth ", depth, " but ", full,
                                                      " whole computed blocks"));
    }
    int32_t i = depth;
    for (const RadixNode* node = s->tree_node; node && node != tree_.root(); node = node->parent) {
      for (int32_t j = node->num_blocks() - 1; j >= 0; --j) {
        --i;
        if (node->blocks[j] != s->blocks[i]) {
          return absl::InternalError(where + absl::StrCat("block ", i, " is ", s->blocks[i],
                                                          " but the locked tree path has ",
                                                          node->blocks[j]));
        }
        for (int32_t t = 0; t < bs; ++t) {
          const int64_t pos = static_cast<int64_t>(i) * bs + t;
          if (pos < n && s->tokens[pos] != node->tokens[static_cast<size_t>(j) * bs + t]) {
            return absl::InternalError(where + absl::StrCat("token ", pos, " differs from the tree"));
          }
        }
      }
    }
    if (const int32_t quota = QuotaOf(*s); quota > 0 && static_cast<int32_t>(s->blocks.size()) > quota) {
      return absl::InternalError(where + "over its block quota");
    }
  }
  if (PinnedBlocks() > options_.max_pinned_blocks) {
    return absl::InternalError(absl::StrCat("pinned blocks ", PinnedBlocks(), " exceed the cap ",
                                            options_.max_pinned_blocks));
  }
  RETURN_IF_ERROR(device_.CheckConsistency());
  RETURN_IF_ERROR(device_.CheckRefCounts(device_refs));
  RETURN_IF_ERROR(host_.CheckConsistency());
  RETURN_IF_ERROR(host_.CheckRefCounts(host_refs));
  return absl::OkStatus();
}

}  // namespace radixserve::cache
