// KvCacheManager: construction, session lifecycle, append and commit.
#include "cache/kv_cache_manager.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cache/internal_check.h"
#include "common/status_macros.h"

namespace radixserve::cache {
namespace {

std::unique_ptr<EvictionPolicy> MakePolicy(EvictionPolicyKind kind) {
  if (kind == EvictionPolicyKind::kLfu) return std::make_unique<LfuEvictionPolicy>();
  return std::make_unique<LruEvictionPolicy>();
}

absl::Status ValidateTokens(absl::Span<const TokenId> tokens) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("token id ", tokens[i], " at index ", i, " is negative"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<KvCacheManager>> KvCacheManager::Create(KvCacheOptions options) {
  if (options.block_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("block_size must be positive, got ", options.block_size));
  }
  if (options.num_device_blocks <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_device_blocks must be positive, got ", options.num_device_blocks));
  }
  if (options.num_host_blocks < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_host_blocks must be >= 0, got ", options.num_host_blocks));
  }
  if (options.max_pinned_blocks < -1 || options.max_pinned_blocks > options.num_device_blocks) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_pinned_blocks must be -1 (half the pool) or in [0, ", options.num_device_blocks,
        "], got ", options.max_pinned_blocks));
  }
  if (options.default_session_max_blocks < 0) {
    return absl::InvalidArgumentError("default_session_max_blocks must be >= 0");
  }
  if (options.max_pinned_blocks == -1) options.max_pinned_blocks = options.num_device_blocks / 2;
  if (!options.clock) options.clock = [] { return absl::Now(); };
  if (!options.id_generator) options.id_generator = NewSessionId;
  return std::unique_ptr<KvCacheManager>(new KvCacheManager(std::move(options)));
}

KvCacheManager::KvCacheManager(KvCacheOptions options)
    : options_(std::move(options)),
      device_("device", options_.num_device_blocks),
      host_("host", options_.num_host_blocks),
      tree_(options_.block_size, &device_, MakePolicy(options_.eviction_policy)) {}

KvCacheManager::~KvCacheManager() = default;

absl::StatusOr<Session*> KvCacheManager::Find(absl::string_view id) const {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return absl::NotFoundError(absl::StrCat("session '", id, "' not found"));
  return it->second.get();
}

int32_t KvCacheManager::QuotaOf(const Session& s) const {
  return s.options.max_blocks > 0 ? s.options.max_blocks : options_.default_session_max_blocks;
}

bool KvCacheManager::EnsureFree(int32_t n) {
  if (n <= device_.num_free()) return true;
  if (n > AvailableBlocks()) return false;
  tree_.Evict(n - device_.num_free());
  CACHE_INTERNAL_CHECK(device_.num_free() >= n);  // evictable blocks are held by the tree alone
  return true;
}

absl::Status KvCacheManager::DeviceExhausted(int32_t need, absl::string_view what) const {
  return absl::ResourceExhaustedError(absl::StrCat(
      "device KV pool exhausted: ", what, " needs ", need, " blocks, ", device_.num_free(),
      " free + ", tree_.stats().evictable_blocks, " evictable of ", device_.num_blocks()));
}

void KvCacheManager::Relock(Session& s, RadixNode* node) {
  if (node == tree_.root()) node = nullptr;
  if (node == s.tree_node) return;
  if (node) tree_.Lock(node);  // lock before unlocking: shared ancestors never drop to 0
  if (s.tree_node) tree_.Unlock(s.tree_node);
  s.tree_node = node;
}

void KvCacheManager::InsertComputed(Session& s) {
  const int32_t full = static_cast<int32_t>(s.num_computed / options_.block_size);
  if (full <= s.tree_depth()) return;
  RadixTree::InsertResult r =
      tree_.Insert(absl::MakeConstSpan(s.tokens).subspan(0, static_cast<size_t>(full) * options_.block_size),
                   absl::MakeConstSpan(s.blocks).subspan(0, full));
  for (int32_t i = 0; i < full; ++i) {
    if (r.blocks[i] == s.blocks[i]) continue;
    // Same tokens, same prefix: the tree's block holds identical K/V. Share it.
    device_.IncRef(r.blocks[i]);
    device_.DecRef(s.blocks[i]);
    s.blocks[i] = r.blocks[i];
  }
  Relock(s, r.node);
}

void KvCacheManager::ReleaseDevice(Session& s) {
  for (BlockId b : s.blocks) device_.DecRef(b);
  s.blocks.clear();
  Relock(s, nullptr);
}

void KvCacheManager::AppendSlots(const Session& s, int64_t from, int64_t to, WritePlan* plan) const {
  plan->first_position = from;
  plan->slots.reserve(plan->slots.size() + static_cast<size_t>(to - from));
  for (int64_t pos = from; pos < to; ++pos) {
    plan->slots.push_back(static_cast<int64_t>(s.blocks[pos / options_.block_size]) *
                              options_.block_size +
                          pos % options_.block_size);
  }
}

absl::StatusOr<std::string> KvCacheManager::CreateSession(const SessionOptions& options) {
  if (options.ttl < absl::ZeroDuration() || options.idle_timeout < absl::ZeroDuration() ||
      options.max_blocks < 0) {
    return absl::InvalidArgumentError("session ttl, idle_timeout and max_blocks must be >= 0");
  }
  auto s = std::make_unique<Session>();
  do {
    s->id = options_.id_generator();
  } while (sessions_.contains(s->id));  // 128 random bits: a retry is astronomically rare
  s->options = options;
  s->created = s->last_used = options_.clock();
  std::string id = s->id;
  sessions_.emplace(id, std::move(s));
  return id;
}

absl::StatusOr<std::string> KvCacheManager::ForkSession(absl::string_view id) {
  ASSIGN_OR_RETURN(Session * parent, Find(id));
  if (parent->swapped) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot fork session '", id, "': it is swapped out to host memory; restore it first"));
  }
  if (parent->state() == SessionState::kRunning) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot fork session '", id, "': ", parent->num_tokens() - parent->num_computed,
        " of its tokens have no committed KV yet"));
  }
  SessionOptions child_options = parent->options;
  ASSIGN_OR_RETURN(std::string child_id, CreateSession(child_options));
  Session& child = *sessions_.at(child_id);
  child.tokens = parent->tokens;
  child.num_computed = parent->num_computed;
  child.blocks = parent->blocks;
  for (BlockId b : child.blocks) device_.IncRef(b);
  Relock(child, parent->tree_node);
  Touch(*parent);
  return child_id;
}

absl::Status KvCacheManager::Truncate(absl::string_view id, int64_t num_tokens) {
  ASSIGN_OR_RETURN(Session * s, Find(id));
  if (num_tokens < 0 || num_tokens > s->num_tokens()) {
    return absl::OutOfRangeError(absl::StrCat("cannot truncate session '", id, "' to ", num_tokens,
                                              " tokens: it holds ", s->num_tokens()));
  }
  const int32_t keep = BlocksFor(num_tokens);
  if (s->swapped) {
    while (static_cast<int32_t>(s->host_blocks.size()) > keep) {
      host_.DecRef(s->host_blocks.back());
      s->host_blocks.pop_back();
    }
  } else {
    // The lock may cover at most the blocks that remain (a kept partial block that is
    // in the tree stays locked; the next write to it copies it first).
    if (s->tree_depth() > keep) Relock(*s, tree_.AncestorAtDepth(s->tree_node, keep));
    while (static_cast<int32_t>(s->blocks.size()) > keep) {
      device_.DecRef(s->blocks.back());
      s->blocks.pop_back();
    }
  }
  s->tokens.resize(num_tokens);
  s->num_computed = std::min(s->num_computed, num_tokens);
  Touch(*s);
  return absl::OkStatus();
}

absl::Status KvCacheManager::DeleteSession(absl::string_view id) {
  ASSIGN_OR_RETURN(Session * s, Find(id));
  ReleaseDevice(*s);  // whole computed blocks remain in the tree, now evictable
  for (BlockId b : s->host_blocks) host_.DecRef(b);
  sessions_.erase(sessions_.find(id));
  return absl::OkStatus();
}

absl::StatusOr<WritePlan> KvCacheManager::Append(absl::string_view id,
                                                 absl::Span<const TokenId> tokens) {
  ASSIGN_OR_RETURN(Session * s, Find(id));
  RETURN_IF_ERROR(ValidateTokens(tokens));
  if (s->swapped) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot append to session '", id, "': it is swapped out; restore it first"));
  }
  const int64_t n = s->num_tokens();
  const int64_t total = n + static_cast<int64_t>(tokens.size());
  const int32_t total_blocks = BlocksFor(total);
  const int32_t added_blocks = total_blocks - static_cast<int32_t>(s->blocks.size());
  if (const int32_t quota = QuotaOf(*s); quota > 0 && total_blocks > quota) {
    return absl::ResourceExhaustedError(absl::StrCat("session '", id, "' would hold ", total_blocks,
                                                     " blocks (", total, " tokens); its quota is ",
                                                     quota, " blocks"));
  }
  if (s->pinned && added_blocks > 0 &&
      PinnedBlocks() + added_blocks > options_.max_pinned_blocks) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "pinned session '", id, "' would grow the pinned blocks to ", PinnedBlocks() + added_blocks,
        "; the pin cap is ", options_.max_pinned_blocks, " (unpin it or raise the cap)"));
  }

  // Prefix-cache hit: only where the session's whole KV is computed and block-aligned,
  // i.e. its tree lock ends exactly at its last token. The last appended token is left
  // out of the query so that it is always computed (the step needs its logits).
  RadixTree::MatchResult hit;
  const int32_t bs = options_.block_size;
  if (!tokens.empty() && n % bs == 0 && s->num_computed == n) {
    hit = tree_.Match(tokens.subspan(0, tokens.size() - 1), s->tree_node);
    if (!hit.blocks.empty()) tree_.Lock(hit.node);  // keep it through the eviction below
  }
  const int32_t hit_blocks = static_cast<int32_t>(hit.blocks.size());
  const int32_t last = static_cast<int32_t>(s->blocks.size()) - 1;
  const bool cow = !tokens.empty() && n % bs != 0 && device_.RefCount(s->blocks[last]) > 1;
  const int32_t need = added_blocks - hit_blocks + (cow ? 1 : 0);
  if (!EnsureFree(need)) {
    if (hit_blocks > 0) tree_.Unlock(hit.node);
    return DeviceExhausted(need, absl::StrCat("appending ", tokens.size(), " tokens to session '",
                                              id, "'"));
  }
  std::vector<BlockId> fresh;
  CACHE_INTERNAL_CHECK(device_.Allocate(need, &fresh));

  WritePlan plan;
  size_t next_fresh = 0;
  if (hit_blocks > 0) {
    for (BlockId b : hit.blocks) device_.IncRef(b);
    s->blocks.insert(s->blocks.end(), hit.blocks.begin(), hit.blocks.end());
    Relock(*s, hit.node);
    tree_.Unlock(hit.node);  // the session's own lock now protects it
    const int64_t cached = static_cast<int64_t>(hit_blocks) * bs;
    s->cached_tokens += cached;
    plan.cached_tokens = cached;
  }
  if (cow) {
    const BlockId src = s->blocks[last];
    const BlockId dst = fresh[next_fresh++];
    plan.copies.push_back({src, dst});
    device_.DecRef(src);
    s->blocks[last] = dst;
    // The session no longer shares this block with the tree: stop locking it.
    if (last < s->tree_depth()) Relock(*s, tree_.AncestorAtDepth(s->tree_node, last));
  }
  s->blocks.insert(s->blocks.end(), fresh.begin() + next_fresh, fresh.end());
  s->tokens.insert(s->tokens.end(), tokens.begin(), tokens.end());
  s->num_computed += plan.cached_tokens;
  AppendSlots(*s, n + plan.cached_tokens, total, &plan);
  Touch(*s);
  return plan;
}

absl::Status KvCacheManager::Commit(absl::string_view id, int64_t num_tokens) {
  ASSIGN_OR_RETURN(Session * s, Find(id));
  if (s->swapped) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot commit to session '", id, "': it is swapped out, its KV was not written"));
  }
  const int64_t pending = s->num_tokens() - s->num_computed;
  if (num_tokens < 0 || num_tokens > pending) {
    return absl::OutOfRangeError(absl::StrCat("cannot commit ", num_tokens,
                                              " tokens of session '", id, "': ", pending,
                                              " are pending"));
  }
  s->num_computed += num_tokens;
  InsertComputed(*s);
  Touch(*s);
  return absl::OkStatus();
}

absl::StatusOr<absl::Span<const BlockId>> KvCacheManager::BlockTable(absl::string_view id) const {
  ASSIGN_OR_RETURN(const Session* s, Find(id));
  return absl::MakeConstSpan(s->blocks);
}

absl::StatusOr<absl::Span<const TokenId>> KvCacheManager::Tokens(absl::string_view id) const {
  ASSIGN_OR_RETURN(const Session* s, Find(id));
  return absl::MakeConstSpan(s->tokens);
}

}  // namespace radixserve::cache
