#include "backend/cpu/cpu_kv_pool.h"

namespace radixserve::backend::cpu {

CpuKvPool::CpuKvPool(int32_t num_layers, int64_t num_blocks, const kernels::PagedKvView& view,
                     kernels::ScalarType dtype)
    : num_blocks_(num_blocks),
      block_elems_(static_cast<int64_t>(view.num_kv_heads) * view.block_size * view.head_dim),
      dtype_(dtype) {
  for (int32_t i = 0; i < 2 * num_layers; ++i) {
    // Zeroed (0.0 in both types), so a block never written reads as zeros, not stale data.
    pools_.push_back(std::make_unique<uint8_t[]>(static_cast<size_t>(num_blocks * block_bytes())));
    pool_ptrs_.push_back(pools_.back().get());
  }
}

}  // namespace radixserve::backend::cpu
