#include "kernels/cpu/attention_common.h"

#include <algorithm>

namespace radixserve::kernels::cpu::internal {

void AttnAccumulator::Reset(int nq, int hd) {
  nq_ = nq;
  hd_ = hd;
  o_.assign(static_cast<size_t>(nq) * hd, 0.0f);
  m_.assign(nq, kNegInf);
  l_.assign(nq, 0.0f);
}

void AttnAccumulator::Add(const VecOps& ops, const float* q, int64_t ldq, float scale, const KvChunk& c,
                          const int* maybe_limit) {
  if (c.n <= 0) return;
  if (s_.size() < static_cast<size_t>(nq_) * c.n) s_.resize(static_cast<size_t>(nq_) * c.n);
  float* s = s_.data();
  ops.scores(q, ldq, nq_, c.k, c.ld, c.n, hd_, scale, s, c.n);
  bool any = false;
  for (int i = 0; i < nq_; ++i) {
    float* si = s + static_cast<int64_t>(i) * c.n;
    const int lim = maybe_limit ? std::clamp(maybe_limit[i], 0, c.n) : c.n;
    float mx = kNegInf;
    for (int j = 0; j < lim; ++j) mx = std::max(mx, si[j]);
    if (lim == 0 || mx == kNegInf) {  // nothing visible in this chunk
      std::fill(si, si + c.n, 0.0f);
      continue;
    }
    any = true;
    const float new_m = std::max(m_[i], mx);
    if (new_m != m_[i] && m_[i] != kNegInf) {
      const float alpha = std::exp(m_[i] - new_m);
      ops.scale(o_.data() + static_cast<int64_t>(i) * hd_, alpha, hd_);
      l_[i] *= alpha;
    }
    m_[i] = new_m;
    l_[i] += ops.exp_shift_sum(si, lim, new_m);
    std::fill(si + lim, si + c.n, 0.0f);
  }
  if (any) ops.pv(s, c.n, nq_, c.v, c.ld, c.n, hd_, o_.data(), hd_);
}

void AttnAccumulator::Finish(float* o_out, int64_t ldo, float* maybe_lse) const {
  for (int i = 0; i < nq_; ++i) {
    float* dst = o_out + i * ldo;
    const float* src = o_.data() + static_cast<int64_t>(i) * hd_;
    if (l_[i] > 0.0f) {
      const float inv = 1.0f / l_[i];
      for (int d = 0; d < hd_; ++d) dst[d] = src[d] * inv;
      if (maybe_lse) maybe_lse[i] = m_[i] + std::log(l_[i]);
    } else {
      std::fill(dst, dst + hd_, 0.0f);
      if (maybe_lse) maybe_lse[i] = kNegInf;
    }
  }
}

void MergeStateRow(float* o_a, float* lse_a, const float* o_b, float lse_b, int hd) {
  if (lse_b == kNegInf) return;
  if (*lse_a == kNegInf) {
    std::copy(o_b, o_b + hd, o_a);
    *lse_a = lse_b;
    return;
  }
  const float mx = std::max(*lse_a, lse_b);
  const float wa = std::exp(*lse_a - mx), wb = std::exp(lse_b - mx);
  const float inv = 1.0f / (wa + wb);
  for (int d = 0; d < hd; ++d) o_a[d] = (o_a[d] * wa + o_b[d] * wb) * inv;
  *lse_a = mx + std::log(wa + wb);
}

void RunAttnTasks(const std::vector<AttnTask>& tasks, const std::vector<int32_t>& kv_heads,
                  const PagedKvF32& cache, float scale, ThreadPool* pool) {
  const VecOps& ops = ActiveVecOps();
  const PagedKvView& kv = cache.kv;
  const int hd = kv.head_dim;
  auto run = [&](int t, int nt) {
    thread_local AttnAccumulator acc;
    thread_local std::vector<float> qbuf;
    for (size_t i = t; i < tasks.size(); i += nt) {
      const AttnTask& task = tasks[i];
      // Gather the query rows (heads of one token are adjacent, tokens are not).
      qbuf.resize(static_cast<size_t>(task.nq) * hd);
      for (int r = 0; r < task.nq; ++r) std::copy(task.rows[r], task.rows[r] + hd, qbuf.data() + r * hd);
      acc.Reset(task.nq, hd);
      for (int32_t tok = task.tok_begin; tok < task.tok_end;) {
        const int32_t blk = tok / kv.block_size, slot = tok % kv.block_size;
        const int n = std::min(kv.block_size - slot, task.tok_end - tok);
        const int64_t off = PagedKvOffset(kv, task.block_ids[blk], kv_heads[i], slot);
        acc.Add(ops, qbuf.data(), hd, scale, KvChunk{cache.k_cache + off, cache.v_cache + off, hd, n}, nullptr);
        tok += n;
      }
      acc.Finish(task.o, hd, task.lse);
    }
  };
  ThreadPool::RunOrInline(pool, tasks.size(), run);
}

}  // namespace radixserve::kernels::cpu::internal

namespace radixserve::kernels::cpu::internal {

void AttnPartials::AddTask(const float* const* q_rows, const int64_t* out_rows, int nq, int32_t kv_head,
                           const int32_t* block_ids, int32_t tok_begin, int32_t tok_end) {
  specs.push_back(Spec{static_cast<int64_t>(owner.size()), nq, kv_head, block_ids, tok_begin, tok_end});
  for (int r = 0; r < nq; ++r) {
    rows.push_back(q_rows[r]);
    owner.push_back(out_rows[r]);
  }
}

void AttnPartials::Run(const PagedKvF32& cache, float scale, ThreadPool* pool, float* out_o, float* maybe_lse,
                       int64_t num_out_rows) {
  const int hd = cache.kv.head_dim;
  const int64_t slots = static_cast<int64_t>(owner.size());
  o.resize(slots * hd);
  lse.resize(slots);
  std::vector<AttnTask> tasks;
  std::vector<int32_t> kv_heads;
  tasks.reserve(specs.size());
  for (const Spec& sp : specs) {
    tasks.push_back(AttnTask{rows.data() + sp.first_slot, sp.nq, sp.block_ids, sp.tok_begin, sp.tok_end,
                             o.data() + sp.first_slot * hd, lse.data() + sp.first_slot});
    kv_heads.push_back(sp.kv_head);
  }
  RunAttnTasks(tasks, kv_heads, cache, scale, pool);
  std::vector<float> out_lse(num_out_rows, kNegInf);
  std::fill(out_o, out_o + num_out_rows * hd, 0.0f);
  for (int64_t s = 0; s < slots; ++s) {
    MergeStateRow(out_o + owner[s] * hd, &out_lse[owner[s]], o.data() + s * hd, lse[s], hd);
  }
  if (maybe_lse != nullptr) std::copy(out_lse.begin(), out_lse.end(), maybe_lse);
}

void AddPagedDecodeTasks(const PagedBatch& batch, const float* q, int32_t nqh, int32_t nkv, int32_t hd,
                         int32_t split, AttnPartials& parts) {
  const int32_t group = nqh / nkv;
  std::vector<const float*> rows(group);
  std::vector<int64_t> owners(group);
  for (int32_t s = 0; s < batch.num_seqs; ++s) {
    const int32_t kv_len = batch.kv_lens[s];
    const int32_t* blocks = batch.block_ids + batch.block_indptr[s];
    for (int32_t g = 0; g < nkv; ++g) {
      for (int r = 0; r < group; ++r) {
        owners[r] = int64_t{s} * nqh + g * group + r;
        rows[r] = q + owners[r] * hd;
      }
      for (int32_t t0 = 0; t0 < kv_len; t0 += split) {
        parts.AddTask(rows.data(), owners.data(), group, g, blocks, t0, std::min(kv_len, t0 + split));
      }
    }
  }
}

}  // namespace radixserve::kernels::cpu::internal
