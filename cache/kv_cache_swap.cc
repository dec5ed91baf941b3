// KvCacheManager: host swap space, recompute drops, admission and preemption helpers.
#include <algorithm>
#include <tuple>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "cache/internal_check.h"
#include "cache/kv_cache_manager.h"
#include "common/status_macros.h"

namespace radixserve::cache {

absl::StatusOr<std::vector<SwapPair>> KvCacheManager::Offload(absl::string_view id) {
  ASSIGN_OR_RETURN(Session * s, Find(id));
  if (s->swapped) {
    return absl::FailedPreconditionError(absl::StrCat("session '", id, "' is already swapped out"));
  }
  if (s->state() == SessionState::kRunning) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot offload session '", id, "': ", s->num_tokens() - s->num_computed,
        " of its tokens have no committed KV yet"));
  }
  if (s->pinned) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot offload session '", id, "': it is pinned; unpin it first"));
  }
  const int32_t need = static_cast<int32_t>(s->blocks.size());
  std::vector<BlockId> host_blocks;
  if (!host_.Allocate(need, &host_blocks)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "host swap pool exhausted: offloading session '", id, "' needs ", need, " blocks, ",
        host_.num_free(), " free of ", host_.num_blocks()));
  }
  std::vector<SwapPair> pairs;
  pairs.reserve(need);
  for (int32_t i = 0; i < need; ++i) pairs.push_back({s->blocks[i], host_blocks[i]});
  // The device blocks are released now; the backend copies them out before any later
  // step can write to them (it runs instructions in the order they were returned).
  ReleaseDevice(*s);
  s->host_blocks = std::move(host_blocks);
  s->swapped = true;
  Touch(*s);
  return pairs;
}

absl::StatusOr<RestoreResult> KvCacheManager::Restore(absl::string_view id) {
  ASSIGN_OR_RETURN(Session * s, Find(id));
  if (!s->swapped) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot restore session '", id, "': it is not swapped out"));
  }
  const int32_t bs = options_.block_size;
  const int32_t total_blocks = BlocksFor(s->num_tokens());
  // Whatever is still cached comes from the tree for free. After a drop the last token
  // is left out so the recompute yields logits; a host copy restores whole blocks only.
  absl::Span<const TokenId> query = absl::MakeConstSpan(s->tokens);
  if (s->needs_recompute) {
    if (!query.empty()) query.remove_suffix(1);
  } else {
    query = query.subspan(0, static_cast<size_t>(s->num_computed / bs) * bs);
  }
  RadixTree::MatchResult hit = tree_.Match(query);
  const int32_t hit_blocks = static_cast<int32_t>(hit.blocks.size());
  if (hit_blocks > 0) tree_.Lock(hit.node);
  const int32_t need = total_blocks - hit_blocks;
  if (!EnsureFree(need)) {
    if (hit_blocks > 0) tree_.Unlock(hit.node);
    return DeviceExhausted(need, absl::StrCat("restoring session '", id, "'"));
  }
  std::vector<BlockId> fresh;
  CACHE_INTERNAL_CHECK(device_.Allocate(need, &fresh));

  RestoreResult result;
  for (BlockId b : hit.blocks) device_.IncRef(b);
  s->blocks = hit.blocks;
  s->blocks.insert(s->blocks.end(), fresh.begin(), fresh.end());
  Relock(*s, hit.node);
  if (hit_blocks > 0) tree_.Unlock(hit.node);
  result.cached_tokens = std::min<int64_t>(static_cast<int64_t>(hit_blocks) * bs, s->num_tokens());
  s->cached_tokens += result.cached_tokens;
  if (s->needs_recompute) {
    s->num_computed = result.cached_tokens;
    result.recompute.cached_tokens = result.cached_tokens;
    AppendSlots(*s, s->num_computed, s->num_tokens(), &result.recompute);
  } else {
    for (int32_t i = hit_blocks; i < total_blocks; ++i) {
      result.swap_in.push_back({s->blocks[i], s->host_blocks[i]});
    }
  }
  // Host blocks are free for reuse at once: a later swap-out into them is issued, and
  // so executed, after this swap-in.
  for (BlockId b : s->host_blocks) host_.DecRef(b);
  s->host_blocks.clear();
  s->swapped = false;
  s->needs_recompute = false;
  InsertComputed(*s);  // swapped-in whole blocks join the tree again
  Touch(*s);
  return result;
}

absl::Status KvCacheManager::DropForRecompute(absl::string_view id) {
  ASSIGN_OR_RETURN(Session * s, Find(id));
  if (s->swapped) {
    return absl::FailedPreconditionError(absl::StrCat("session '", id, "' is already swapped out"));
  }
  if (s->pinned) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot drop the KV of session '", id, "': it is pinned; unpin it first"));
  }
  ReleaseDevice(*s);  // computed whole blocks stay in the tree: a restore may still hit them
  s->num_computed = 0;
  s->swapped = true;
  s->needs_recompute = true;
  Touch(*s);
  return absl::OkStatus();
}

absl::StatusOr<int32_t> KvCacheManager::BlocksNeededForAppend(absl::string_view id,
                                                              int64_t num_new_tokens) const {
  ASSIGN_OR_RETURN(const Session* s, Find(id));
  if (s->swapped) {
    return absl::FailedPreconditionError(absl::StrCat("session '", id, "' is swapped out"));
  }
  if (num_new_tokens <= 0) return 0;
  const int64_t n = s->num_tokens();
  const bool cow = n % options_.block_size != 0 && device_.RefCount(s->blocks.back()) > 1;
  return BlocksFor(n + num_new_tokens) - static_cast<int32_t>(s->blocks.size()) + (cow ? 1 : 0);
}

absl::StatusOr<int32_t> KvCacheManager::BlocksNeededForRestore(absl::string_view id) const {
  ASSIGN_OR_RETURN(const Session* s, Find(id));
  if (!s->swapped) {
    return absl::FailedPreconditionError(absl::StrCat("session '", id, "' is not swapped out"));
  }
  return BlocksFor(s->num_tokens());
}

int32_t KvCacheManager::BlocksNeededForPrompt(absl::Span<const TokenId> tokens) const {
  if (tokens.empty()) return 0;
  return BlocksFor(static_cast<int64_t>(tokens.size())) -
         tree_.PeekMatchBlocks(tokens.subspan(0, tokens.size() - 1));
}

int32_t KvCacheManager::AvailableBlocks() const {
  return device_.num_free() + static_cast<int32_t>(tree_.stats().evictable_blocks);
}

int32_t KvCacheManager::ReleasableBlocks(const Session& s) const {
  // Blocks only this session holds are freed at once; tree blocks only it locks
  // (held by the tree and this session alone) become evictable. Blocks shared with
  // other sessions are not counted, so the figure never overstates.
  int32_t n = 0;
  for (BlockId b : s.blocks) n += device_.RefCount(b) == 1 ? 1 : 0;
  for (const RadixNode* node = s.tree_node; node && node != tree_.root(); node = node->parent) {
    if (node->lock_ref != 1) break;  // someone else locks this node and all above it
    for (BlockId b : node->blocks) n += device_.RefCount(b) == 2 ? 1 : 0;
  }
  return n;
}

absl::StatusOr<std::vector<Preemption>> KvCacheManager::PlanPreemption(
    int32_t num_blocks, absl::Span<const std::string> keep) const {
  int32_t deficit = num_blocks - AvailableBlocks();
  std::vector<Preemption> plan;
  if (deficit <= 0) return plan;
  absl::flat_hash_set<absl::string_view> kept(keep.begin(), keep.end());
  std::vector<const Session*> victims;
  for (const auto& [id, s] : sessions_) {
    if (!s->swapped && !s->pinned && !s->blocks.empty() && !kept.contains(id)) {
      victims.push_back(s.get());
    }
  }
  std::sort(victims.begin(), victims.end(), [](const Session* a, const Session* b) {
    return std::tie(a->last_used, a->id) < std::tie(b->last_used, b->id);
  });
  int32_t host_left = host_.num_free();
  for (const Session* s : victims) {
    const int32_t released = ReleasableBlocks(*s);
    if (released == 0) continue;  // preempting it would free nothing
    Preemption p{s->id, PreemptAction::kRecompute, released};
    const int32_t size = static_cast<int32_t>(s->blocks.size());
    if (s->state() == SessionState::kIdle && size <= host_left) {
      p.action = PreemptAction::kSwap;
      host_left -= size;
    }
    plan.push_back(std::move(p));
    deficit -= released;
    if (deficit <= 0) return plan;
  }
  return absl::ResourceExhaustedError(absl::StrCat(
      "cannot make room for ", num_blocks, " blocks: ", AvailableBlocks(),
      " are available and preempting every eligible session frees ", num_blocks - AvailableBlocks() - deficit,
      " more"));
}

}  // namespace radixserve::cache
