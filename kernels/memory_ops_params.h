// Parameters of the KV memory operations: writing new K/V into their cache slots, block
// copy (copy-on-write) and batched swap between device and host block pools. Shared by
// the CPU twin and CUDA. The cache layout is kernels/paged_kv.h.
#pragma once

#include <cstdint>

#include "kernels/kernel_types.h"
#include "kernels/paged_kv.h"

namespace radixserve::kernels {

// For every token t with slot_mapping[t] >= 0, writes k_new[t] and v_new[t] (all KV
// heads) into block slot_mapping[t] / block_size, slot slot_mapping[t] % block_size.
// Negative slots (padding) are skipped.
struct KvWriteParams {
  ScalarType dtype = ScalarType::kBF16;  // of the new K/V and the cache (same type)
  const void* k_new = nullptr;  // [num_tokens, num_kv_heads, head_dim] (row stride k_token_stride)
  const void* v_new = nullptr;  // [num_tokens, num_kv_heads, head_dim] (row stride v_token_stride)
  void* k_cache = nullptr;      // [num_blocks, num_kv_heads, block_size, head_dim]
  void* v_cache = nullptr;
  PagedKvView kv;
  const int32_t* slot_mapping = nullptr;  // [num_tokens]
  int32_t num_tokens = 0;
  int64_t k_token_stride = 0;  // elements; 0 means num_kv_heads * head_dim
  int64_t v_token_stride = 0;
};

// Copies whole blocks inside each pool: for every pair p and pool l,
// pools[l][pairs[2p+1]] = pools[l][pairs[2p]]. A pool is one layer's K or V cache;
// `pools` is an array (in the kernel's memory) of num_pools base pointers.
struct BlockCopyParams {
  void* const* pools = nullptr;    // [num_pools]
  int32_t num_pools = 0;
  int64_t block_bytes = 0;         // num_kv_heads * block_size * head_dim * element bytes
  const int32_t* pairs = nullptr;  // [num_pairs, 2] (src block, dst block)
  int32_t num_pairs = 0;
};

// Swap between a device pool and a host pool (pinned memory for async copies):
// for every pair p and pool l, dst_pools[l][pairs[2p+1]] = src_pools[l][pairs[2p]].
// All pointers, `pairs` included, are HOST arrays; runs of consecutive block ids are
// copied with one transfer each.
struct SwapBlocksParams {
  const void* const* src_pools = nullptr;  // [num_pools]
  void* const* dst_pools = nullptr;        // [num_pools]
  int32_t num_pools = 0;
  int64_t block_bytes = 0;
  const int32_t* pairs = nullptr;  // [num_pairs, 2] (src block, dst block), host memory
  int32_t num_pairs = 0;
};

}  // namespace radixserve::kernels
