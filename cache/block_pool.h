// BlockPool: reference-counted fixed-size blocks with O(1) allocate / free.
//
// One class serves both pools: KvCacheManager instantiates it once for device blocks
// and once for host (swap) blocks. The pool only counts references; it never knows
// who holds them (sessions and radix-tree nodes do, and CheckInvariants() proves the
// counts match).
//
// Free list: threaded through the blocks themselves as an intrusive doubly linked
// list (no allocation on the hot path, O(1) unlink of any block). A freed block goes
// to the tail and allocation takes the head, so the list is in LRU order: the block
// freed longest ago is reused first. Blocks cached by the radix tree are *not* free
// (the tree holds a reference); the tree evicts them leaf-first and only then do they
// join this list. See cache/README.md for why eviction lives in the tree.
//
// Threading: none. Owned by KvCacheManager, which the engine loop thread owns.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cache/types.h"

namespace radixserve::cache {

class BlockPool {
 public:
  // `name` only labels error messages ("device", "host"). num_blocks >= 0.
  BlockPool(std::string name, int32_t num_blocks);

  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  // Takes `n` free blocks (refcount 1 each) and appends them to `out`: all or none.
  // Not enough free blocks is a normal outcome: returns false and changes nothing.
  bool Allocate(int32_t n, std::vector<BlockId>* out);

  // Adds a reference to a block that is already referenced.
  void IncRef(BlockId block);
  // Drops one reference; returns true when that was the last one and the block is
  // free again (appended to the LRU tail of the free list).
  bool DecRef(BlockId block);

  int32_t RefCount(BlockId block) const { return blocks_[block].refcount; }
  bool IsFree(BlockId block) const { return blocks_[block].refcount == 0; }
  int32_t num_blocks() const { return static_cast<int32_t>(blocks_.size()); }
  int32_t num_free() const { return num_free_; }
  int32_t num_used() const { return num_blocks() - num_free_; }
  const std::string& name() const { return name_; }

  // Free blocks from head (next to be allocated) to tail. O(num_free); tests only.
  std::vector<BlockId> FreeListForTesting() const;

  // Free-list consistency: links are mutual, the list holds exactly the blocks with
  // refcount 0, no refcount is negative, and num_free() matches.
  absl::Status CheckConsistency() const;

  // Verifies refcount(b) == expected[b] for every block (expected sized num_blocks).
  absl::Status CheckRefCounts(const std::vector<int32_t>& expected) const;

 private:
  struct Block {
    int32_t refcount = 0;
    BlockId prev = kNoBlock;  // free-list links; meaningful only while free
    BlockId next = kNoBlock;
  };

  void PushTail(BlockId block);
  void Unlink(BlockId block);

  std::string name_;
  std::vector<Block> blocks_;
  BlockId head_ = kNoBlock;  // least recently freed
  BlockId tail_ = kNoBlock;  // most recently freed
  int32_t num_free_ = 0;
};

}  // namespace radixserve::cache
