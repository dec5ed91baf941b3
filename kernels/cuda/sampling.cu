#include "kernels/cuda/sampling.cuh"

#include <cfloat>
#include <cstdint>

#include "kernels/cuda/type_utils.cuh"

namespace radixserve::kernels::cuda {
namespace {

constexpr int kThreads = 1024;
constexpr int kPivots = 15;  // a 16-way search: 8 passes cover the 2^30 bit patterns of [0, 1]
constexpr uint32_t kOneBits = 0x3F800000u;

struct SampleShared {
  float scratch[32];
  float pivot_acc[kPivots][32];
  float thread_sums[kThreads];
  int32_t idx_scratch[32];
  float bcast_f;
  int32_t bcast_i;
};

__device__ __forceinline__ float BitsToFloat(uint32_t b) { return __uint_as_float(b); }

// Finds the largest bit pattern b in [lo, hi) with Pred(b) true, where Pred is monotone
// (true below a boundary, false above) and true at lo. measure(t) sums, over the row,
// the per-element contribution for threshold t; Pred(b) = measure(BitsToFloat(b)) >= goal.
template <typename Contribution>
__device__ uint32_t SearchBoundary(const float* p, int vocab, float goal, uint32_t lo, uint32_t hi,
                                   Contribution contribution, SampleShared& sh) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  while (hi - lo > 1) {
    uint32_t pivots[kPivots];
#pragma unroll
    for (int j = 0; j < kPivots; ++j) {
      pivots[j] = lo + static_cast<uint32_t>((static_cast<uint64_t>(hi - lo) * (j + 1)) / (kPivots + 1));
    }
    float acc[kPivots];
#pragma unroll
    for (int j = 0; j < kPivots; ++j) acc[j] = 0.0f;
    for (int i = threadIdx.x; i < vocab; i += kThreads) {
      const float v = p[i];
#pragma unroll
      for (int j = 0; j < kPivots; ++j) acc[j] += contribution(v, BitsToFloat(pivots[j]));
    }
#pragma unroll
    for (int j = 0; j < kPivots; ++j) {
      const float s = WarpSum(acc[j]);
      if (lane == 0) sh.pivot_acc[j][warp] = s;
    }
    __syncthreads();
    if (warp == 0) {
      uint32_t new_lo = lo, new_hi = hi;
      for (int j = 0; j < kPivots; ++j) {
        const float s = WarpSum(sh.pivot_acc[j][lane]);
        if (s >= goal) {
          new_lo = pivots[j];
        } else if (new_hi == hi) {
          new_hi = pivots[j];
        }
      }
      if (lane == 0) {
        sh.bcast_i = static_cast<int32_t>(new_lo);
        sh.bcast_f = __uint_as_float(new_hi);
      }
    }
    __syncthreads();
    const uint32_t nl = static_cast<uint32_t>(sh.bcast_i), nh = __float_as_uint(sh.bcast_f);
    __syncthreads();
    lo = nl;
    hi = nh;
  }
  return lo;
}

// The general path (any top-k, top-p without top-k, min-p, greedy): softmax into the
// workspace row, then each threshold by a 16-way search over the float bit patterns; every
// pass re-reads the row (L2-resident for real vocabs). Called by the whole block.
__device__ void SampleRowBySearch(const SamplingParams& prm, int row, SampleShared& sh) {
  const int vocab = prm.vocab;
  const int64_t stride = prm.logits_stride > 0 ? prm.logits_stride : vocab;
  const float* logits = prm.logits + row * stride;
  float* p = static_cast<float*>(prm.workspace) + static_cast<int64_t>(row) * vocab;
  float* probs_out = prm.maybe_probs ? prm.maybe_probs + static_cast<int64_t>(row) * vocab : nullptr;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;

  // Max and argmax (lowest index among equal maxima).
  float best = -INFINITY;
  int32_t best_idx = INT32_MAX;
  for (int i = threadIdx.x; i < vocab; i += kThreads) {
    const float v = logits[i];
    if (v > best) { best = v; best_idx = i; }
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, best, o);
    const int32_t oi = __shfl_xor_sync(0xffffffffu, best_idx, o);
    if (ov > best || (ov == best && oi < best_idx)) { best = ov; best_idx = oi; }
  }
  if (lane == 0) { sh.scratch[warp] = best; sh.idx_scratch[warp] = best_idx; }
  __syncthreads();
  if (warp == 0) {
    best = sh.scratch[lane];
    best_idx = sh.idx_scratch[lane];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_xor_sync(0xffffffffu, best, o);
      const int32_t oi = __shfl_xor_sync(0xffffffffu, best_idx, o);
      if (ov > best || (ov == best && oi < best_idx)) { best = ov; best_idx = oi; }
    }
    if (lane == 0) { sh.bcast_f = best; sh.bcast_i = best_idx; }
  }
  __syncthreads();
  const float max_logit = sh.bcast_f;
  const int32_t argmax = sh.bcast_i;
  __syncthreads();

  const float temperature = prm.temperature[row];
  const int32_t top_k = prm.maybe_top_k ? prm.maybe_top_k[row] : 0;
  if (!(temperature > 0.0f) || top_k == 1) {
    if (threadIdx.x == 0) prm.out_tokens[row] = argmax;
    if (probs_out) {
      for (int i = threadIdx.x; i < vocab; i += kThreads) probs_out[i] = i == argmax ? 1.0f : 0.0f;
    }
    return;
  }

  // Softmax numerators; z = their sum, so p_i = e_i / z and max(p) = 1 / z.
  const float inv_t = 1.0f / temperature;
  float local = 0.0f;
  for (int i = threadIdx.x; i < vocab; i += kThreads) {
    const float e = expf((logits[i] - max_logit) * inv_t);
    local += e;
    p[i] = e;
  }
  const float z = BlockSum(local, sh.scratch);
  const float inv_z = 1.0f / z;
  for (int i = threadIdx.x; i < vocab; i += kThreads) p[i] *= inv_z;
  __syncthreads();
  float p_max = 0.0f;
  {
    float pm = 0.0f;
    for (int i = threadIdx.x; i < vocab; i += kThreads) pm = fmaxf(pm, p[i]);
    p_max = BlockMax(pm, sh.scratch);
  }

  // Every kept token has p >= threshold_lo; top-p adds a strict lower bound.
  float keep_min = 0.0f;  // keep p >= keep_min
  if (top_k > 0 && top_k < vocab) {
    const float goal = static_cast<float>(top_k);
    const uint32_t b = SearchBoundary(
        p, vocab, goal, 0u, kOneBits + 1,
        [](float v, float t) { return v >= t ? 1.0f : 0.0f; }, sh);
    keep_min = BitsToFloat(b);
  }
  const float top_p = prm.maybe_top_p ? prm.maybe_top_p[row] : 1.0f;
  if (top_p < 1.0f) {
    // Mass of the top-k survivors.
    local = 0.0f;
    for (int i = threadIdx.x; i < vocab; i += kThreads) local += p[i] >= keep_min ? p[i] : 0.0f;
    const float zk = BlockSum(local, sh.scratch);
    const float goal = fmaxf(top_p, 0.0f) * zk;
    const float km = keep_min;
    // Largest b whose strictly-greater surviving mass is still >= goal; tokens above it stay.
    const uint32_t b = SearchBoundary(
        p, vocab, goal, 0u, kOneBits + 1,
        [km](float v, float t) { return (v >= km && v > t) ? v : 0.0f; }, sh);
    // Keep p > BitsToFloat(b), i.e. p >= the next float up.
    keep_min = fmaxf(keep_min, BitsToFloat(b + 1));
  }
  const float min_p = prm.maybe_min_p ? prm.maybe_min_p[row] : 0.0f;
  if (min_p > 0.0f) keep_min = fmaxf(keep_min, min_p * p_max);
  keep_min = fminf(keep_min, p_max);  // the most likely token always survives

  // Inclusive scan over contiguous chunks per thread, then the crossing thread walks its chunk.
  const int chunk = (vocab + kThreads - 1) / kThreads;
  const int begin = threadIdx.x * chunk;
  const int end = min(begin + chunk, vocab);
  float my_sum = 0.0f;
  int32_t my_last = -1;
  for (int i = begin; i < end; ++i) {
    if (p[i] >= keep_min) { my_sum += p[i]; my_last = i; }
  }
  sh.thread_sums[threadIdx.x] = my_sum;
  // Largest kept index (rounding fallback).
  int32_t last = my_last;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) last = max(last, __shfl_xor_sync(0xffffffffu, last, o));
  if (lane == 0) sh.idx_scratch[warp] = last;
  __syncthreads();
  // Warp-level then block-level exclusive scan of thread_sums (in index order).
  float incl = my_sum;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const float n = __shfl_up_sync(0xffffffffu, incl, o);
    if (lane >= o) incl += n;
  }
  if (lane == 31) sh.scratch[warp] = incl;
  __syncthreads();
  if (warp == 0) {
    float w = sh.scratch[lane];
    int32_t l = sh.idx_scratch[lane];
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
      const float n = __shfl_up_sync(0xffffffffu, w, o);
      if (lane >= o) w += n;
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) l = max(l, __shfl_xor_sync(0xffffffffu, l, o));
    const float total = __shfl_sync(0xffffffffu, w, 31);
    sh.scratch[lane] = w;  // inclusive warp totals
    if (lane == 0) { sh.bcast_i = l; sh.bcast_f = total; }
  }
  __syncthreads();
  const float kept_mass = sh.bcast_f;
  const int32_t last_kept = sh.bcast_i;
  const float prefix = (warp > 0 ? sh.scratch[warp - 1] : 0.0f) + incl - my_sum;  // exclusive
  const float target = SampleUniform(prm.seeds[row], prm.offsets[row]) * kept_mass;
  if (threadIdx.x == 0) prm.out_tokens[row] = last_kept;
  __syncthreads();
  if (prefix <= target && prefix + my_sum > target) {
    float run = prefix;
    for (int i = begin; i < end; ++i) {
      if (p[i] >= keep_min) {
        run += p[i];
        if (run > target) { prm.out_tokens[row] = i; break; }
      }
    }
  }
  if (probs_out) {
    const float inv_kept = 1.0f / kept_mass;
    for (int i = threadIdx.x; i < vocab; i += kThreads) probs_out[i] = p[i] >= keep_min ? p[i] * inv_kept : 0.0f;
  }
}

// ---------------------------------------------------------------------------------------
// Top-k path (1 < top_k <= kMaxFastK < vocab, temperature > 0): the kept tokens are among
// a small candidate set found in two reads of the logits row, and every threshold is
// then exact arithmetic on those candidates in shared memory.
//
//  1. One read: per thread (a strided subset of the row) its max logit, the lowest index
//     at it, and the softmax sum relative to its max (online rescaling); then the row's
//     max, argmax and z = sum_i exp((l_i - max) / T).
//  2. The k-th largest of the 1024 per-thread maxima, Lk: at least k logits are >= Lk, so
//     the k-th largest p is >= p(Lk). Candidates are the tokens with
//     e = exp((l - max) / T) >= exp((Lk - max) / T) * (1 - 2^-20); the margin (8 ulp)
//     absorbs expf's and the p rounding's non-monotonicity, so every token with p >= the
//     k-th largest p is a candidate. Typically about k + a few (for k = 50 of 128,256
//     random logits, ~55). More than kMaxCandidates: the general path.
//  3. Candidates sorted by p (descending, then index): the k-th largest p, the top-p
//     threshold from their prefix masses, min-p; the kept ones re-sorted by index, scanned,
//     and the inverse-CDF draw made on the scan.
// p_i = e_i * (1 / z) with e_i as above, as in the general path; z is summed in another
// order than there (float rounding only).
constexpr int kMaxFastK = 1024;
constexpr int kMaxCandidates = 2048;

struct FastShared {
  // Sort keys: first the per-thread maxima, then candidates (p bits << 32 | ~index), then
  // the kept candidates (~index << 32 | p bits).
  uint64_t keys[kMaxCandidates];
  float scan[kMaxCandidates];
  float red_f[32];
  float red_z[32];
  int32_t red_i[32];
  int32_t count;
  float bcast[4];
  int32_t bcast_i[2];
};

__device__ __forceinline__ uint32_t OrderedBits(float f) {
  const uint32_t u = __float_as_uint(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ float FromOrderedBits(uint32_t k) {
  return __uint_as_float((k & 0x80000000u) ? (k & 0x7FFFFFFFu) : ~k);
}

// Sorts a[0, n) descending; n a power of two <= 2 * kThreads. Called by the whole block.
__device__ void BitonicSortDesc(uint64_t* a, int n) {
  for (int size = 2; size <= n; size <<= 1) {
    for (int stride = size >> 1; stride > 0; stride >>= 1) {
      __syncthreads();
      for (int i = threadIdx.x; i < n / 2; i += kThreads) {
        const int lo = 2 * i - (i & (stride - 1));
        const int hi = lo + stride;
        const bool desc = (lo & size) == 0;
        const uint64_t x = a[lo], y = a[hi];
        if ((x < y) == desc) {
          a[lo] = y;
          a[hi] = x;
        }
      }
    }
  }
  __syncthreads();
}

__device__ __forceinline__ int NextPow2(int n) {
  int r = 2;
  while (r < n) r <<= 1;
  return r;
}

// In-place inclusive scan of a[0, n), n <= 2 * kThreads, in index order (a fixed tree, so
// the float result is deterministic). Called by the whole block.
__device__ void BlockInclusiveScan(float* a, int n, float* warp_totals) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int i0 = 2 * threadIdx.x;
  const float v0 = i0 < n ? a[i0] : 0.0f;
  const float v1 = i0 + 1 < n ? a[i0 + 1] : 0.0f;
  const float mine = v0 + v1;
  float incl = mine;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const float y = __shfl_up_sync(0xffffffffu, incl, o);
    if (lane >= o) incl += y;
  }
  __syncthreads();
  if (lane == 31) warp_totals[warp] = incl;
  __syncthreads();
  if (warp == 0) {
    float w = warp_totals[lane];
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
      const float y = __shfl_up_sync(0xffffffffu, w, o);
      if (lane >= o) w += y;
    }
    warp_totals[lane] = w;
  }
  __syncthreads();
  const float before = (warp > 0 ? warp_totals[warp - 1] : 0.0f) + incl - mine;
  if (i0 < n) a[i0] = before + v0;
  if (i0 + 1 < n) a[i0 + 1] = before + v0 + v1;
  __syncthreads();
}

// Runs fn(index, logit) over the row, each thread on its own strided subset, in increasing
// index order per thread; 16-byte loads when the row allows.
template <typename Fn>
__device__ __forceinline__ void ForEachLogit(const float* logits, int vocab, Fn fn) {
  if ((reinterpret_cast<uintptr_t>(logits) & 15u) == 0) {
    const int n4 = vocab / 4;
    const float4* l4 = reinterpret_cast<const float4*>(logits);
#pragma unroll 4
    for (int i = threadIdx.x; i < n4; i += kThreads) {
      const float4 v = __ldg(l4 + i);
      fn(4 * i, v.x);
      fn(4 * i + 1, v.y);
      fn(4 * i + 2, v.z);
      fn(4 * i + 3, v.w);
    }
    for (int i = 4 * n4 + threadIdx.x; i < vocab; i += kThreads) fn(i, __ldg(logits + i));
  } else {
#pragma unroll 4
    for (int i = threadIdx.x; i < vocab; i += kThreads) fn(i, __ldg(logits + i));
  }
}

// Warp-wide max of (v, i), the smaller index on ties; every lane gets the result.
__device__ __forceinline__ void WarpArgMax(float& v, int32_t& i) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, v, o);
    const int32_t oi = __shfl_xor_sync(0xffffffffu, i, o);
    if (ov > v || (ov == v && oi < i)) {
      v = ov;
      i = oi;
    }
  }
}

// Returns false (nothing written) when the candidates overflow: the caller then takes the
// general path. Called by the whole block.
__device__ bool SampleRowTopK(const SamplingParams& prm, int row, int top_k, float temperature, FastShared& fs) {
  const int vocab = prm.vocab;
  const int64_t stride = prm.logits_stride > 0 ? prm.logits_stride : vocab;
  const float* logits = prm.logits + row * stride;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const float inv_t = 1.0f / temperature;

  // 1. Per-thread max, argmax and online softmax sum.
  float m_t = -INFINITY, z_t = 0.0f;
  int32_t i_t = INT32_MAX;
  ForEachLogit(logits, vocab, [&](int i, float l) {
    if (l > m_t) {
      z_t = z_t * expf((m_t - l) * inv_t) + 1.0f;
      m_t = l;
      i_t = i;
    } else if (l != -INFINITY) {
      z_t += expf((l - m_t) * inv_t);
    }
  });
  fs.keys[threadIdx.x] = (static_cast<uint64_t>(OrderedBits(m_t)) << 32) | static_cast<uint32_t>(~threadIdx.x);
  float best = m_t;
  int32_t best_idx = i_t;
  WarpArgMax(best, best_idx);
  if (lane == 0) {
    fs.red_f[warp] = best;
    fs.red_i[warp] = best_idx;
  }
  if (threadIdx.x == 0) fs.count = 0;
  __syncthreads();
  best = fs.red_f[lane];
  best_idx = fs.red_i[lane];
  WarpArgMax(best, best_idx);
  const float max_logit = best;
  float zt = m_t == -INFINITY ? 0.0f : z_t * expf((m_t - max_logit) * inv_t);
  zt = WarpSum(zt);
  if (lane == 0) fs.red_z[warp] = zt;
  BitonicSortDesc(fs.keys, kThreads);  // begins and ends with __syncthreads
  const float z = WarpSum(fs.red_z[lane]);
  const float inv_z = 1.0f / z;
  const float lk = FromOrderedBits(static_cast<uint32_t>(fs.keys[top_k - 1] >> 32));
  const float e_min = expf((lk - max_logit) * inv_t) * (1.0f - 0x1p-20f);
  __syncthreads();  // every thread has read keys[top_k - 1]

  // 2. Candidates.
  ForEachLogit(logits, vocab, [&](int i, float l) {
    const float e = expf((l - max_logit) * inv_t);
    if (e >= e_min) {
      const int slot = atomicAdd(&fs.count, 1);
      if (slot < kMaxCandidates) {
        fs.keys[slot] = (static_cast<uint64_t>(__float_as_uint(e * inv_z)) << 32) | static_cast<uint32_t>(~i);
      }
    }
  });
  __syncthreads();
  const int n_c = fs.count;
  if (n_c > kMaxCandidates || n_c < top_k) return false;  // block-uniform
  const int n_pad = NextPow2(n_c);
  for (int j = n_c + threadIdx.x; j < n_pad; j += kThreads) fs.keys[j] = 0;  // p = 0 sorts last
  BitonicSortDesc(fs.keys, n_pad);

  auto p_at = [&](int j) { return __uint_as_float(static_cast<uint32_t>(fs.keys[j] >> 32)); };
  const float p_max = inv_z;  // e = 1 at the max
  float keep_min = p_at(top_k - 1);  // the k-th largest p
  const float top_p = prm.maybe_top_p ? prm.maybe_top_p[row] : 1.0f;
  if (top_p < 1.0f) {
    // Survivors of top-k: the sorted prefix with p >= keep_min; their prefix masses.
    int n_s = 0;
    for (int j = threadIdx.x; j < n_c; j += kThreads) n_s += p_at(j) >= keep_min ? 1 : 0;
    const int survivors = static_cast<int>(BlockSum(static_cast<float>(n_s), fs.red_f));
    for (int j = threadIdx.x; j < survivors; j += kThreads) fs.scan[j] = p_at(j);
    __syncthreads();
    BlockInclusiveScan(fs.scan, survivors, fs.red_f);
    const float goal = fmaxf(top_p, 0.0f) * fs.scan[survivors - 1];
    // Mass strictly greater than p_j: the exclusive prefix at the first position of p_j's
    // run of ties. Kept iff < goal; kept positions form a prefix, so the threshold is the
    // smallest kept p (none kept: +inf, clamped to p_max below).
    int last_kept = -1;
    for (int j = threadIdx.x; j < survivors; j += kThreads) {
      const float pj = p_at(j);
      int a = j;
      while (a > 0 && p_at(a - 1) == pj) --a;
      const float greater = a > 0 ? fs.scan[a - 1] : 0.0f;
      if (greater < goal) last_kept = max(last_kept, j);
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) last_kept = max(last_kept, __shfl_xor_sync(0xffffffffu, last_kept, o));
    __syncthreads();
    if (lane == 0) fs.red_i[warp] = last_kept;
    __syncthreads();
    last_kept = fs.red_i[lane];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) last_kept = max(last_kept, __shfl_xor_sync(0xffffffffu, last_kept, o));
    keep_min = fmaxf(keep_min, last_kept >= 0 ? p_at(last_kept) : INFINITY);
  }
  const float min_p = prm.maybe_min_p ? prm.maybe_min_p[row] : 0.0f;
  if (min_p > 0.0f) keep_min = fmaxf(keep_min, min_p * p_max);
  keep_min = fminf(keep_min, p_max);  // the most likely token always survives

  // 3. The kept candidates (a sorted prefix), re-keyed by index, scanned in index order.
  int n_k = 0;
  for (int j = threadIdx.x; j < n_c; j += kThreads) n_k += p_at(j) >= keep_min ? 1 : 0;
  const int n_keep = static_cast<int>(BlockSum(static_cast<float>(n_k), fs.red_f));
  const int n_keep_pad = NextPow2(n_keep);
  for (int j = threadIdx.x; j < n_keep_pad; j += kThreads) {
    const uint64_t k = fs.keys[j];
    fs.keys[j] = j < n_keep ? ((k << 32) | (k >> 32)) : 0;  // (~index << 32) | p bits
  }
  BitonicSortDesc(fs.keys, n_keep_pad);
  for (int j = threadIdx.x; j < n_keep; j += kThreads) fs.scan[j] = __uint_as_float(static_cast<uint32_t>(fs.keys[j]));
  __syncthreads();
  BlockInclusiveScan(fs.scan, n_keep, fs.red_f);
  const float kept_mass = fs.scan[n_keep - 1];
  const float target = SampleUniform(prm.seeds[row], prm.offsets[row]) * kept_mass;
  auto index_at = [&](int j) { return static_cast<int32_t>(~static_cast<uint32_t>(fs.keys[j] >> 32)); };
  if (threadIdx.x == 0) fs.bcast_i[0] = index_at(n_keep - 1);  // rounding fallback: the last kept
  __syncthreads();
  for (int j = threadIdx.x; j < n_keep; j += kThreads) {
    if (fs.scan[j] > target && (j == 0 || fs.scan[j - 1] <= target)) fs.bcast_i[0] = index_at(j);
  }
  __syncthreads();
  if (threadIdx.x == 0) prm.out_tokens[row] = fs.bcast_i[0];
  if (prm.maybe_probs) {
    float* probs_out = prm.maybe_probs + static_cast<int64_t>(row) * vocab;
    const float inv_kept = 1.0f / kept_mass;
    ForEachLogit(logits, vocab, [&](int i, float l) {
      const float pi = expf((l - max_logit) * inv_t) * inv_z;
      probs_out[i] = pi >= keep_min ? pi * inv_kept : 0.0f;
    });
  }
  return true;
}

// grid: [batch]; block: kThreads, one row each.
__global__ void __launch_bounds__(kThreads) SampleKernel(const __grid_constant__ SamplingParams prm) {
  __shared__ SampleShared sh;
  __shared__ FastShared fs;
  const int row = blockIdx.x;
  const float temperature = prm.temperature[row];
  const int32_t top_k = prm.maybe_top_k ? prm.maybe_top_k[row] : 0;
  const bool fast = temperature > 0.0f && top_k > 1 && top_k <= kMaxFastK && top_k < prm.vocab;
  if (fast && SampleRowTopK(prm, row, top_k, temperature, fs)) return;
  __syncthreads();
  SampleRowBySearch(prm, row, sh);
}

}  // namespace

KernelStatus Sample(const SamplingParams& prm, cudaStream_t stream) {
  KERNEL_CHECK_ARG(prm.logits && prm.temperature && prm.seeds && prm.offsets && prm.out_tokens,
                   "sample: null pointer");
  KERNEL_CHECK_ARG(prm.vocab > 0, "sample: empty vocab");
  KERNEL_CHECK_ARG(prm.workspace != nullptr && prm.workspace_bytes >= SamplingWorkspaceBytes(prm.batch, prm.vocab),
                   "sample: workspace too small");
  if (prm.batch == 0) return KernelStatus::Ok();
  SampleKernel<<<prm.batch, kThreads, 0, stream>>>(prm);
  CUDA_RETURN_IF_LAUNCH_ERROR();
  return KernelStatus::Ok();
}

}  // namespace radixserve::kernels::cuda
