// KvCacheManager: the facade over the paged KV bookkeeping of one device.
//
//   BlockPool (device)  BlockPool (host)  RadixTree + EvictionPolicy  Session table
//            \_______________|_________________/__________________________/
//                              KvCacheManager
//
// It decides which block every token lives in and tells the backend what to do:
//   - WritePlan (Append, Restore after a drop): slots to write the new tokens' K/V to,
//     and copy-on-write CopyOps to run first;
//   - SwapPair lists (Offload: device -> host; Restore: host -> device).
// The backend executes those in the order they were returned, before the next step
// that reads the blocks; it never picks a block itself. Block tables are read with
// BlockTable() right before each step (a commit may switch a session to an identical
// cached block, see Commit).
//
// THREADING: the manager is owned by the engine loop thread of its device and has no
// internal locking. Every call, including the read-only ones (stats, CheckInvariants),
// must come from that thread; RPC handlers post work to the loop instead.
//
// Errors: caller mistakes and capacity shortfalls are absl::Status values, never
// crashes. NotFound (unknown session), OutOfRange (truncate/commit past the end),
// FailedPrecondition (wrong session state: swapped, running, pinned), ResourceExhausted
// (device pool, host pool, quota or pin cap), InvalidArgument (bad options or tokens).
// A call that fails changes no session and no block table.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "cache/block_pool.h"
#include "cache/radix_tree.h"
#include "cache/session.h"
#include "cache/types.h"

namespace radixserve::cache {

enum class EvictionPolicyKind { kLru, kLfu };

struct KvCacheOptions {
  int32_t block_size = 16;        // tokens per block
  int32_t num_device_blocks = 0;  // > 0
  int32_t num_host_blocks = 0;    // swap space; 0 disables Offload
  // Cap on blocks held by pinned sessions and pinned prefixes (each pin counts its
  // blocks, shared ones included). -1: half of the device pool.
  int32_t max_pinned_blocks = -1;
  int32_t default_session_max_blocks = 0;  // per-session quota; 0 = none
  EvictionPolicyKind eviction_policy = EvictionPolicyKind::kLru;
  std::function<absl::Time()> clock;           // default absl::Now (tests inject one)
  std::function<std::string()> id_generator;   // default NewSessionId (CSPRNG)
};

struct SessionInfo {
  std::string id;
  SessionState state = SessionState::kIdle;
  bool pinned = false;
  int64_t num_tokens = 0;
  int64_t num_computed = 0;
  int32_t device_blocks = 0;
  int32_t host_blocks = 0;
  int32_t shared_blocks = 0;  // device blocks also held by another session or the tree
  int64_t cached_tokens = 0;  // tokens reused from the prefix cache instead of computed
  absl::Time created;
  absl::Time last_used;
};

struct CacheStats {
  int32_t block_size = 0;
  int32_t device_blocks = 0, device_free = 0;
  int32_t host_blocks = 0, host_free = 0;
  int32_t pinned_blocks = 0, max_pinned_blocks = 0;
  int64_t num_sessions = 0, swapped_sessions = 0, pinned_prefixes = 0;
  RadixTreeStats tree;
};

struct RestoreResult {
  std::vector<SwapPair> swap_in;  // host -> device copies, before the next step
  // Non-empty only for a session dropped for recompute: the tokens to run again
  // (commit them like an Append). Its cached_tokens part came from the prefix tree.
  WritePlan recompute;
  int64_t cached_tokens = 0;  // tokens restored from the prefix tree without a copy
};

enum class PreemptAction { kSwap, kRecompute };
struct Preemption {
  std::string session_id;
  PreemptAction action = PreemptAction::kSwap;
  int32_t blocks_released = 0;  // free or evictable once preempted (estimate, never over)
};

using PrefixPinId = int64_t;

class KvCacheManager {
 public:
  static absl::StatusOr<std::unique_ptr<KvCacheManager>> Create(KvCacheOptions options);
  ~KvCacheManager();

  KvCacheManager(const KvCacheManager&) = delete;
  KvCacheManager& operator=(const KvCacheManager&) = delete;

  // ---- Sessions (kv_cache_manager.cc) ----
  absl::StatusOr<std::string> CreateSession(const SessionOptions& options = {});
  // New session sharing every block of `id` (idle, on device); the partial last block is
  // copied on the first write by either side. Options and pin are not inherited.
  absl::StatusOr<std::string> ForkSession(absl::string_view id);
  // Keeps the first `num_tokens` tokens; whole blocks past them are released. Works on
  // swapped sessions too (host blocks are released).
  absl::Status Truncate(absl::string_view id, int64_t num_tokens);
  // Releases everything; computed whole blocks stay cached in the tree.
  absl::Status DeleteSession(absl::string_view id);

  // Appends tokens and plans where their K/V goes. If the session is idle and
  // block-aligned, the longest cached continuation is taken from the prefix tree
  // (never the last token: it is always recomputed so the step yields logits); those
  // tokens are computed already (plan.cached_tokens). The plan covers the rest,
  // starting at plan.first_position. Evicts cached blocks as needed.
  absl::StatusOr<WritePlan> Append(absl::string_view id, absl::Span<const TokenId> tokens);
  // The engine wrote K/V for the next `num_tokens` pending tokens. Newly whole blocks
  // enter the prefix tree; where the tree already held an identical block the session
  // switches to it and its duplicate is released.
  absl::Status Commit(absl::string_view id, int64_t num_tokens);

  absl::StatusOr<absl::Span<const BlockId>> BlockTable(absl::string_view id) const;
  absl::StatusOr<absl::Span<const TokenId>> Tokens(absl::string_view id) const;
  absl::StatusOr<SessionInfo> GetSession(absl::string_view id) const;
  std::vector<SessionInfo> ListSessions() const;  // sorted by id

  // ---- Host swap and preemption (kv_cache_swap.cc) ----
  // Moves an idle, unpinned session to host blocks: all or nothing.
  absl::StatusOr<std::vector<SwapPair>> Offload(absl::string_view id);
  // Brings a swapped session back: its cached prefix from the tree, the rest swapped in
  // (or planned for recompute after DropForRecompute).
  absl::StatusOr<RestoreResult> Restore(absl::string_view id);
  // Releases a session's device KV without a host copy; tokens are kept and Restore
  // plans their recomputation. Allowed while running (pending work is discarded).
  absl::Status DropForRecompute(absl::string_view id);

  // Admission: device blocks an Append of `num_new_tokens` needs at most (prefix hits
  // can only lower it), and a Restore needs at most.
  absl::StatusOr<int32_t> BlocksNeededForAppend(absl::string_view id, int64_t num_new_tokens) const;
  absl::StatusOr<int32_t> BlocksNeededForRestore(absl::string_view id) const;
  // Blocks a new session prefilling `tokens` needs beyond its cached prefix.
  int32_t BlocksNeededForPrompt(absl::Span<const TokenId> tokens) const;
  // Free blocks plus cached blocks eviction could free now.
  int32_t AvailableBlocks() const;
  bool FitsAfterEviction(int32_t num_blocks) const { return num_blocks <= AvailableBlocks(); }
  // Sessions to preempt, least recently used first, so that `num_blocks` fit. Skips
  // pinned and swapped sessions and `keep`. Swap when the host has room and the session
  // is idle, else recompute. ResourceExhausted when even all of them would not do.
  absl::StatusOr<std::vector<Preemption>> PlanPreemption(int32_t num_blocks,
                                                         absl::Span<const std::string> keep) const;

  // ---- Prefix cache, pins, expiry (kv_cache_pins.cc) ----
  // Cached tokens a prefill of `tokens` would reuse (capped at size - 1). Read-only.
  int64_t PeekCachedTokens(absl::Span<const TokenId> tokens) const;
  int32_t EvictCachedBlocks(int32_t num_blocks);  // returns the blocks freed
  int32_t ClearPrefixCache();                     // evicts every unlocked node
  absl::Status PinSession(absl::string_view id);
  absl::Status UnpinSession(absl::string_view id);
  // Pins the cached whole blocks of `tokens` (all must be cached: NotFound otherwise).
  absl::StatusOr<PrefixPinId> PinPrefix(absl::Span<const TokenId> tokens);
  absl::Status UnpinPrefix(PrefixPinId pin);
  // Deletes sessions past their TTL or idle timeout (never running ones; pinned ones
  // only by TTL). Returns their ids, sorted.
  std::vector<std::string> ExpireSessions();

  // ---- Stats and invariants (kv_cache_stats.cc) ----
  CacheStats Stats() const;
  int32_t PinnedBlocks() const;
  // Proves the bookkeeping: every refcount equals the references held by sessions and
  // tree nodes, free lists hold exactly the unreferenced blocks, locks match holders,
  // session tables match their token counts. Internal error naming the first breach.
  absl::Status CheckInvariants() const;

  int32_t block_size() const { return options_.block_size; }
  const BlockPool& device_pool() const { return device_; }
  const BlockPool& host_pool() const { return host_; }
  const RadixTree& tree() const { return tree_; }

 private:
  explicit KvCacheManager(KvCacheOptions options);

  absl::StatusOr<Session*> Find(absl::string_view id) const;
  int32_t BlocksFor(int64_t num_tokens) const {
    return static_cast<int32_t>((num_tokens + options_.block_size - 1) / options_.block_size);
  }
  int32_t QuotaOf(const Session& s) const;
  // Makes `n` device blocks free, evicting cached blocks if needed; false (nothing
  // evicted) when even eviction cannot.
  bool EnsureFree(int32_t n);
  absl::Status DeviceExhausted(int32_t need, absl::string_view what) const;
  // Indexes the session's whole computed blocks, adopts the tree's duplicates and
  // moves its lock to the end of that prefix.
  void InsertComputed(Session& s);
  // Moves the session's tree lock to `node` (root = none).
  void Relock(Session& s, RadixNode* node);
  void ReleaseDevice(Session& s);
  void Touch(Session& s) { s.last_used = options_.clock(); }
  void AppendSlots(const Session& s, int64_t from, int64_t to, WritePlan* plan) const;
  int32_t ReleasableBlocks(const Session& s) const;

  KvCacheOptions options_;
  BlockPool device_;
  BlockPool host_;
  RadixTree tree_;  // after the pools: destroyed first
  absl::flat_hash_map<std::string, std::unique_ptr<Session>> sessions_;
  absl::flat_hash_map<PrefixPinId, RadixNode*> prefix_pins_;
  PrefixPinId next_pin_id_ = 1;
};

}  // namespace radixserve::cache
