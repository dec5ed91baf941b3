#include "kernels/cpu/radix_attention.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/attention_common.h"
#include "kernels/cpu/element.h"

namespace radixserve::kernels::cpu {
namespace {

// Prefix tasks carry at most this many query rows (group size x query heads per KV head)
// so the score tile stays in L1.
constexpr int kMaxPrefixRows = 64;

}  // namespace

absl::Status RadixAttentionDecode(const CascadeDecodeParams& p, ThreadPool* pool) {
  if (p.dtype != ScalarType::kF32) return absl::InvalidArgumentError("CPU cascade attention supports kF32 only");
  if (p.kv.num_kv_heads <= 0 || p.num_q_heads % p.kv.num_kv_heads != 0 || p.kv.head_dim <= 0) {
    return absl::InvalidArgumentError("num_q_heads must be a positive multiple of num_kv_heads");
  }
  const int32_t nqh = p.num_q_heads, nkv = p.kv.num_kv_heads, group = nqh / nkv, hd = p.kv.head_dim;
  const float* q = static_cast<const float*>(p.q);
  const int32_t split = internal::SplitTokens(p.kv.block_size);
  internal::AttnPartials parts;
  std::vector<const float*> rows;
  std::vector<int64_t> owners;

  // Shared prefixes first: all sequences of the group x the query heads of KV head g.
  for (int32_t gi = 0; gi < p.num_groups; ++gi) {
    const int32_t prefix_len = p.prefix_lens[gi];
    if (prefix_len <= 0) continue;
    const int32_t* blocks = p.prefix_block_ids + p.prefix_block_indptr[gi];
    for (int32_t g = 0; g < nkv; ++g) {
      rows.clear();
      owners.clear();
      for (int32_t s = p.group_indptr[gi]; s < p.group_indptr[gi + 1]; ++s) {
        for (int r = 0; r < group; ++r) {
          owners.push_back(int64_t{s} * nqh + g * group + r);
          rows.push_back(q + owners.back() * hd);
        }
      }
      for (int32_t t0 = 0; t0 < prefix_len; t0 += split) {
        for (size_t r0 = 0; r0 < rows.size(); r0 += kMaxPrefixRows) {
          const int nq = static_cast<int>(std::min<size_t>(kMaxPrefixRows, rows.size() - r0));
          parts.AddTask(rows.data() + r0, owners.data() + r0, nq, g, blocks, t0, std::min(prefix_len, t0 + split));
        }
      }
    }
  }
  // Then each sequence's own suffix, as in plain paged decode.
  internal::AddPagedDecodeTasks(p.suffix, q, nqh, nkv, hd, split, parts);
  parts.Run(internal::PagedKvF32{static_cast<const float*>(p.k_cache), static_cast<const float*>(p.v_cache), p.kv},
            p.sm_scale, pool, static_cast<float*>(p.o), p.maybe_lse, int64_t{p.suffix.num_seqs} * nqh);
  return absl::OkStatus();
}

absl::Status MergeState(const MergeStateParams& p) {
  if (p.head_dim <= 0) return absl::InvalidArgumentError("head_dim must be positive");
  VisitScalarType(p.dtype, [&](auto tag) {
    using T = decltype(tag);
    std::vector<float> a(p.head_dim), b(p.head_dim);
    T* oa = static_cast<T*>(p.o_a);
    const T* ob = static_cast<const T*>(p.o_b);
    for (int64_t row = 0; row < int64_t{p.num_rows} * p.num_heads; ++row) {
      for (int d = 0; d < p.head_dim; ++d) {
        a[d] = ToFloat(oa[row * p.head_dim + d]);
        b[d] = ToFloat(ob[row * p.head_dim + d]);
      }
      internal::MergeStateRow(a.data(), &p.lse_a[row], b.data(), p.lse_b[row], p.head_dim);
      for (int d = 0; d < p.head_dim; ++d) oa[row * p.head_dim + d] = FromFloat<T>(a[d]);
    }
  });
  return absl::OkStatus();
}

}  // namespace radixserve::kernels::cpu
