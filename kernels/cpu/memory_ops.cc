#include "kernels/cpu/memory_ops.h"

#include <cstring>

#include "kernels/cpu/vec_ops.h"

namespace radixserve::kernels::cpu {

void WriteKv(const KvWriteParams& p, ThreadPool* pool) {
  const int64_t elem = ScalarTypeBytes(p.dtype);
  const int64_t row = int64_t{p.kv.num_kv_heads} * p.kv.head_dim;
  const int64_t k_stride = (p.k_token_stride > 0 ? p.k_token_stride : row) * elem;
  const int64_t v_stride = (p.v_token_stride > 0 ? p.v_token_stride : row) * elem;
  const int64_t head_bytes = int64_t{p.kv.head_dim} * elem;
  const auto* k_new = static_cast<const uint8_t*>(p.k_new);
  const auto* v_new = static_cast<const uint8_t*>(p.v_new);
  auto* k_cache = static_cast<uint8_t*>(p.k_cache);
  auto* v_cache = static_cast<uint8_t*>(p.v_cache);
  MaybeParallelFor(p.num_tokens >= 64 ? pool : nullptr, p.num_tokens, 8, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int32_t slot = p.slot_mapping[t];
      if (slot < 0) continue;
      const int32_t block = slot / p.kv.block_size;
      const int32_t s = slot % p.kv.block_size;
      // Heads are not adjacent inside a block (head-major), so copy one head at a time.
      for (int32_t h = 0; h < p.kv.num_kv_heads; ++h) {
        const int64_t dst = PagedKvOffset(p.kv, block, h, s) * elem;
        std::memcpy(k_cache + dst, k_new + t * k_stride + h * head_bytes, head_bytes);
        std::memcpy(v_cache + dst, v_new + t * v_stride + h * head_bytes, head_bytes);
      }
    }
  });
}

void ConvertToHalf(const float* x, uint16_t* out, int64_t n) { internal::ActiveVecOps().float_to_half(x, out, n); }

void CopyBlocks(const BlockCopyParams& p) {
  for (int32_t l = 0; l < p.num_pools; ++l) {
    auto* pool = static_cast<uint8_t*>(p.pools[l]);
    for (int32_t i = 0; i < p.num_pairs; ++i) {
      std::memcpy(pool + p.pairs[2 * i + 1] * p.block_bytes, pool + p.pairs[2 * i] * p.block_bytes,
                  p.block_bytes);
    }
  }
}

void SwapBlocks(const SwapBlocksParams& p) {
  for (int32_t l = 0; l < p.num_pools; ++l) {
    const auto* src = static_cast<const uint8_t*>(p.src_pools[l]);
    auto* dst = static_cast<uint8_t*>(p.dst_pools[l]);
    for (int32_t i = 0; i < p.num_pairs;) {
      int32_t run = 1;
      while (i + run < p.num_pairs && p.pairs[2 * (i + run)] == p.pairs[2 * i] + run &&
             p.pairs[2 * (i + run) + 1] == p.pairs[2 * i + 1] + run) {
        ++run;
      }
      std::memcpy(dst + p.pairs[2 * i + 1] * p.block_bytes, src + p.pairs[2 * i] * p.block_bytes,
                  run * p.block_bytes);
      i += run;
    }
  }
}

}  // namespace radixserve::kernels::cpu
