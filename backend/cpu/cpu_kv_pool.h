// The CPU backend's physical KV storage: per layer a K pool and a V pool of blocks of
// float32 or fp16 elements in the layout of kernels/paged_kv.h, for the "device" pool and the host swap pool alike
// (both live in RAM on this backend; swapping is a copy between them).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "kernels/kernel_types.h"
#include "kernels/paged_kv.h"

namespace radixserve::backend::cpu {

class CpuKvPool {
 public:
  // dtype: kF32 or kF16.
  CpuKvPool(int32_t num_layers, int64_t num_blocks, const kernels::PagedKvView& view, kernels::ScalarType dtype);

  int64_t num_blocks() const { return num_blocks_; }
  kernels::ScalarType dtype() const { return dtype_; }
  int64_t block_bytes() const { return block_elems_ * kernels::ScalarTypeBytes(dtype_); }
  void* k(int32_t layer) { return pools_[2 * layer].get(); }
  void* v(int32_t layer) { return pools_[2 * layer + 1].get(); }
  // Base pointers of every pool, K and V of each layer in turn (memory_ops' pool arrays).
  const std::vector<void*>& pool_ptrs() const { return pool_ptrs_; }

 private:
  int64_t num_blocks_;
  int64_t block_elems_;
  kernels::ScalarType dtype_;
  std::vector<std::unique_ptr<uint8_t[]>> pools_;
  std::vector<void*> pool_ptrs_;
};


}  // namespace radixserve::backend::cpu
