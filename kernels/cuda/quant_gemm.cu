#include "kernels/cuda/quant_gemm.cuh"

#include "kernels/cuda/mma_utils.cuh"
#include "kernels/cuda/quant_gemm_internal.cuh"
#include "kernels/cuda/type_utils.cuh"

namespace radixserve::kernels::cuda {
namespace {

using quant_internal::AccumulateScaled;
using quant_internal::Bf16BitsToFloat;
using quant_internal::LaunchInt4Tiled;
using quant_internal::MmaWarps;
using quant_internal::ReduceAcrossWarps;

constexpr int kWarps = 8;
constexpr int kRowsPerWarp = 4;
constexpr int kMaxMTile = 8;

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

// ---------------------------------------------------------------------------------------
// Tensor-core path: W is the A operand (16 weight rows per warp), x^T the B operand (8
// activation rows per n-tile), so m = 1..64 costs one dequantization of each weight
// element plus m/8 mma per 16x16 tile. The dot product over k is order-free, so each
// lane dequantizes ITS OWN 16 contiguous weight bytes per row and the "virtual" k order of
// the fragments is chosen to make that cheap; the lane then feeds x at the same actual k:
//
//   INT4 (group of 128 k = 4 lanes x 32 values): lane t of a quad owns k = kb + 32t + 0..31
//     of rows g and g + 8. Word i of its 16 bytes holds k = 8i .. 8i + 7 (nibble n = k - 8i).
//     (w >> 4n) & 0x000F000F | 0x43004300 is the bf16 pair (128 + q[8i+n], 128 + q[8i+n+4]);
//     minus 136 gives q - 8 exactly. k-step s = 2i + h uses pairs n = 2h (a0/a1) and
//     n = 2h + 1 (a2/a3), so x must be paired the same way: (x[8i+2h], x[8i+2h+4]) and
//     (x[8i+2h+1], x[8i+2h+5]), one byte_perm each from the lane's own x words.
//   INT8 (group of 64 k = 4 lanes x 16 values): word i holds k = 4i .. 4i + 3; k-step i
//     uses (k 4i, 4i+1) and (4i+2, 4i+3), exactly x's own bf16 pairs.
//
// The warps of a block split k (warp w takes groups w, w + warps, ...) and reduce through
// shared memory: 8 warps for m <= 16 (more loads in flight at small m), 4 beyond (the
// accumulators grow with m). grid: [ceil(n / 16)]; block: 32 * MmaWarps(kNTiles) threads.

template <WeightQuant kQuant>
struct QuantTraits {
  static constexpr int kGroupK = kQuant == WeightQuant::kInt4Group128 ? 128 : 64;  // k per lane quad per step
  static constexpr int kValsPerLane = kGroupK / 4;                                  // 32 or 16 (16 bytes)
  static constexpr int kKSteps = kValsPerLane / 4;                                  // 8 or 4
  static constexpr int kRowBytesPerK2 = kQuant == WeightQuant::kInt4Group128 ? 1 : 2;  // bytes per 2 k
  static_assert(kGroupK * kRowBytesPerK2 / 2 == 64, "a quad reads 64 bytes of a row per step");
};

__device__ __forceinline__ uint32_t Int4PairMinus8(uint32_t w, int n) {
  const uint32_t biased = ((w >> (4 * n)) & 0x000F000Fu) | 0x43004300u;  // bf16 (128 + q, 128 + q')
  constexpr uint32_t kBf16x2Of136 = 0x43084308u;
  const __nv_bfloat162 r = __hsub2(*reinterpret_cast<const __nv_bfloat162*>(&biased),
                                   *reinterpret_cast<const __nv_bfloat162*>(&kBf16x2Of136));
  return *reinterpret_cast<const uint32_t*>(&r);
}

__device__ __forceinline__ uint32_t Int8PairToBf16(uint32_t w, int b) {
  const float lo = __uint_as_float(0x4B000000u | (((w >> (8 * b)) & 0xffu) ^ 0x80u)) - 8388736.0f;
  const float hi = __uint_as_float(0x4B000000u | (((w >> (8 * b + 8)) & 0xffu) ^ 0x80u)) - 8388736.0f;
  return PackPair<__nv_bfloat16>(lo, hi);
}

template <WeightQuant kQuant, int kNTiles>
__global__ void __launch_bounds__(MmaWarps(kNTiles) * 32) QuantMmaKernel(const __grid_constant__ QuantGemmParams p) {
  constexpr int kMmaWarps = MmaWarps(kNTiles);
  using Tr = QuantTraits<kQuant>;
  __shared__ float red[kMmaWarps - 1][kNTiles][32][4];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int g = lane >> 2, t = lane & 3;
  const int j0 = blockIdx.x * 16;
  const int row_a = min(j0 + g, p.n - 1), row_b = min(j0 + g + 8, p.n - 1);
  const int64_t row_bytes = static_cast<int64_t>(p.k) * Tr::kRowBytesPerK2 / 2;
  const uint8_t* wa = p.w_q + row_a * row_bytes + t * 16;
  const uint8_t* wb = p.w_q + row_b * row_bytes + t * 16;
  const int num_groups = p.k / Tr::kGroupK;
  const int64_t group_bytes = Tr::kGroupK * Tr::kRowBytesPerK2 / 2;  // 64 (INT4) or 64 (INT8)

  float acc[kNTiles][4];
#pragma unroll
  for (int nt = 0; nt < kNTiles; ++nt) acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.0f;

  int grp = warp;
  uint4 cur_a = make_uint4(0, 0, 0, 0), cur_b = cur_a;
  if (grp < num_groups) {
    cur_a = __ldcs(reinterpret_cast<const uint4*>(wa + grp * group_bytes));
    cur_b = __ldcs(reinterpret_cast<const uint4*>(wb + grp * group_bytes));
  }
  for (; grp < num_groups; grp += kMmaWarps) {
    // Prefetch the next group's weights while this one computes.
    uint4 nxt_a = cur_a, nxt_b = cur_b;
    if (grp + kMmaWarps < num_groups) {
      nxt_a = __ldcs(reinterpret_cast<const uint4*>(wa + (grp + kMmaWarps) * group_bytes));
      nxt_b = __ldcs(reinterpret_cast<const uint4*>(wb + (grp + kMmaWarps) * group_bytes));
    }
    const int k_lane = grp * Tr::kGroupK + t * Tr::kValsPerLane;  // this lane's first k
    // Scales first: their latency then hides behind the dequantization and the mma.
    float sa = 1.0f, sb = 1.0f;
    if constexpr (kQuant == WeightQuant::kInt4Group128) {
      const int groups_per_row = p.k / kInt4GroupSize;
      sa = Bf16BitsToFloat(__ldg(p.scales + static_cast<int64_t>(row_a) * groups_per_row + grp));
      sb = Bf16BitsToFloat(__ldg(p.scales + static_cast<int64_t>(row_b) * groups_per_row + grp));
    }
    const uint32_t wa_w[4] = {cur_a.x, cur_a.y, cur_a.z, cur_a.w};
    const uint32_t wb_w[4] = {cur_b.x, cur_b.y, cur_b.z, cur_b.w};
    float part[kNTiles][4];
#pragma unroll
    for (int nt = 0; nt < kNTiles; ++nt) part[nt][0] = part[nt][1] = part[nt][2] = part[nt][3] = 0.0f;
#pragma unroll
    for (int nt = 0; nt < kNTiles; ++nt) {
      // x row m = nt * 8 + g: this lane's kValsPerLane activations (zero past m).
      const int m = nt * 8 + g;
      uint32_t xw[Tr::kValsPerLane / 2];
      if (m < p.m) {
        const uint4* xp = reinterpret_cast<const uint4*>(p.x + static_cast<int64_t>(m) * p.k + k_lane);
#pragma unroll
        for (int v = 0; v < Tr::kValsPerLane / 8; ++v) {
          const uint4 u = __ldg(xp + v);
          xw[4 * v] = u.x;
          xw[4 * v + 1] = u.y;
          xw[4 * v + 2] = u.z;
          xw[4 * v + 3] = u.w;
        }
      } else {
#pragma unroll
        for (int v = 0; v < Tr::kValsPerLane / 2; ++v) xw[v] = 0u;
      }
#pragma unroll
      for (int s = 0; s < Tr::kKSteps; ++s) {
        uint32_t a[4], b[2];
        if constexpr (kQuant == WeightQuant::kInt4Group128) {
          const int i = s >> 1, h = s & 1;
          a[0] = Int4PairMinus8(wa_w[i], 2 * h);
          a[1] = Int4PairMinus8(wb_w[i], 2 * h);
          a[2] = Int4PairMinus8(wa_w[i], 2 * h + 1);
          a[3] = Int4PairMinus8(wb_w[i], 2 * h + 1);
          // x words 4i .. 4i+3 hold (x[8i], x[8i+1]), (x[8i+2], x[8i+3]), ...
          b[0] = __byte_perm(xw[4 * i + h], xw[4 * i + h + 2], 0x5410);
          b[1] = __byte_perm(xw[4 * i + h], xw[4 * i + h + 2], 0x7632);
        } else {
          a[0] = Int8PairToBf16(wa_w[s], 0);
          a[1] = Int8PairToBf16(wb_w[s], 0);
          a[2] = Int8PairToBf16(wa_w[s], 2);
          a[3] = Int8PairToBf16(wb_w[s], 2);
          b[0] = xw[2 * s];
          b[1] = xw[2 * s + 1];
        }
        Mma16816<__nv_bfloat16>(part[nt], a, b);
      }
    }
    if constexpr (kQuant == WeightQuant::kInt4Group128) {
      AccumulateScaled(acc, part, sa, sb);
    } else {
#pragma unroll
      for (int nt = 0; nt < kNTiles; ++nt) {
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[nt][e] += part[nt][e];
      }
    }
    cur_a = nxt_a;
    cur_b = nxt_b;
  }

  if (!ReduceAcrossWarps(acc, red, warp, lane)) return;
  // C fragment: (row g | g + 8, activation column nt * 8 + 2t | 2t + 1).
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int j = j0 + g + 8 * half;
    if (j >= p.n) continue;
    float post = 1.0f, bias = 0.0f;
    if constexpr (kQuant == WeightQuant::kInt8PerChannel) post = Bf16BitsToFloat(p.scales[j]);
    if (p.maybe_bias) bias = Bf16BitsToFloat(p.maybe_bias[j]);
#pragma unroll
    for (int nt = 0; nt < kNTiles; ++nt) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int m = nt * 8 + 2 * t + e;
        if (m < p.m) {
          const __nv_bfloat16 y = __float2bfloat16_rn(acc[nt][2 * half + e] * post + bias);
          p.y[static_cast<int64_t>(m) * p.n + j] = __bfloat16_as_ushort(y);
        }
      }
    }
  }
}

template <WeightQuant kQuant>
KernelStatus LaunchMma(const QuantGemmParams& p, cudaStream_t stream) {
  const int blocks = (p.n + 15) / 16;
  const int n_tiles = (p.m + 7) / 8;
  switch (n_tiles) {
    case 1: QuantMmaKernel<kQuant, 1><<<blocks, MmaWarps(1) * 32, 0, stream>>>(p); break;
    case 2: QuantMmaKernel<kQuant, 2><<<blocks, MmaWarps(2) * 32, 0, stream>>>(p); break;
    case 3:
    case 4: QuantMmaKernel<kQuant, 4><<<blocks, MmaWarps(4) * 32, 0, stream>>>(p); break;
    default: QuantMmaKernel<kQuant, 8><<<blocks, MmaWarps(8) * 32, 0, stream>>>(p); break;
  }
  CUDA_RETURN_IF_LAUNCH_ERROR();
  return KernelStatus::Ok();
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

KernelStatus QuantGemmWithPath(const QuantGemmParams& p, QuantGemmPath path, cudaStream_t stream) {
  KERNEL_CHECK_ARG(p.x && p.w_q && p.scales && p.y, "quant_gemm: null pointer");
  KERNEL_CHECK_ARG(p.m >= 1 && p.m <= 64 && p.n > 0 && p.k > 0, "quant_gemm: m must be 1..64");
  switch (p.quant) {
    case WeightQuant::kInt8PerChannel:
      KERNEL_CHECK_ARG(p.k % 16 == 0, "quant_gemm: INT8 needs k % 16 == 0");
      if (path != QuantGemmPath::kGemv && p.k % QuantTraits<WeightQuant::kInt8PerChannel>::kGroupK == 0) {
        return LaunchMma<WeightQuant::kInt8PerChannel>(p, stream);
      }
      return LaunchQuant<WeightQuant::kInt8PerChannel>(p, stream);
    case WeightQuant::kInt4Group128:
      KERNEL_CHECK_ARG(p.k % kInt4GroupSize == 0, "quant_gemm: INT4 needs k % 128 == 0");
      if (path != QuantGemmPath::kGemv) return LaunchMma<WeightQuant::kInt4Group128>(p, stream);
      return LaunchQuant<WeightQuant::kInt4Group128>(p, stream);
    case WeightQuant::kInt4Group128Tiled:
      KERNEL_CHECK_ARG(p.k % kInt4GroupSize == 0, "quant_gemm: INT4 needs k % 128 == 0");
      KERNEL_CHECK_ARG(path != QuantGemmPath::kGemv, "quant_gemm: the tiled INT4 layout has no GEMV path");
      return LaunchInt4Tiled(p, stream);
  }
  return InvalidArgument("quant_gemm: unknown quantization", __FILE__, __LINE__);
}

KernelStatus QuantGemm(const QuantGemmParams& p, cudaStream_t stream) {
  return QuantGemmWithPath(p, QuantGemmPath::kAuto, stream);
}

}  // namespace radixserve::kernels::cuda
