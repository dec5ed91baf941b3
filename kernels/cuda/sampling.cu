#include "kernels/cuda/sampling.cuh"

#include <cfloat>

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

// grid: [batch]; block: kThreads. Each pass re-reads the row (L2-resident for real vocabs).
__global__ void __launch_bounds__(kThreads) SampleKernel(const __grid_constant__ SamplingParams prm) {
  __shared__ SampleShared sh;
  const int row = blockIdx.x;
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
