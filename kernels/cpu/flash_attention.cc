#include "kernels/cpu/flash_attention.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/attention_common.h"

namespace radixserve::kernels::cpu {
namespace {

// Query rows per tile (tokens x heads of one KV group): the score tile [rows, block]
// and the accumulators [rows, head_dim] stay in L1/L2.
constexpr int kTileRows = 64;
// Keys per chunk when K/V are contiguous (the paged source uses its blocks).
constexpr int kContiguousChunk = 32;

struct Item {
  int32_t seq, kv_head, t0, nt;
};

}  // namespace

absl::Status FlashAttentionPrefill(const PrefillParams& p, ThreadPool* pool) {
  if (p.dtype != ScalarType::kF32) return absl::InvalidArgumentError("CPU prefill attention supports kF32 only");
  if (p.kv.num_kv_heads <= 0 || p.num_q_heads % p.kv.num_kv_heads != 0 || p.kv.head_dim <= 0) {
    return absl::InvalidArgumentError("num_q_heads must be a positive multiple of num_kv_heads");
  }
  const bool paged = p.kv_source == KvSource::kPaged;
  const int32_t nqh = p.num_q_heads, nkv = p.kv.num_kv_heads, group = nqh / nkv, hd = p.kv.head_dim;
  const int32_t tile_tokens = std::max(1, kTileRows / group);
  const float* q = static_cast<const float*>(p.q);
  float* o = static_cast<float*>(p.o);

  std::vector<Item> items;
  for (int32_t s = 0; s < p.batch.num_seqs; ++s) {
    const int32_t q_len = p.batch.q_indptr[s + 1] - p.batch.q_indptr[s];
    for (int32_t g = 0; g < nkv; ++g)
      for (int32_t t0 = 0; t0 < q_len; t0 += tile_tokens) items.push_back({s, g, t0, std::min(tile_tokens, q_len - t0)});
  }
  // Later tiles of a causal sequence see more keys; interleave big and small ones.
  auto kv_len_of = [&](int32_t s) {
    return paged ? p.batch.kv_lens[s] : p.kv_indptr[s + 1] - p.kv_indptr[s];
  };

  const internal::VecOps& ops = internal::ActiveVecOps();
  auto run = [&](int t, int nt) {
    thread_local internal::AttnAccumulator acc;
    thread_local std::vector<float> qbuf, obuf, lbuf;
    std::vector<int> limit;
    for (size_t i = t; i < items.size(); i += nt) {
      const Item& it = items[i];
      const int32_t q_begin = p.batch.q_indptr[it.seq];
      const int32_t q_len = p.batch.q_indptr[it.seq + 1] - q_begin;
      const int32_t kv_len = kv_len_of(it.seq);
      const int32_t first_pos = kv_len - q_len;  // position of the sequence's first query
      const int nq = it.nt * group;
      qbuf.resize(static_cast<size_t>(nq) * hd);
      obuf.resize(static_cast<size_t>(nq) * hd);
      lbuf.resize(nq);
      limit.resize(nq);
      for (int32_t tt = 0; tt < it.nt; ++tt) {
        const float* src = q + (int64_t{q_begin + it.t0 + tt} * nqh + it.kv_head * group) * hd;
        std::copy(src, src + int64_t{group} * hd, qbuf.data() + int64_t{tt} * group * hd);
      }
      acc.Reset(nq, hd);
      const int32_t last_pos = first_pos + it.t0 + it.nt - 1;
      const int32_t keys_end = p.causal ? std::min(kv_len, last_pos + 1) : kv_len;
      const int32_t chunk = paged ? p.kv.block_size : kContiguousChunk;
      for (int32_t c0 = 0; c0 < keys_end; c0 += chunk) {
        const int n = std::min(chunk, keys_end - c0);
        internal::KvChunk c;
        if (paged) {
          const int32_t block = p.batch.block_ids[p.batch.block_indptr[it.seq] + c0 / p.kv.block_size];
          const int64_t off = PagedKvOffset(p.kv, block, it.kv_head, 0);
          c = {static_cast<const float*>(p.k_cache) + off, static_cast<const float*>(p.v_cache) + off, hd, n};
        } else {
          const int64_t off = (int64_t{p.kv_indptr[it.seq] + c0} * nkv + it.kv_head) * hd;
          c = {static_cast<const float*>(p.k) + off, static_cast<const float*>(p.v) + off, int64_t{nkv} * hd, n};
        }
        // Rows whose position is below the chunk's last key need a mask.
        const bool masked = p.causal && first_pos + it.t0 < c0 + n - 1;
        if (masked) {
          for (int r = 0; r < nq; ++r) limit[r] = first_pos + it.t0 + r / group - c0 + 1;
        }
        acc.Add(ops, qbuf.data(), hd, p.sm_scale, c, masked ? limit.data() : nullptr);
      }
      acc.Finish(obuf.data(), hd, lbuf.data());
      for (int32_t tt = 0; tt < it.nt; ++tt) {
        const int64_t row = int64_t{q_begin + it.t0 + tt} * nqh + it.kv_head * group;
        std::copy(obuf.data() + int64_t{tt} * group * hd, obuf.data() + int64_t{tt + 1} * group * hd, o + row * hd);
        if (p.maybe_lse) std::copy(lbuf.data() + tt * group, lbuf.data() + (tt + 1) * group, p.maybe_lse + row);
      }
    }
  };
  ThreadPool::RunOrInline(pool, items.size(), run);
  return absl::OkStatus();
}

}  // namespace radixserve::kernels::cpu
