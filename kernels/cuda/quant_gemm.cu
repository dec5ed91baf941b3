#include "kernels/cuda/quant_gemm.cuh"

#include "kernels/cuda/type_utils.cuh"

namespace radixserve::kernels::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kRowsPerWarp = 4;
constexpr int kMaxMTile = 8;

__device__ __forceinline__ float Bf16BitsToFloat(uint32_t bits16) { return __uint_as_float(bits16 << 16); }

// Unpacks 8 bf16 of a uint4 into floats.
__device__ __forceinline__ void Bf16x8ToFloat(const uint4& v, float* f) {
  const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    f[2 * i] = __uint_as_float(w[i] << 16);
    f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
  }
}

// Exact small-integer -> float without the quarter-rate I2F: 0x4B000000 | q is the float
// 2^23 + q for q < 2^23, so subtracting 2^23 + bias leaves q - bias.
__device__ __forceinline__ float NibbleToFloat(uint32_t q, float magic_bias) {
  return __uint_as_float(0x4B000000u | q) - magic_bias;
}

// grid: [ceil(n / (kWarps * kRowsPerWarp)), ceil(m / kMTile)]; block: kWarps warps; warp w
// owns weight rows j0 .. j0 + kRowsPerWarp - 1. A chunk is 16 weight bytes: 32 INT4 or 16
// INT8 values; lane l takes chunks l, l + 32, ... of each row, so the warp reads 512
// contiguous bytes of a row per load instruction, and the kRowsPerWarp rows' loads are in
// flight together. Activations are read once per chunk and reused across the rows.
template <WeightQuant kQuant, int kMTile>
__global__ void __launch_bounds__(kWarps * 32) QuantGemvKernel(const __grid_constant__ QuantGemmParams p) {
  constexpr int kValsPerChunk = kQuant == WeightQuant::kInt4Group128 ? 32 : 16;
  constexpr int kRows = kRowsPerWarp;
  const int lane = threadIdx.x & 31;
  const int j0 = (blockIdx.x * kWarps + (threadIdx.x >> 5)) * kRows;
  if (j0 >= p.n) return;
  const int m0 = blockIdx.y * kMTile;
  const int rows = min(kMTile, p.m - m0);
  const int row_bytes = kQuant == WeightQuant::kInt4Group128 ? p.k / 2 : p.k;
  const int num_chunks = row_bytes / 16;
  const uint16_t* x = p.x + static_cast<int64_t>(m0) * p.k;
  const uint4* w_rows[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    const int j = min(j0 + r, p.n - 1);  // clamped rows compute garbage that is not stored
    w_rows[r] = reinterpret_cast<const uint4*>(p.w_q + static_cast<int64_t>(j) * row_bytes);
  }

  float acc[kRows][kMTile];
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
#pragma unroll
    for (int i = 0; i < kMTile; ++i) acc[r][i] = 0.0f;
  }

  for (int c = lane; c < num_chunks; c += 32) {
    uint4 wv[kRows];
#pragma unroll
    for (int r = 0; r < kRows; ++r) wv[r] = __ldcs(w_rows[r] + c);  // weights: streamed once
    const int k0 = c * kValsPerChunk;
    float part[kRows][kMTile];
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
#pragma unroll
      for (int i = 0; i < kMTile; ++i) part[r][i] = 0.0f;
    }
    // One x vector (8 activations) at a time, for every activation row, then every weight row.
#pragma unroll
    for (int q = 0; q < kValsPerChunk / 8; ++q) {
      float xf[kMTile][8];
#pragma unroll
      for (int i = 0; i < kMTile; ++i) {
        if (i < rows) {
          Bf16x8ToFloat(__ldg(reinterpret_cast<const uint4*>(x + static_cast<int64_t>(i) * p.k + k0) + q), xf[i]);
        } else {
#pragma unroll
          for (int e = 0; e < 8; ++e) xf[i][e] = 0.0f;
        }
      }
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        const uint32_t words[4] = {wv[r].x, wv[r].y, wv[r].z, wv[r].w};
        float w8[8];
        if constexpr (kQuant == WeightQuant::kInt4Group128) {
          // Byte b of word q holds elements 8q + 2b (low nibble) and 8q + 2b + 1 (high).
#pragma unroll
          for (int b = 0; b < 4; ++b) {
            w8[2 * b] = NibbleToFloat((words[q] >> (8 * b)) & 15u, 8388616.0f);
            w8[2 * b + 1] = NibbleToFloat((words[q] >> (8 * b + 4)) & 15u, 8388616.0f);
          }
        } else {
          // Signed bytes via the biased form: (u ^ 0x80) - 128.
#pragma unroll
          for (int e = 0; e < 8; ++e) {
            w8[e] = NibbleToFloat(((words[2 * q + e / 4] >> (8 * (e % 4))) & 0xffu) ^ 0x80u, 8388736.0f);
          }
        }
#pragma unroll
        for (int i = 0; i < kMTile; ++i) {
#pragma unroll
          for (int e = 0; e < 8; ++e) part[r][i] = fmaf(w8[e], xf[i][e], part[r][i]);
        }
      }
    }
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      float scale = 1.0f;
      if constexpr (kQuant == WeightQuant::kInt4Group128) {
        const int j = min(j0 + r, p.n - 1);
        scale = Bf16BitsToFloat(p.scales[static_cast<int64_t>(j) * (p.k / kInt4GroupSize) + c / 4]);
      }
#pragma unroll
      for (int i = 0; i < kMTile; ++i) acc[r][i] = fmaf(part[r][i], scale, acc[r][i]);
    }
  }
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    const int j = j0 + r;
    float post_scale = 1.0f, bias = 0.0f;
    if (j < p.n) {
      if constexpr (kQuant == WeightQuant::kInt8PerChannel) post_scale = Bf16BitsToFloat(p.scales[j]);
      if (p.maybe_bias) bias = Bf16BitsToFloat(p.maybe_bias[j]);
    }
#pragma unroll
    for (int i = 0; i < kMTile; ++i) {
      const float s = WarpSum(acc[r][i]);
      if (lane == 0 && i < rows && j < p.n) {
        const __nv_bfloat16 y = __float2bfloat16_rn(s * post_scale + bias);
        p.y[static_cast<int64_t>(m0 + i) * p.n + j] = __bfloat16_as_ushort(y);
      }
    }
  }
}

template <WeightQuant kQuant>
KernelStatus LaunchQuant(const QuantGemmParams& p, cudaStream_t stream) {
  const dim3 block(kWarps * 32);
  const int n_blocks = (p.n + kWarps * kRowsPerWarp - 1) / (kWarps * kRowsPerWarp);
  // Pick the smallest M tile that covers m, up to 8 rows per pass over the weights.
  if (p.m == 1) {
    QuantGemvKernel<kQuant, 1><<<dim3(n_blocks, 1), block, 0, stream>>>(p);
  } else if (p.m == 2) {
    QuantGemvKernel<kQuant, 2><<<dim3(n_blocks, 1), block, 0, stream>>>(p);
  } else if (p.m <= 4) {
    QuantGemvKernel<kQuant, 4><<<dim3(n_blocks, 1), block, 0, stream>>>(p);
  } else {
    QuantGemvKernel<kQuant, kMaxMTile><<<dim3(n_blocks, (p.m + kMaxMTile - 1) / kMaxMTile), block, 0, stream>>>(p);
  }
  CUDA_RETURN_IF_LAUNCH_ERROR();
  return KernelStatus::Ok();
}

}  // namespace

KernelStatus QuantGemm(const QuantGemmParams& p, cudaStream_t stream) {
  KERNEL_CHECK_ARG(p.x && p.w_q && p.scales && p.y, "quant_gemm: null pointer");
  KERNEL_CHECK_ARG(p.m >= 1 && p.m <= 64 && p.n > 0 && p.k > 0, "quant_gemm: m must be 1..64");
  switch (p.quant) {
    case WeightQuant::kInt8PerChannel:
      KERNEL_CHECK_ARG(p.k % 16 == 0, "quant_gemm: INT8 needs k % 16 == 0");
      return LaunchQuant<WeightQuant::kInt8PerChannel>(p, stream);
    case WeightQuant::kInt4Group128:
      KERNEL_CHECK_ARG(p.k % kInt4GroupSize == 0, "quant_gemm: INT4 needs k % 128 == 0");
      return LaunchQuant<WeightQuant::kInt4Group128>(p, stream);
  }
  return InvalidArgument("quant_gemm: unknown quantization", __FILE__, __LINE__);
}

}  // namespace radixserve::kernels::cuda
