#include "backend/cpu/cpu_kv_pool.h"

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

}  // namespace radixserve::backend::cpu
