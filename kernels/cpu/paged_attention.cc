#include "kernels/cpu/paged_attention.h"

#include "kernels/cpu/attention_common.h"

namespace radixserve::kernels::cpu {

absl::Status PagedAttentionDecode(const DecodeParams& p, ThreadPool* pool) {
  if (p.dtype != ScalarType::kF32) return absl::InvalidArgumentError("CPU decode attention supports kF32 only");
  if (p.kv.num_kv_heads <= 0 || p.num_q_heads % p.kv.num_kv_heads != 0 || p.kv.head_dim <= 0) {
    return absl::InvalidArgumentError("num_q_heads must be a positive multiple of num_kv_heads");
  }
  const int32_t nqh = p.num_q_heads, nkv = p.kv.num_kv_heads, hd = p.kv.head_dim;
  const float* q = static_cast<const float*>(p.q);
  const int32_t split = internal::SplitTokens(p.kv.block_size);

  internal::AttnPartials parts;
  internal::AddPagedDecodeTasks(p.batch, q, nqh, nkv, hd, split, parts);
  parts.Run(internal::PagedKvF32{static_cast<const float*>(p.k_cache), static_cast<const float*>(p.v_cache), p.kv},
            p.sm_scale, pool, static_cast<float*>(p.o), p.maybe_lse, int64_t{p.batch.num_seqs} * nqh);
  return absl::OkStatus();
}

}  // namespace radixserve::kernels::cpu
