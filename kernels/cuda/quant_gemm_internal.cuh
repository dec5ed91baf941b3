// Internal to the quant_gemm family: what quant_gemm.cu (GEMV and mma paths, dispatch) and
// quant_gemm_int4_tiled.cu (the tiled INT4 layout) share.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/cuda_status.cuh"
#include "kernels/quant_gemm_params.h"

namespace radixserve::kernels::cuda::quant_internal {

__device__ __forceinline__ float Bf16BitsToFloat(uint32_t bits16) { return __uint_as_float(bits16 << 16); }

// Warps per CTA of the mma kernels: 8 for m <= 16 (more loads in flight at small m), 4
// beyond (the accumulators grow with m).
__host__ __device__ constexpr int MmaWarps(int n_tiles) { return n_tiles <= 2 ? 8 : 4; }

// Split-k reduction of the mma accumulators over a CTA's warps through shared memory
// (red: [warps - 1][kNTiles][32][4]): every warp but 0 parks its fragments, warp 0 adds
// them in warp order. True on warp 0, which then holds the CTA's sums; the others are done.
template <int kRedWarps, int kNTiles>
__device__ __forceinline__ bool ReduceAcrossWarps(float (&acc)[kNTiles][4], float (&red)[kRedWarps][kNTiles][32][4],
                                                  int warp, int lane) {
  if (warp > 0) {
#pragma unroll
    for (int nt = 0; nt < kNTiles; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) red[warp - 1][nt][lane][e] = acc[nt][e];
    }
  }
  __syncthreads();
  if (warp != 0) return false;
#pragma unroll
  for (int nt = 0; nt < kNTiles; ++nt) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
#pragma unroll
      for (int w = 0; w < kRedWarps; ++w) acc[nt][e] += red[w][nt][lane][e];
    }
  }
  return true;
}

// acc += part x the group scales of the mma rows: sa for rows g (C elements 0, 1), sb
// for rows g + 8 (elements 2, 3).
template <int kNTiles>
__device__ __forceinline__ void AccumulateScaled(float (&acc)[kNTiles][4], const float (&part)[kNTiles][4], float sa,
                                                 float sb) {
#pragma unroll
  for (int nt = 0; nt < kNTiles; ++nt) {
    acc[nt][0] = fmaf(part[nt][0], sa, acc[nt][0]);
    acc[nt][1] = fmaf(part[nt][1], sa, acc[nt][1]);
    acc[nt][2] = fmaf(part[nt][2], sb, acc[nt][2]);
    acc[nt][3] = fmaf(part[nt][3], sb, acc[nt][3]);
  }
}

// The tiled INT4 layout (kInt4Group128Tiled), any m in 1..64 (quant_gemm_int4_tiled.cu).
KernelStatus LaunchInt4Tiled(const QuantGemmParams& p, cudaStream_t stream);

}  // namespace radixserve::kernels::cuda::quant_internal
