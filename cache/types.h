// Plain value types shared by the cache bookkeeping and the backends it instructs.
//
// Nothing here touches device memory: a BlockId names a slot in a pool that a backend
// owns; the cache only decides which slot holds which tokens and tells the backend what
// to copy where.
#pragma once

#include <cstdint>
#include <vector>

namespace radixserve::cache {

using TokenId = int32_t;
// Index of a block inside one pool (device or host). Dense: [0, num_blocks).
using BlockId = int32_t;
inline constexpr BlockId kNoBlock = -1;

// Copy-on-write instruction: the backend copies device block `src` into device block
// `dst` (all layers, K and V) before it writes any token of the step that produced it.
struct CopyOp {
  BlockId src = kNoBlock;
  BlockId dst = kNoBlock;
  friend bool operator==(const CopyOp&, const CopyOp&) = default;
};

// One block moving between device and host memory. For a swap-out the backend copies
// device -> host; for a swap-in host -> device. The direction is given by the call
// that returned the pair, never by the pair itself.
struct SwapPair {
  BlockId device = kNoBlock;
  BlockId host = kNoBlock;
  friend bool operator==(const SwapPair&, const SwapPair&) = default;
};

// Where the backend must write the K/V of a run of new tokens, and what it must copy
// first. `slots[i]` is block * block_size + offset for the token at position
// `first_position + i` (the flat "slot mapping" of paged attention). Copies are
// executed before the writes, in order.
struct WritePlan {
  // Tokens just before first_position that were found in the prefix cache: their K/V
  // is already in the session's block table and must not be computed again.
  int64_t cached_tokens = 0;
  int64_t first_position = 0;
  std::vector<int64_t> slots;
  std::vector<CopyOp> copies;
};

}  // namespace radixserve::cache
