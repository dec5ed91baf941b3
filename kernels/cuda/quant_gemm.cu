#include "kernels/cuda/quant_gemm.cuh"

#include "kernels/cuda/type_utils.cuh"

namespace radixserve::kernels::cuda {
namespace {

constexpr int kWarps = 8;  // weight rows per block
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

// grid: [ceil(n / kWarps), ceil(m / kMTile)]; block: kWarps warps; warp w owns weight row
// j = blockIdx.x * kWarps + w. A chunk is 16 weight bytes: 32 INT4 or 16 INT8 values; lane
// l takes chunks l, l + 32, ... of the row, so the warp reads 512 contiguous bytes a step.
template <WeightQuant kQuant, int kMTile>
__global__ void __launch_bounds__(kWarps * 32) QuantGemvKernel(const __grid_constant__ QuantGemmParams p) {
  constexpr int kValsPerChunk = kQuant == WeightQuant::kInt4Group128 ? 32 : 16;
  const int lane = threadIdx.x & 31;
  const int j = blockIdx.x * kWarps + (threadIdx.x >> 5);
  if (j >= p.n) return;
  const int m0 = blockIdx.y * kMTile;
  const int rows = min(kMTile, p.m - m0);
  const int row_bytes = kQuant == WeightQuant::kInt4Group128 ? p.k / 2 : p.k;
  const int num_chunks = row_bytes / 16;
  const uint4* w_row = reinterpret_cast<const uint4*>(p.w_q + static_cast<int64_t>(j) * row_bytes);
  const uint16_t* x = p.x + static_cast<int64_t>(m0) * p.k;

  float acc[kMTile];
#pragma unroll
  for (int r = 0; r < kMTile; ++r) acc[r] = 0.0f;

#pragma unroll 2
  for (int c = lane; c < num_chunks; c += 32) {
    const uint4 wv = __ldg(w_row + c);  // TODO(perf): streaming load hint
    float w[kValsPerChunk];
    const uint32_t words[4] = {wv.x, wv.y, wv.z, wv.w};
    if constexpr (kQuant == WeightQuant::kInt4Group128) {
      // Byte b holds elements 2b (low nibble) and 2b + 1 (high nibble).
      const float scale = Bf16BitsToFloat(p.scales[static_cast<int64_t>(j) * (p.k / kInt4GroupSize) + c / 4]);
#pragma unroll
      for (int i = 0; i < 4; ++i) {
#pragma unroll
        for (int b = 0; b < 4; ++b) {
          const uint32_t byte = (words[i] >> (8 * b)) & 0xffu;
          w[8 * i + 2 * b] = static_cast<float>(static_cast<int>(byte & 15u) - 8) * scale;
          w[8 * i + 2 * b + 1] = static_cast<float>(static_cast<int>(byte >> 4) - 8) * scale;
        }
      }
    } else {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
#pragma unroll
        for (int b = 0; b < 4; ++b) w[4 * i + b] = static_cast<float>(static_cast<int8_t>((words[i] >> (8 * b)) & 0xffu));
      }
    }
    const int k0 = c * kValsPerChunk;
#pragma unroll
    for (int r = 0; r < kMTile; ++r) {
      if (r < rows) {
        const uint4* xr = reinterpret_cast<const uint4*>(x + static_cast<int64_t>(r) * p.k + k0);
#pragma unroll
        for (int q = 0; q < kValsPerChunk / 8; ++q) {
          float xf[8];
          Bf16x8ToFloat(__ldg(xr + q), xf);
#pragma unroll
          for (int e = 0; e < 8; ++e) acc[r] = fmaf(xf[e], w[8 * q + e], acc[r]);
        }
      }
    }
  }
  float post_scale = 1.0f;
  if constexpr (kQuant == WeightQuant::kInt8PerChannel) post_scale = Bf16BitsToFloat(p.scales[j]);
  const float bias = p.maybe_bias ? Bf16BitsToFloat(p.maybe_bias[j]) : 0.0f;
#pragma unroll
  for (int r = 0; r < kMTile; ++r) {
    const float s = WarpSum(acc[r]);
    if (lane == 0 && r < rows) {
      const __nv_bfloat16 y = __float2bfloat16_rn(s * post_scale + bias);
      p.y[static_cast<int64_t>(m0 + r) * p.n + j] = __bfloat16_as_ushort(y);
    }
  }
}

template <WeightQuant kQuant>
KernelStatus LaunchQuant(const QuantGemmParams& p, cudaStream_t stream) {
  const dim3 block(kWarps * 32);
  const int n_blocks = (p.n + kWarps - 1) / kWarps;
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
