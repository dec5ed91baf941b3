#include "backend/cpu/cpu_kv_pool.h"

#include "absl/strings/str_cat.h"

namespace radixserve::backend::cpu {

CpuKvPool::CpuKvPool(int32_t num_layers, int64_t num_blocks, const kernels::PagedKvView& view)
    : num_blocks_(num_blocks),
      block_floats_(static_cast<int64_t>(view.num_kv_heads) * view.block_size * view.head_dim) {
  for (int32_t i = 0; i < 2 * num_layers; ++i) {
    // Zeroed, so a block never written reads as zeros rather than stale data.
    pools_.push_back(std::make_unique<float[]>(static_cast<size_t>(num_blocks * block_floats_)));
    pool_ptrs_.push_back(pools_.back().get());
  }
}

absl::Status CheckBlockPairs(std::span<const BlockCopy> pairs, int64_t src_blocks, int64_t dst_blocks,
                             const char* what) {
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (pairs[i].src < 0 || pairs[i].src >= src_blocks || pairs[i].dst < 0 || pairs[i].dst >= dst_blocks) {
      return absl::InvalidArgumentError(absl::StrCat(what, " pair ", i, " (", pairs[i].src, " -> ",
                                                     pairs[i].dst, ") is outside the pools (", src_blocks,
                                                     " and ", dst_blocks, " blocks)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace radixserve::backend::cpu
