#include "cache/block_pool.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "cache/internal_check.h"

namespace radixserve::cache {

BlockPool::BlockPool(std::string name, int32_t num_blocks)
    : name_(std::move(name)), blocks_(num_blocks > 0 ? num_blocks : 0) {
  for (BlockId b = 0; b < this->num_blocks(); ++b) PushTail(b);
}

bool BlockPool::Allocate(int32_t n, std::vector<BlockId>* out) {
  if (n < 0 || n > num_free_) return false;
  for (int32_t i = 0; i < n; ++i) {
    BlockId b = head_;
    Unlink(b);
    blocks_[b].refcount = 1;
    out->push_back(b);
  }
  return true;
}

void BlockPool::IncRef(BlockId block) {
  CACHE_INTERNAL_CHECK(block >= 0 && block < num_blocks());
  CACHE_INTERNAL_CHECK(blocks_[block].refcount > 0);
  ++blocks_[block].refcount;
}

bool BlockPool::DecRef(BlockId block) {
  CACHE_INTERNAL_CHECK(block >= 0 && block < num_blocks());
  CACHE_INTERNAL_CHECK(blocks_[block].refcount > 0);
  if (--blocks_[block].refcount > 0) return false;
  PushTail(block);
  return true;
}

void BlockPool::PushTail(BlockId block) {
  Block& b = blocks_[block];
  b.prev = tail_;
  b.next = kNoBlock;
  if (tail_ != kNoBlock) {
    blocks_[tail_].next = block;
  } else {
    head_ = block;
  }
  tail_ = block;
  ++num_free_;
}

void BlockPool::Unlink(BlockId block) {
  Block& b = blocks_[block];
  if (b.prev != kNoBlock) {
    blocks_[b.prev].next = b.next;
  } else {
    head_ = b.next;
  }
  if (b.next != kNoBlock) {
    blocks_[b.next].prev = b.prev;
  } else {
    tail_ = b.prev;
  }
  b.prev = b.next = kNoBlock;
  --num_free_;
}

std::vector<BlockId> BlockPool::FreeListForTesting() const {
  std::vector<BlockId> out;
  for (BlockId b = head_; b != kNoBlock; b = blocks_[b].next) out.push_back(b);
  return out;
}

absl::Status BlockPool::CheckConsistency() const {
  int32_t zero_refs = 0;
  for (BlockId b = 0; b < num_blocks(); ++b) {
    if (blocks_[b].refcount < 0) {
      return absl::InternalError(
          absl::StrCat(name_, " block ", b, " has refcount ", blocks_[b].refcount));
    }
    if (blocks_[b].refcount == 0) ++zero_refs;
  }
  int32_t walked = 0;
  BlockId prev = kNoBlock;
  for (BlockId b = head_; b != kNoBlock; b = blocks_[b].next) {
    if (b < 0 || b >= num_blocks() || ++walked > num_blocks()) {
      return absl::InternalError(absl::StrCat(name_, " free list is corrupt at ", b));
    }
    if (blocks_[b].prev != prev) {
      return absl::InternalError(
          absl::StrCat(name_, " free list back link of block ", b, " is broken"));
    }
    if (blocks_[b].refcount != 0) {
      return absl::InternalError(absl::StrCat(name_, " block ", b, " is on the free list with refcount ",
                                              blocks_[b].refcount));
    }
    prev = b;
  }
  if (prev != tail_) return absl::InternalError(absl::StrCat(name_, " free list tail is wrong"));
  if (walked != num_free_ || walked != zero_refs) {
    return absl::InternalError(absl::StrCat(name_, " free list holds ", walked,
                                            " blocks, num_free is ", num_free_, ", ",
                                            zero_refs, " blocks have refcount 0"));
  }
  return absl::OkStatus();
}

absl::Status BlockPool::CheckRefCounts(const std::vector<int32_t>& expected) const {
  if (static_cast<int32_t>(expected.size()) != num_blocks()) {
    return absl::InternalError("CheckRefCounts: expected vector has the wrong size");
  }
  for (BlockId b = 0; b < num_blocks(); ++b) {
    if (blocks_[b].refcount != expected[b]) {
      return absl::InternalError(absl::StrCat(name_, " block ", b, " has refcount ",
                                              blocks_[b].refcount, " but ", expected[b],
                                              " references are held"));
    }
  }
  return absl::OkStatus();
}

}  // namespace radixserve::cache
