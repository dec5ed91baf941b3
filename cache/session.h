// Session: one server-owned KV sequence (a conversation, a branch, a beam).
//
// A plain record. KvCacheManager owns every Session (in its session table) and is the
// only writer; nothing here does I/O or locking. Field invariants (checked by
// KvCacheManager::CheckInvariants):
//   - on device (not swapped): blocks.size() == ceil(tokens.size() / block_size),
//     host_blocks empty;
//   - swapped: blocks empty; host_blocks holds every block, or is empty when the KV
//     was dropped to be recomputed (needs_recompute);
//   - tokens [0, num_computed) have their K/V written; the rest are pending (the
//     session is running until the engine commits them);
//   - every whole computed block is indexed by the radix tree and the session locks
//     the node ending at `tree_depth()`: blocks[0, tree_depth()) are the tree's blocks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "cache/types.h"

namespace radixserve::cache {

struct RadixNode;

enum class SessionState {
  kIdle,     // all KV computed and on the device
  kRunning,  // tokens appended whose KV is not committed yet
  kSwapped,  // KV on the host (Offload) or dropped for recompute; Restore brings it back
};
const char* SessionStateName(SessionState state);

struct SessionOptions {
  absl::Duration ttl = absl::ZeroDuration();           // lifetime from creation; 0 = none
  absl::Duration idle_timeout = absl::ZeroDuration();  // since last use; 0 = none
  int32_t max_blocks = 0;  // device-block quota; 0 = KvCacheOptions::default_session_max_blocks
};

struct Session {
  std::string id;
  SessionOptions options;
  std::vector<TokenId> tokens;
  int64_t num_computed = 0;
  std::vector<BlockId> blocks;       // device block table (one per block_size tokens)
  std::vector<BlockId> host_blocks;  // host block table while swapped
  bool swapped = false;
  bool needs_recompute = false;  // swapped without a host copy
  bool pinned = false;
  RadixNode* tree_node = nullptr;  // locked radix node; null = nothing locked
  absl::Time created;
  absl::Time last_used;
  int64_t cached_tokens = 0;  // tokens taken from the prefix cache instead of computed

  SessionState state() const {
    if (swapped) return SessionState::kSwapped;
    return num_computed < static_cast<int64_t>(tokens.size()) ? SessionState::kRunning
                                                               : SessionState::kIdle;
  }
  int64_t num_tokens() const { return static_cast<int64_t>(tokens.size()); }
  int32_t tree_depth() const;  // blocks covered by tree_node's root path
};

// 128 bits from the kernel CSPRNG (getrandom), as 32 lowercase hex characters.
std::string NewSessionId();

}  // namespace radixserve::cache
