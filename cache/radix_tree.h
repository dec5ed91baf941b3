// RadixTree: the prefix cache. Token-id sequences at block granularity -> KV blocks.
//
// Shape (block_size 4 shown, one letter per token):
//
//   root ── [ABCD EFGH] ──┬── [IJKL]        "ABCDEFGHIJKL" cached in 3 blocks
//                         └── [WXYZ QRST]   "ABCDEFGHWXYZQRST" shares the first 2
//
// Each node holds a run of whole blocks (tokens.size() == blocks.size() * block_size)
// and its children keyed by their first block's tokens. A match or an insert that
// ends inside a node splits it, so every lockable point is a node boundary.
//
// Ownership: the tree owns its nodes (children by unique_ptr, a raw parent pointer)
// and holds exactly one pool reference per block it indexes; a block appears in at
// most one node. Eviction drops that reference.
//
// Locking: Lock(node) pins node and all its ancestors (lock_ref counts locks of the
// node and of its whole subtree), as a session does on the prefix it is using. Only
// unlocked leaves are eviction candidates; a parent joins them when it becomes an
// unlocked leaf. The candidates are kept ordered by an EvictionPolicy.
//
// The "recompute the last token" rule is NOT applied here: Match() returns the full
// cached prefix. KvCacheManager caps the query at num_tokens - 1 before calling, so a
// prefill always has at least one token to run and produces logits.
//
// Threading: none; owned by KvCacheManager (engine loop thread).
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/types/span.h"
#include "cache/block_pool.h"
#include "cache/eviction_policy.h"
#include "cache/types.h"

namespace radixserve::cache {

// Children are keyed by the tokens of their first block; lookups take a span.
struct BlockKeyHash {
  using is_transparent = void;
  size_t operator()(absl::Span<const TokenId> key) const { return absl::HashOf(key); }
};
struct BlockKeyEq {
  using is_transparent = void;
  bool operator()(absl::Span<const TokenId> a, absl::Span<const TokenId> b) const {
    return a == b;
  }
};

struct RadixNode {
  using ChildMap = absl::flat_hash_map<std::vector<TokenId>, std::unique_ptr<RadixNode>,
                                       BlockKeyHash, BlockKeyEq>;
  std::vector<TokenId> tokens;  // [blocks.size() * block_size]
  std::vector<BlockId> blocks;  // the KV of `tokens`, one per block
  RadixNode* parent = nullptr;  // null only for the root
  ChildMap children;
  int32_t depth_blocks = 0;  // blocks on the path from the root to the end of this node
  int32_t lock_ref = 0;      // locks on this node or any descendant
  uint64_t last_access = 0;  // logical tick of the last match/insert through this node
  uint64_t hit_count = 0;    // matches that went through this node
  uint64_t id = 0;           // creation order; deterministic tie-break for eviction
  bool is_candidate = false; // in the eviction candidate set
  uint64_t candidate_priority = 0;

  bool is_leaf() const { return children.empty(); }
  int32_t num_blocks() const { return static_cast<int32_t>(blocks.size()); }
};

struct RadixTreeStats {
  int64_t num_nodes = 0;         // excluding the root
  int64_t cached_blocks = 0;     // blocks indexed by the tree
  int64_t evictable_blocks = 0;  // cached blocks in unlocked nodes
  int64_t evicted_blocks = 0;    // total given back so far
  int64_t queries = 0;           // Match() calls
  int64_t hits = 0;              // Match() calls that matched at least one block
  int64_t queried_tokens = 0;
  int64_t hit_tokens = 0;
};

class RadixTree {
 public:
  // `pool` may be null (tests and benchmarks of the tree alone): references are then
  // not counted. `policy` null means LRU.
  RadixTree(int32_t block_size, BlockPool* pool, std::unique_ptr<EvictionPolicy> policy = nullptr);
  ~RadixTree();

  RadixTree(const RadixTree&) = delete;
  RadixTree& operator=(const RadixTree&) = delete;

  struct MatchResult {
    RadixNode* node = nullptr;   // ends exactly at the match; root() when nothing matched
    std::vector<BlockId> blocks; // the matched blocks, in order
  };
  // Longest cached prefix of `tokens` (whole blocks only; a trailing partial block is
  // ignored), continuing below `start` (root if null: `tokens` then starts at position
  // 0, otherwise right after `start`'s path). Splits the last node if the match ends
  // inside it, marks the path as used and counts the query in the stats.
  MatchResult Match(absl::Span<const TokenId> tokens, RadixNode* start = nullptr);

  // Blocks Match() would return from the root, without splitting, touching or counting.
  int32_t PeekMatchBlocks(absl::Span<const TokenId> tokens) const;

  struct InsertResult {
    RadixNode* node = nullptr;    // ends exactly at the end of the inserted key
    std::vector<BlockId> blocks;  // the tree's blocks for the whole key after the insert
    int32_t num_new_blocks = 0;   // how many of the caller's blocks were adopted
  };
  // Indexes the whole blocks of `tokens` (from position 0) with `blocks` (one per whole
  // block). Where a prefix is already cached the tree keeps its own block and reports
  // it in `blocks`, so the caller can switch to it and drop its duplicate; new blocks
  // gain one reference held by the tree.
  InsertResult Insert(absl::Span<const TokenId> tokens, absl::Span<const BlockId> blocks);

  void Lock(RadixNode* node);
  void Unlock(RadixNode* node);

  // The node on `node`'s root path that ends at `depth_blocks` (splitting one if the
  // depth falls inside it); root() for depth 0. Requires depth <= node->depth_blocks.
  RadixNode* AncestorAtDepth(RadixNode* node, int32_t depth_blocks);

  // Evicts candidates in policy order until `num_blocks` pool blocks were freed or no
  // candidate is left; the last leaf touched may lose only its tail blocks. Returns
  // the number freed.
  int32_t Evict(int32_t num_blocks);
  // Evicts every unlocked node (ClearPrefixCache). Returns the blocks freed.
  int32_t EvictAll();

  RadixNode* root() { return root_.get(); }
  const RadixNode* root() const { return root_.get(); }
  int32_t block_size() const { return block_size_; }
  const RadixTreeStats& stats() const { return stats_; }
  const EvictionPolicy& policy() const { return *policy_; }

  // Structural check. Adds one to `tree_refs[b]` for every block b the tree holds, and
  // verifies lock_ref(n) == direct_locks(n) + sum of lock_ref over n's children, where
  // direct_locks gives the locks the caller knows it holds on each node.
  absl::Status CheckConsistency(const absl::flat_hash_map<const RadixNode*, int32_t>& direct_locks,
                                std::vector<int32_t>* tree_refs) const;

 private:
  absl::Span<const TokenId> FirstBlock(absl::Span<const TokenId> tokens) const {
    return tokens.subspan(0, block_size_);
  }
  // Whole blocks at the start of `node` equal to `tokens` (at most node->num_blocks()).
  int32_t CommonBlocks(const RadixNode& node, absl::Span<const TokenId> tokens) const;
  // Splits `node` after `num_blocks` blocks; returns the new upper node.
  RadixNode* Split(RadixNode* node, int32_t num_blocks);
  void Touch(RadixNode* node);
  void AddCandidate(RadixNode* node);
  void RemoveCandidate(RadixNode* node);
  void MaybeAddCandidate(RadixNode* node);
  int32_t EvictNode(RadixNode* node, int32_t max_blocks);
  absl::Status CheckNode(const RadixNode& node,
                         const absl::flat_hash_map<const RadixNode*, int32_t>& direct_locks,
                         std::vector<int32_t>* tree_refs, int64_t* nodes, int64_t* blocks,
                         int64_t* evictable, int64_t* candidates) const;

  struct CandidateKey {
    uint64_t priority;
    uint64_t id;
    RadixNode* node;
    bool operator<(const CandidateKey& o) const {
      return priority != o.priority ? priority < o.priority : id < o.id;
    }
  };

  const int32_t block_size_;
  BlockPool* const pool_;  // not owned; may be null
  std::unique_ptr<EvictionPolicy> policy_;
  std::unique_ptr<RadixNode> root_;
  std::set<CandidateKey> candidates_;
  uint64_t tick_ = 0;
  uint64_t next_node_id_ = 1;
  RadixTreeStats stats_;
};

}  // namespace radixserve::cache
