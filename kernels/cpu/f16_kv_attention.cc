#include "kernels/cpu/f16_kv_attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/vec_ops.h"

namespace radixserve::kernels::cpu {
namespace {

// Query tokens x heads per work item: its score rows [rows, kv_len] and lane accumulators
// [rows, lanes, head_dim] stay in L2.
constexpr int kTileRows = 64;

// Query tokens [t0, t0 + nt) of sequence seq, query heads [h0, h0 + nh) of KV head kv_head.
struct Item {
  int32_t seq, kv_head, h0, nh, t0, nt;
};

std::vector<Item> MakeItems(const F16KvAttentionParams& p, int32_t heads_per_item) {
  const int32_t group = p.num_q_heads / p.kv.num_kv_heads;
  const int32_t tile_tokens = std::max(1, kTileRows / heads_per_item);
  std::vector<Item> items;
  for (int32_t s = 0; s < p.batch.num_seqs; ++s) {
    const int32_t q_len = p.batch.q_indptr[s + 1] - p.batch.q_indptr[s];
    for (int32_t g = 0; g < p.kv.num_kv_heads; ++g)
      for (int32_t h0 = 0; h0 < group; h0 += heads_per_item)
        for (int32_t t0 = 0; t0 < q_len; t0 += tile_tokens)
          items.push_back({s, g, h0, heads_per_item, t0, std::min(tile_tokens, q_len - t0)});
  }
  return items;
}

struct Scratch {
  std::vector<float> q, s, o, acc;
  std::vector<int32_t> limit;
  std::vector<const uint16_t*> krow, vrow;
};

// Folds lane accumulators acc[t][d] (t < lanes, d < hd) into out[d] exactly as
// vec_ops.h dot_lanes folds its lanes, element by element over d (in place: acc is
// clobbered). Written as whole-row steps so the compiler vectorizes over d.
void FoldLanes(float* acc, int lanes, int32_t hd, float* out) {
  auto row = [&](int t) { return acc + int64_t{t} * hd; };
  if (lanes == 64) {
    for (int l = 0; l < 16; ++l) {
      float* a = row(l);
      const float *b = row(l + 32), *c = row(l + 16), *e = row(l + 48);
      for (int32_t d = 0; d < hd; ++d) a[d] = (a[d] + b[d]) + (c[d] + e[d]);
    }
  }
  for (int l = 0; l < 8; ++l) {
    float* a = row(l);
    const float* b = row(l + 8);
    for (int32_t d = 0; d < hd; ++d) a[d] = b[d] + a[d];
  }
  for (int l = 0; l < 4; ++l) {
    float* a = row(l);
    const float* b = row(l + 4);
    for (int32_t d = 0; d < hd; ++d) a[d] = b[d] + a[d];
  }
  const float *a0 = row(0), *a1 = row(1), *a2 = row(2), *a3 = row(3);
  for (int32_t d = 0; d < hd; ++d) out[d] = (a0[d] + a2[d]) + (a1[d] + a3[d]);
}

int64_t RoundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// K and V of one (sequence, KV head) converted to float once for all of its prefill
// items: kp in panels of 8 keys [kv_len / 8][head_dim][8] (vec_ops.h scores16_kt); vf
// grouped by lane, [16][chunks][head_dim] with key j at (j % 16, j / 16), so that
// pv_lanes reads each lane's keys contiguously (a 16-row stride would hit one cache set).
struct ConvertedKv {
  std::vector<float> kp, vf;
  int64_t chunks = 0;
};

void ConvertKv(const F16KvAttentionParams& p, const internal::VecOps& ops, int32_t seq, int32_t g, ConvertedKv& c) {
  const int32_t hd = p.kv.head_dim, bs = p.kv.block_size, kv_len = p.batch.kv_lens[seq];
  const int32_t* blocks = p.batch.block_ids + p.batch.block_indptr[seq];
  c.kp.assign(static_cast<size_t>(hd) * RoundUp(std::max(kv_len, 1), 8), 0.0f);
  c.chunks = std::max<int64_t>(1, RoundUp(kv_len, 16) / 16);
  c.vf.resize(static_cast<size_t>(16 * c.chunks) * hd);
  thread_local std::vector<float> block, vblock;
  block.resize(static_cast<size_t>(bs) * hd);
  vblock.resize(static_cast<size_t>(bs) * hd);
  for (int32_t c0 = 0; c0 < kv_len; c0 += bs) {
    const int n = std::min(bs, kv_len - c0);
    const int64_t off = PagedKvOffset(p.kv, blocks[c0 / bs], g, 0);
    ops.half_to_float(p.k_cache + off, block.data(), int64_t{n} * hd);
    for (int j = 0; j < n; ++j) {
      const int64_t key = c0 + j;
      float* dst = c.kp.data() + key / 8 * hd * 8 + key % 8;
      for (int32_t d = 0; d < hd; ++d) dst[d * 8] = block[int64_t{j} * hd + d];
    }
    ops.half_to_float(p.v_cache + off, vblock.data(), int64_t{n} * hd);
    for (int j = 0; j < n; ++j) {
      const int64_t key = c0 + j;
      std::copy(vblock.data() + int64_t{j} * hd, vblock.data() + int64_t{j + 1} * hd,
                c.vf.data() + ((key % 16) * c.chunks + key / 16) * hd);
    }
  }
}

// conv: this item's (sequence, KV head) converted, or null (read fp16 on the fly).
void RunItem(const F16KvAttentionParams& p, const internal::VecOps& ops, const Item& it, const ConvertedKv* conv,
             Scratch& w) {
  const int32_t nqh = p.num_q_heads, group = nqh / p.kv.num_kv_heads, hd = p.kv.head_dim;
  const int32_t bs = p.kv.block_size;
  const int32_t q_begin = p.batch.q_indptr[it.seq];
  const int32_t q_len = p.batch.q_indptr[it.seq + 1] - q_begin;
  const int32_t kv_len = p.batch.kv_lens[it.seq];
  const int32_t first_pos = kv_len - q_len;
  const int nq = it.nt * it.nh;
  const int32_t keys_end = p.causal ? std::min(kv_len, first_pos + it.t0 + it.nt) : kv_len;
  // Summation order (vec_ops.h dot_lanes): a single query token is ggml_vec_dot_f16's
  // (64 lanes), several are tinyBLAS's (16 lanes), as llama.cpp evaluates one sequence.
  const int lanes = q_len == 1 ? 64 : 16;
  // Score rows padded with zeros to whole 64-key chunks (llama.cpp pads its KV view to
  // 256 cells; masked cells add exact zeros, so the padding length does not matter).
  const int64_t lds = std::max<int64_t>(RoundUp(keys_end, 64), 64);
  const int32_t* blocks = p.batch.block_ids + p.batch.block_indptr[it.seq];

  // Rows: token-major, heads inside; q rounded to fp16 as ggml converts it for K*Q.
  w.q.resize(static_cast<size_t>(nq) * hd);
  w.limit.resize(nq);
  for (int32_t tt = 0; tt < it.nt; ++tt) {
    const float* src = p.q + (int64_t{q_begin + it.t0 + tt} * nqh + it.kv_head * group + it.h0) * hd;
    ops.round_half(src, w.q.data() + int64_t{tt} * it.nh * hd, int64_t{it.nh} * hd);
    for (int32_t h = 0; h < it.nh; ++h) {
      w.limit[tt * it.nh + h] = p.causal ? std::min(kv_len, first_pos + it.t0 + tt + 1) : kv_len;
    }
  }

  // Without a converted copy: row pointers of the keys in the paged cache (each block
  // holds block_size rows of one KV head), read as fp16.
  const bool convert = conv != nullptr;
  if (!convert) {
    w.krow.resize(keys_end);
    w.vrow.resize(keys_end);
    for (int32_t j = 0; j < keys_end; ++j) {
      const int64_t off = PagedKvOffset(p.kv, blocks[j / bs], it.kv_head, j % bs);
      w.krow[j] = p.k_cache + off;
      w.vrow[j] = p.v_cache + off;
    }
  }

  // 1. Scores: from the converted panels (8 keys per vector step), or K read from fp16
  //    on the fly.
  w.s.assign(static_cast<size_t>(nq) * lds, 0.0f);
  if (convert) {
    for (int r = 0; r < nq; ++r) {
      ops.scores16_kt(w.q.data() + int64_t{r} * hd, conv->kp.data(), w.limit[r], hd, p.sm_scale,
                      w.s.data() + r * lds);
    }
  } else {
    for (int r = 0; r < nq; ++r) {
      ops.scores_lanes_half(w.q.data() + int64_t{r} * hd, w.krow.data(), w.limit[r], hd, lanes, p.sm_scale,
                            w.s.data() + r * lds);
    }
  }

  // 2. Softmax per row (ggml's: exp, sums of 16 in double), normalized, then the
  //    probabilities rounded to fp16; masked keys hold exact zeros.
  for (int r = 0; r < nq; ++r) {
    float* sr = w.s.data() + r * lds;
    const int32_t lim = w.limit[r];
    std::fill(sr + std::max(lim, 0), sr + lds, 0.0f);
    if (lim <= 0) continue;
    const float mx = *std::max_element(sr, sr + lim);
    ops.exp_shift_sum(sr, lim, mx);
    const float inv = static_cast<float>(1.0 / ops.chunk16_sum(sr, lim));
    ops.scale(sr, inv, lim);
    ops.round_half(sr, sr, lim);
  }

  // 3. o = P V in dot_lanes' order without transposing V: key j's row is added (FMA,
  //    vectorized over head_dim) into lane accumulator j mod lanes of each row, and the
  //    lanes fold at the end. Masked keys (p = 0) would add exact zeros: skipped.
  w.acc.assign(static_cast<size_t>(nq) * lanes * hd, 0.0f);
  for (int r = 0; r < nq;) {
    float* acc = w.acc.data() + int64_t{r} * lanes * hd;
    if (convert) {  // the heads of one token see the same keys: together
      int rows = 1;
      while (r + rows < nq && w.limit[r + rows] == w.limit[r]) ++rows;
      ops.pv_lanes(w.s.data() + r * lds, lds, rows, conv->vf.data(), conv->chunks * hd, hd, std::max(w.limit[r], 0),
                   hd, lanes, acc, int64_t{lanes} * hd);
      r += rows;
    } else {
      ops.pv_lanes_half(w.s.data() + r * lds, w.vrow.data(), std::max(w.limit[r], 0), hd, lanes, acc);
      ++r;
    }
  }
  w.o.resize(static_cast<size_t>(nq) * hd);
  for (int r = 0; r < nq; ++r) FoldLanes(w.acc.data() + int64_t{r} * lanes * hd, lanes, hd, w.o.data() + int64_t{r} * hd);
  for (int32_t tt = 0; tt < it.nt; ++tt) {
    float* dst = p.o + (int64_t{q_begin + it.t0 + tt} * nqh + it.kv_head * group + it.h0) * hd;
    std::copy(w.o.data() + int64_t{tt} * it.nh * hd, w.o.data() + int64_t{tt + 1} * it.nh * hd, dst);
  }
}

// Keys times query rows of an item: its share of the attention work.
int64_t ItemCost(const F16KvAttentionParams& p, const Item& it) {
  const int32_t q_len = p.batch.q_indptr[it.seq + 1] - p.batch.q_indptr[it.seq];
  const int32_t kv_len = p.batch.kv_lens[it.seq];
  const int32_t keys = p.causal ? std::min(kv_len, kv_len - q_len + it.t0 + it.nt) : kv_len;
  return int64_t{keys} * it.nt * it.nh;
}

// fn(i, n) for each i in [0, n), one chunk per item, on the pool (or inline).
template <typename Fn>
void RunEach(ThreadPool* pool, int n, Fn&& fn) {
  if (pool == nullptr || n <= 1) {
    for (int i = 0; i < n; ++i) fn(i, n);
  } else {
    pool->RunChunks(n, fn);
  }
}

}  // namespace

absl::Status F16KvAttention(const F16KvAttentionParams& p, ThreadPool* pool) {
  if (p.kv.num_kv_heads <= 0 || p.num_q_heads <= 0 || p.num_q_heads % p.kv.num_kv_heads != 0 ||
      p.kv.head_dim <= 0 || p.kv.block_size <= 0) {
    return absl::InvalidArgumentError("num_q_heads must be a positive multiple of num_kv_heads");
  }
  const int32_t group = p.num_q_heads / p.kv.num_kv_heads;
  std::vector<Item> items = MakeItems(p, group);
  // Few items (small-batch decode): one query head per item, so every thread has work.
  const int threads = pool != nullptr ? pool->num_threads() : 1;
  if (group > 1 && static_cast<int>(items.size()) < 4 * threads) items = MakeItems(p, 1);

  const internal::VecOps& ops = internal::ActiveVecOps();
  // Prefill sequences (several query tokens, tinyBLAS's order) with more than one item
  // per KV head get their K/V converted once, in parallel, before the items run.
  const int32_t nkv = p.kv.num_kv_heads;
  std::vector<ConvertedKv> converted;
  std::vector<int32_t> to_convert;  // seq * nkv + g
  for (int32_t s = 0; s < p.batch.num_seqs; ++s) {
    if (p.batch.q_indptr[s + 1] - p.batch.q_indptr[s] > 1) {
      for (int32_t g = 0; g < nkv; ++g) to_convert.push_back(s * nkv + g);
    }
  }
  std::vector<int32_t> conv_index;
  if (!to_convert.empty()) {
    converted.resize(to_convert.size());
    conv_index.assign(static_cast<size_t>(p.batch.num_seqs) * nkv, -1);
    for (size_t i = 0; i < to_convert.size(); ++i) conv_index[to_convert[i]] = static_cast<int32_t>(i);
    auto convert = [&](int i, int /*n*/) { ConvertKv(p, ops, to_convert[i] / nkv, to_convert[i] % nkv, converted[i]); };
    RunEach(pool, static_cast<int>(to_convert.size()), convert);
  }
  // Causal prefill items differ in cost (a later tile sees more keys): the costliest
  // first, each item taken by whichever thread is free (a thread slowed by another
  // process no longer holds up a fixed share of the items).
  std::stable_sort(items.begin(), items.end(), [&](const Item& a, const Item& b) { return ItemCost(p, a) > ItemCost(p, b); });
  auto run = [&](int i, int /*n*/) {
    thread_local Scratch scratch;
    const Item& it = items[i];
    const int32_t ci = conv_index.empty() ? -1 : conv_index[it.seq * nkv + it.kv_head];
    RunItem(p, ops, it, ci >= 0 ? &converted[ci] : nullptr, scratch);
  };
  RunEach(pool, static_cast<int>(items.size()), run);
  return absl::OkStatus();
}

}  // namespace radixserve::kernels::cpu
