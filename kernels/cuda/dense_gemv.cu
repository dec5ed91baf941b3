#include "kernels/cuda/dense_gemv.cuh"

#include <cuda_bf16.h>

#include "kernels/cuda/type_utils.cuh"

namespace radixserve::kernels::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kVecElems = 8;  // bf16 per 16-byte load

// Weights are read once per step: bypass L1 so it keeps the activations, which every
// warp of the SM re-reads.
__device__ __forceinline__ uint4 LoadWeights(const uint16_t* p) {
  uint4 r;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
      : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
      : "l"(p));
  return r;
}

__device__ __forceinline__ float Lo(uint32_t u) { return __uint_as_float(u << 16); }
__device__ __forceinline__ float Hi(uint32_t u) { return __uint_as_float(u & 0xffff0000u); }
__device__ __forceinline__ float Bf16Bits(uint16_t u) { return __uint_as_float(static_cast<uint32_t>(u) << 16); }
__device__ __forceinline__ float RoundBf16(float v) { return __bfloat162float(__float2bfloat16_rn(v)); }

__device__ __forceinline__ float Dot8(const uint4& w, const uint4& x, float acc) {
  acc = fmaf(Lo(w.x), Lo(x.x), acc);
  acc = fmaf(Hi(w.x), Hi(x.x), acc);
  acc = fmaf(Lo(w.y), Lo(x.y), acc);
  acc = fmaf(Hi(w.y), Hi(x.y), acc);
  acc = fmaf(Lo(w.z), Lo(x.z), acc);
  acc = fmaf(Hi(w.z), Hi(x.z), acc);
  acc = fmaf(Lo(w.w), Lo(x.w), acc);
  acc = fmaf(Hi(w.w), Hi(x.w), acc);
  return acc;
}

// bf16(x * inv_rms * g) for one 16-byte vector, as RmsNormKernel rounds it.
__device__ __forceinline__ uint32_t NormPair(uint32_t x, uint32_t g, float inv_rms) {
  const float lo = RoundBf16(Lo(x) * inv_rms * Lo(g)), hi = RoundBf16(Hi(x) * inv_rms * Hi(g));
  return (__float_as_uint(lo) >> 16) | (__float_as_uint(hi) & 0xffff0000u);
}
__device__ __forceinline__ uint4 NormVec(const uint4& x, const uint4& g, float inv_rms) {
  return make_uint4(NormPair(x.x, g.x, inv_rms), NormPair(x.y, g.y, inv_rms), NormPair(x.z, g.z, inv_rms),
                    NormPair(x.w, g.w, inv_rms));
}

__device__ __forceinline__ float SumSquares8(const uint4& x) {
  float s = 0.0f;
  const uint32_t words[4] = {x.x, x.y, x.z, x.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    s = fmaf(Lo(words[i]), Lo(words[i]), s);
    s = fmaf(Hi(words[i]), Hi(words[i]), s);
  }
  return s;
}

// grid: [ceil(n / kRows)]; block: kWarps warps. The CTA owns kRows weight rows; its warps
// split k (warp w, lane l reads the 16-byte vectors (s * kWarps + w) * 32 + l of every
// row, s = 0, 1, ...), so a CTA streams kRows whole rows with kRows loads in flight per
// lane whatever n is, then the partial dot products meet in shared memory.
template <int kM, int kRows, bool kOutF32>
__global__ void __launch_bounds__(kWarps * 32) DenseGemvKernel(const __grid_constant__ DenseGemvParams p) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int row0 = blockIdx.x * kRows;
  const int vecs = p.k / kVecElems;
  const uint16_t* rows[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) rows[r] = p.w + static_cast<int64_t>(min(row0 + r, p.n - 1)) * p.k;

  __shared__ float scratch[32];
  float inv_rms[kM];
  if (p.maybe_norm_weight != nullptr) {
#pragma unroll
    for (int m = 0; m < kM; ++m) {
      float s = 0.0f;
      for (int v = threadIdx.x; v < vecs; v += blockDim.x) {
        s += SumSquares8(__ldg(reinterpret_cast<const uint4*>(p.x + static_cast<int64_t>(m) * p.k) + v));
      }
      s = BlockSum(s, scratch);
      inv_rms[m] = rsqrtf(s / static_cast<float>(p.k) + p.norm_eps);
    }
  }

  float acc[kRows][kM];
#pragma unroll
  for (int r = 0; r < kRows; ++r)
#pragma unroll
    for (int m = 0; m < kM; ++m) acc[r][m] = 0.0f;

#pragma unroll 2
  for (int v = warp * 32 + lane; v < vecs; v += kWarps * 32) {
    uint4 w[kRows];
#pragma unroll
    for (int r = 0; r < kRows; ++r) w[r] = LoadWeights(rows[r] + v * kVecElems);
    uint4 g = make_uint4(0, 0, 0, 0);
    if (p.maybe_norm_weight != nullptr) g = __ldg(reinterpret_cast<const uint4*>(p.maybe_norm_weight) + v);
#pragma unroll
    for (int m = 0; m < kM; ++m) {
      uint4 x = __ldg(reinterpret_cast<const uint4*>(p.x + static_cast<int64_t>(m) * p.k) + v);
      if (p.maybe_norm_weight != nullptr) x = NormVec(x, g, inv_rms[m]);
#pragma unroll
      for (int r = 0; r < kRows; ++r) acc[r][m] = Dot8(w[r], x, acc[r][m]);
    }
  }

  __shared__ float partial[kWarps][kRows * kM];
#pragma unroll
  for (int r = 0; r < kRows; ++r)
#pragma unroll
    for (int m = 0; m < kM; ++m) {
      const float s = WarpSum(acc[r][m]);
      if (lane == 0) partial[warp][r * kM + m] = s;
    }
  __syncthreads();
  for (int i = threadIdx.x; i < kRows * kM; i += blockDim.x) {
    const int r = i / kM, m = i % kM;
    const int row = row0 + r;
    if (row >= p.n) continue;
    float s = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) s += partial[w][i];
    if (p.maybe_bias != nullptr) s += Bf16Bits(p.maybe_bias[row]);
    const int64_t at = static_cast<int64_t>(m) * p.n + row;
    if constexpr (kOutF32) {
      static_cast<float*>(p.y)[at] = s;
    } else {
      if (p.maybe_residual != nullptr) s = Bf16Bits(p.maybe_residual[at]) + RoundBf16(s);
      static_cast<__nv_bfloat16*>(p.y)[at] = __float2bfloat16_rn(s);
    }
  }
}

template <int kM, int kRows, bool kOutF32>
KernelStatus LaunchKernel(const DenseGemvParams& p, cudaStream_t stream) {
  DenseGemvKernel<kM, kRows, kOutF32><<<(p.n + kRows - 1) / kRows, kWarps * 32, 0, stream>>>(p);
  CUDA_RETURN_IF_LAUNCH_ERROR();
  return KernelStatus::Ok();
}

template <int kM>
KernelStatus LaunchRows(const DenseGemvParams& p, cudaStream_t stream) {
  // Fewer rows per CTA as m grows keeps the accumulators in registers.
  constexpr int kRows = kM <= 2 ? 8 : 4;
  return p.out_f32 ? LaunchKernel<kM, kRows, true>(p, stream) : LaunchKernel<kM, kRows, false>(p, stream);
}

}  // namespace

KernelStatus DenseGemv(const DenseGemvParams& p, cudaStream_t stream) {
  KERNEL_CHECK_ARG(p.x != nullptr && p.w != nullptr && p.y != nullptr, "dense_gemv: null pointer");
  KERNEL_CHECK_ARG(p.m >= 1 && p.m <= kDenseGemvMaxRows, "dense_gemv: m must be in 1..8");
  KERNEL_CHECK_ARG(p.n >= 1 && p.k >= kVecElems && p.k % kVecElems == 0, "dense_gemv: k must be a multiple of 8");
  KERNEL_CHECK_ARG(reinterpret_cast<uintptr_t>(p.x) % 16 == 0 && reinterpret_cast<uintptr_t>(p.w) % 16 == 0 &&
                       reinterpret_cast<uintptr_t>(p.maybe_norm_weight) % 16 == 0,
                   "dense_gemv: x, w and the norm weight must be 16-byte aligned");
  KERNEL_CHECK_ARG(p.maybe_residual == nullptr || !p.out_f32, "dense_gemv: the residual epilogue writes bf16");
  switch (p.m) {
    case 1: return LaunchRows<1>(p, stream);
    case 2: return LaunchRows<2>(p, stream);
    case 3: return LaunchRows<3>(p, stream);
    case 4: return LaunchRows<4>(p, stream);
    case 5: return LaunchRows<5>(p, stream);
    case 6: return LaunchRows<6>(p, stream);
    case 7: return LaunchRows<7>(p, stream);
    default: return LaunchRows<8>(p, stream);
  }
}

}  // namespace radixserve::kernels::cuda
