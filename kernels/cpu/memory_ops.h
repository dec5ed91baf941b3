// KV memory operations over the paged cache (layout: kernels/paged_kv.h): the CPU twins
// of kernels/memory_ops_params.h. On the CPU backend the "device" and "host" pools are
// both host memory, so every operation is a memcpy of whole rows or blocks.
#pragma once

#include <cstdint>

#include "kernels/cpu/thread_pool.h"
#include "kernels/memory_ops_params.h"

namespace radixserve::kernels::cpu {

// Writes each token's K and V rows (all KV heads) into its (block, slot); negative
// slot_mapping entries are skipped. Preconditions: slots < kv.num_blocks * kv.block_size.
void WriteKv(const KvWriteParams& p, ThreadPool* pool = nullptr);

// out[i] = x[i] as IEEE half, rounded to nearest even (F16C where the CPU has it): new
// K/V rows computed in float32 on their way into an fp16 cache.
void ConvertToHalf(const float* x, uint16_t* out, int64_t n);

// Copy-on-write: for every pair and pool, block pairs[2i+1] = block pairs[2i].
// Precondition: no destination is also a source in the same call.
void CopyBlocks(const BlockCopyParams& p);

// Device <-> host swap (both in host memory here): dst_pools[l][dst] = src_pools[l][src].
// Runs of consecutive source and destination ids are copied with one memcpy.
void SwapBlocks(const SwapBlocksParams& p);

}  // namespace radixserve::kernels::cpu
