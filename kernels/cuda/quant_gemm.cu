#include "kernels/cuda/quant_gemm.cuh"

#include "kernels/cuda/mma_utils.cuh"
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
__host__ __device__ constexpr int MmaWarps(int n_tiles) { return n_tiles <= 2 ? 8 : 4; }

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
#pragma unroll
      for (int nt = 0; nt < kNTiles; ++nt) {
        acc[nt][0] = fmaf(part[nt][0], sa, acc[nt][0]);
        acc[nt][1] = fmaf(part[nt][1], sa, acc[nt][1]);
        acc[nt][2] = fmaf(part[nt][2], sb, acc[nt][2]);
        acc[nt][3] = fmaf(part[nt][3], sb, acc[nt][3]);
      }
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

// ---------------------------------------------------------------------------------------
// Tiled INT4 path (kInt4Group128Tiled, layout in quant_gemm_params.h). Same mma scheme as
// above, but the weights are reordered offline so that
//   * a warp's 16-byte loads are 512 contiguous bytes (8 rows x 64 bytes of one tile-group)
//     instead of 8 rows x 64 bytes 2 KB apart: a copy-only kernel with the plain layout's
//     addressing read the 29 MB matrix in 9.2 us, with this one in 8.5 us;
//   * each 32-bit word's nibbles are pre-permuted, so pair n of a word is one lop3 of
//     (word >> 4n) and one bf16 subtraction — no byte_perm of x, whose own bf16 pairs are
//     the B registers unchanged. That cuts a third of the instructions (ncu, lab kernels at
//     m = 1, 4096 x 14336: 5.7M -> 3.9M warp instructions), which is where the old path lost
//     its time: its memory side alone (copy-only) took 9.2 us of its 14 us, the rest was
//     dequantization that the loads did not hide.
// A CTA owns 16 rows = tiles 2b and 2b + 1 (mma rows g and g + 8); its warps split the
// groups into contiguous ranges and issue a whole batch of kBatch groups' weight loads (8 x
// 16 bytes per lane) before the math; with more than one batch per warp (long k) the next
// batch is loaded while this one computes (kPipelined).
// Groups per batch: 4 (8 x 16 bytes per lane in flight) up to 2 n-tiles; beyond, 1 with the
// next one prefetched, as in QuantMmaKernel (the unrolled batch's x loads would not fit).
__host__ __device__ constexpr int TiledBatch(int n_tiles) { return n_tiles <= 2 ? 4 : 1; }

__device__ __forceinline__ uint4 LoadStreaming(const uint4* ptr) {
  uint4 r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
               : "l"(ptr));
  return r;
}

// x through L1 (every CTA re-reads it). volatile keeps the compiler from hoisting a whole
// batch's x loads ahead of the math (86 registers instead of 64 at m = 1).
__device__ __forceinline__ uint4 LoadX(const uint16_t* ptr) {
  uint4 r;
  asm volatile("ld.global.nc.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(ptr));
  return r;
}

// bf16 pair (q - 8, q' - 8) of the nibbles 4n..4n+3 and 4n+16..4n+19 of w.
__device__ __forceinline__ uint32_t Int4TiledPair(uint32_t w, int n) {
  uint32_t biased;  // ((w >> 4n) & 0x000F000F) | 0x43004300 = bf16 (128 + q, 128 + q'), one lop3
  asm("lop3.b32 %0, %1, %2, %3, 0xEA;" : "=r"(biased) : "r"(w >> (4 * n)), "n"(0x000F000F), "n"(0x43004300));
  constexpr uint32_t kBf16x2Of136 = 0x43084308u;
  const __nv_bfloat162 r = __hsub2(*reinterpret_cast<const __nv_bfloat162*>(&biased),
                                   *reinterpret_cast<const __nv_bfloat162*>(&kBf16x2Of136));
  return *reinterpret_cast<const uint32_t*>(&r);
}

// 4 CTAs (32 warps) per SM at m <= 8 without pipelining: 64 registers. At 80 (3 CTAs) the
// m = 1 product measured ~15% slower in the lab.
__host__ __device__ constexpr int TiledMinBlocks(int n_tiles, bool pipelined) { return n_tiles == 1 && !pipelined ? 4 : 1; }

template <int kNTiles, bool kPipelined>
__global__ void __launch_bounds__(MmaWarps(kNTiles) * 32, TiledMinBlocks(kNTiles, kPipelined))
    QuantInt4TiledKernel(const __grid_constant__ QuantGemmParams p) {
  constexpr int kWarps = MmaWarps(kNTiles);
  __shared__ float red[kWarps - 1][kNTiles][32][4];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int g = lane >> 2, t = lane & 3;
  const int num_tiles = (p.n + kInt4TileRows - 1) / kInt4TileRows;
  const int tile_a = 2 * blockIdx.x, tile_b = min(tile_a + 1, num_tiles - 1);  // odd count: rows g + 8 unused
  const int row_a = min(16 * static_cast<int>(blockIdx.x) + g, p.n - 1);
  const int row_b = min(16 * static_cast<int>(blockIdx.x) + 8 + g, p.n - 1);
  const int ng = p.k / kInt4GroupSize;
  // 32-bit offsets from one base pointer each keep the m = 1 kernel within 64 registers.
  const uint4* wa = reinterpret_cast<const uint4*>(p.w_q + static_cast<int64_t>(tile_a) * 4 * p.k) + lane;
  const int b_off = (tile_b - tile_a) * (p.k / 4);  // tile b in uint4 from tile a
  const uint16_t* sc_a = p.scales + static_cast<int64_t>(row_a) * ng;
  const int sc_b_off = (row_b - row_a) * ng;
  const int per_warp = (ng + kWarps - 1) / kWarps;
  const int g_begin = warp * per_warp, g_end = min(ng, g_begin + per_warp);

  float acc[kNTiles][4];
#pragma unroll
  for (int nt = 0; nt < kNTiles; ++nt) acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.0f;

  constexpr int kTiledBatch = TiledBatch(kNTiles);
  uint4 ua[kTiledBatch], ub[kTiledBatch];
  auto load_batch = [&](int gb, uint4* xa, uint4* xb) {
#pragma unroll
    for (int i = 0; i < kTiledBatch; ++i) {
      if (gb + i < g_end) {
        xa[i] = LoadStreaming(wa + 32 * (gb + i));
        xb[i] = LoadStreaming(wa + b_off + 32 * (gb + i));
      }
    }
  };
  load_batch(g_begin, ua, ub);
  for (int gb = g_begin; gb < g_end; gb += kTiledBatch) {
    uint4 na[kTiledBatch], nb[kTiledBatch];
    if constexpr (kPipelined) load_batch(gb + kTiledBatch, na, nb);
    uint32_t sab[kTiledBatch];  // bf16 scales of rows a (low half) and b (high half), loaded with the batch
#pragma unroll
    for (int i = 0; i < kTiledBatch; ++i) {
      if (gb + i < g_end) sab[i] = __ldg(sc_a + gb + i) | (static_cast<uint32_t>(__ldg(sc_a + sc_b_off + gb + i)) << 16);
    }
#pragma unroll
    for (int i = 0; i < kTiledBatch; ++i) {
      if (gb + i >= g_end) break;
      const int k_lane = (gb + i) * kInt4GroupSize + 32 * t;  // this lane's 32 k of the group
      const uint32_t u[4] = {ua[i].x, ua[i].y, ua[i].z, ua[i].w};
      const uint32_t v[4] = {ub[i].x, ub[i].y, ub[i].z, ub[i].w};
      float part[kNTiles][4];
#pragma unroll
      for (int nt = 0; nt < kNTiles; ++nt) part[nt][0] = part[nt][1] = part[nt][2] = part[nt][3] = 0.0f;
#pragma unroll
      for (int w = 0; w < 4; ++w) {  // word w: k_lane + 8w .. + 7 = k-steps 2w (pairs 0, 1) and 2w + 1 (2, 3)
        const uint32_t a0[4] = {Int4TiledPair(u[w], 0), Int4TiledPair(v[w], 0), Int4TiledPair(u[w], 1), Int4TiledPair(v[w], 1)};
        const uint32_t a1[4] = {Int4TiledPair(u[w], 2), Int4TiledPair(v[w], 2), Int4TiledPair(u[w], 3), Int4TiledPair(v[w], 3)};
#pragma unroll
        for (int nt = 0; nt < kNTiles; ++nt) {
          // x rows past m are clamped to m - 1: they only feed C columns that are not stored.
          const int m = min(nt * 8 + g, p.m - 1);
          const uint4 xv = LoadX(p.x + static_cast<int64_t>(m) * p.k + k_lane + 8 * w);
          const uint32_t b0[2] = {xv.x, xv.y}, b1[2] = {xv.z, xv.w};
          Mma16816<__nv_bfloat16>(part[nt], a0, b0);
          Mma16816<__nv_bfloat16>(part[nt], a1, b1);
        }
      }
      const float sa = __uint_as_float(sab[i] << 16), sb = __uint_as_float(sab[i] & 0xffff0000u);
#pragma unroll
      for (int nt = 0; nt < kNTiles; ++nt) {
        acc[nt][0] = fmaf(part[nt][0], sa, acc[nt][0]);
        acc[nt][1] = fmaf(part[nt][1], sa, acc[nt][1]);
        acc[nt][2] = fmaf(part[nt][2], sb, acc[nt][2]);
        acc[nt][3] = fmaf(part[nt][3], sb, acc[nt][3]);
      }
    }
    if constexpr (kPipelined) {
#pragma unroll
      for (int i = 0; i < kTiledBatch; ++i) {
        ua[i] = na[i];
        ub[i] = nb[i];
      }
    } else if (gb + kTiledBatch < g_end) {
      load_batch(gb + kTiledBatch, ua, ub);
    }
  }

  // Split-k reduction, then the C fragment as in QuantMmaKernel.
  if (!ReduceAcrossWarps(acc, red, warp, lane)) return;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int j = 16 * blockIdx.x + g + 8 * half;
    if (j >= p.n) continue;
    const float bias = p.maybe_bias ? Bf16BitsToFloat(p.maybe_bias[j]) : 0.0f;
#pragma unroll
    for (int nt = 0; nt < kNTiles; ++nt) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int m = nt * 8 + 2 * t + e;
        if (m < p.m) {
          const __nv_bfloat16 y = __float2bfloat16_rn(acc[nt][2 * half + e] + bias);
          p.y[static_cast<int64_t>(m) * p.n + j] = __bfloat16_as_ushort(y);
        }
      }
    }
  }
}

// m = 1 (the decode step's product) on the tiled layout when each of the 8 warps gets
// exactly kG groups (k = 1024 kG): the generic kernel above with what costs registers or
// instructions at m = 1 taken out. At 4096 x 14336 it measured 10.6-11.7 us against the
// generic kernel's 14.6 (lab, CUDA-graph replay over 4 weight copies; NOTES.md, v9):
//   * x (one row) staged once per CTA in shared memory, by a fixed 2-vector loop;
//   * warp w takes groups [kG w, kG w + kG), no predicates, no run-time batch loop (one took
//     102 registers);
//   * only C column 0 exists, so lanes t = 0 alone carry results to the reduction.
// 48 registers = 5 CTAs of 8 warps per SM. The compiler issues only 2 of the 8 weight loads
// before the barrier and the rest among the math; every variant that forced all 8 up front
// measured slower in the same run (66 registers: 13.3-13.9 us; 64 with a 16-byte spill:
// 14.1; volatile loads, 72: 12.5-13.0; L2 prefetches first: 13.2-14.0).
// grid: [ceil(n / 16)]; block: 8 warps; dynamic shared memory: k * 2 bytes.
constexpr int kM1Warps = 8;

template <int kG>
__global__ void __launch_bounds__(kM1Warps * 32) QuantInt4TiledM1Kernel(const __grid_constant__ QuantGemmParams p) {
  extern __shared__ uint4 xs[];  // x, k / 8 vectors
  __shared__ float red[kM1Warps][2][8];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int g = lane >> 2, t = lane & 3;
  const int num_tiles = (p.n + kInt4TileRows - 1) / kInt4TileRows;
  const int tile_a = 2 * blockIdx.x, tile_b = min(tile_a + 1, num_tiles - 1);
  const int row_a = min(16 * static_cast<int>(blockIdx.x) + g, p.n - 1);
  const int row_b = min(16 * static_cast<int>(blockIdx.x) + 8 + g, p.n - 1);
  constexpr int ng = kM1Warps * kG;
  const int grp0 = warp * kG;
  const uint4* wa = reinterpret_cast<const uint4*>(p.w_q + static_cast<int64_t>(tile_a) * 4 * p.k) + lane + 32 * grp0;
  const uint4* wb = reinterpret_cast<const uint4*>(p.w_q + static_cast<int64_t>(tile_b) * 4 * p.k) + lane + 32 * grp0;
  uint4 ua[kG], ub[kG];
#pragma unroll
  for (int i = 0; i < kG; ++i) {
    ua[i] = LoadStreaming(wa + 32 * i);
    ub[i] = LoadStreaming(wb + 32 * i);
  }
  float sa[kG], sb[kG];
#pragma unroll
  for (int i = 0; i < kG; ++i) {
    sa[i] = Bf16BitsToFloat(__ldg(p.scales + row_a * ng + grp0 + i));
    sb[i] = Bf16BitsToFloat(__ldg(p.scales + row_b * ng + grp0 + i));
  }
  // k / 8 = 128 kG vectors: at most 2 per thread (a run-time loop here was unrolled 8 deep
  // and took 66 registers).
#pragma unroll
  for (int i = 0; i < (128 * kG + kM1Warps * 32 - 1) / (kM1Warps * 32); ++i) {
    const int v = threadIdx.x + i * kM1Warps * 32;
    if (v < 128 * kG) xs[v] = __ldg(reinterpret_cast<const uint4*>(p.x) + v);
  }
  __syncthreads();

  float acc_a = 0.0f, acc_b = 0.0f;  // C (row g, col 0) and (row g + 8, col 0)
#pragma unroll
  for (int i = 0; i < kG; ++i) {
    // The lane's 16 bytes of rows g / g + 8; word w = k-steps 2w (pairs 0, 1) and 2w + 1 (2, 3).
    const uint32_t u[4] = {ua[i].x, ua[i].y, ua[i].z, ua[i].w};
    const uint32_t v[4] = {ub[i].x, ub[i].y, ub[i].z, ub[i].w};
    float part[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
    for (int w = 0; w < 4; ++w) {
      const uint4 xv = xs[(grp0 + i) * 16 + 4 * t + w];
      const uint32_t a0[4] = {Int4TiledPair(u[w], 0), Int4TiledPair(v[w], 0), Int4TiledPair(u[w], 1), Int4TiledPair(v[w], 1)};
      const uint32_t b0[2] = {xv.x, xv.y};
      Mma16816<__nv_bfloat16>(part, a0, b0);
      const uint32_t a1[4] = {Int4TiledPair(u[w], 2), Int4TiledPair(v[w], 2), Int4TiledPair(u[w], 3), Int4TiledPair(v[w], 3)};
      const uint32_t b1[2] = {xv.z, xv.w};
      Mma16816<__nv_bfloat16>(part, a1, b1);
    }
    acc_a = fmaf(part[0], sa[i], acc_a);
    acc_b = fmaf(part[2], sb[i], acc_b);
  }

  if (t == 0) {
    red[warp][0][g] = acc_a;
    red[warp][1][g] = acc_b;
  }
  __syncthreads();
  if (threadIdx.x < 16) {
    const int half = threadIdx.x >> 3, r = threadIdx.x & 7;
    const int j = 16 * blockIdx.x + 8 * half + r;
    if (j < p.n) {
      float s = p.maybe_bias ? Bf16BitsToFloat(p.maybe_bias[j]) : 0.0f;
#pragma unroll
      for (int w = 0; w < kM1Warps; ++w) s += red[w][half][r];
      p.y[j] = __bfloat16_as_ushort(__float2bfloat16_rn(s));
    }
  }
}

template <int kNTiles>
KernelStatus LaunchInt4TiledFor(const QuantGemmParams& p, cudaStream_t stream) {
  const int blocks = ((p.n + kInt4TileRows - 1) / kInt4TileRows + 1) / 2;
  constexpr int kWarps = MmaWarps(kNTiles);
  const int per_warp = (p.k / kInt4GroupSize + kWarps - 1) / kWarps;
  if (per_warp > TiledBatch(kNTiles)) {
    QuantInt4TiledKernel<kNTiles, true><<<blocks, kWarps * 32, 0, stream>>>(p);
  } else {
    QuantInt4TiledKernel<kNTiles, false><<<blocks, kWarps * 32, 0, stream>>>(p);
  }
  CUDA_RETURN_IF_LAUNCH_ERROR();
  return KernelStatus::Ok();
}

KernelStatus LaunchInt4Tiled(const QuantGemmParams& p, cudaStream_t stream) {
  // m = 1 with k = 1024, 2048 or 4096 (8 warps x 1, 2 or 4 groups).
  if (p.m == 1 && (p.k == 1024 || p.k == 2048 || p.k == 4096)) {
    const int blocks = ((p.n + kInt4TileRows - 1) / kInt4TileRows + 1) / 2;
    const int smem = p.k * 2;
    switch (p.k) {
      case 1024: QuantInt4TiledM1Kernel<1><<<blocks, kM1Warps * 32, smem, stream>>>(p); break;
      case 2048: QuantInt4TiledM1Kernel<2><<<blocks, kM1Warps * 32, smem, stream>>>(p); break;
      default: QuantInt4TiledM1Kernel<4><<<blocks, kM1Warps * 32, smem, stream>>>(p); break;
    }
    CUDA_RETURN_IF_LAUNCH_ERROR();
    return KernelStatus::Ok();
  }
  switch ((p.m + 7) / 8) {
    case 1: return LaunchInt4TiledFor<1>(p, stream);
    case 2: return LaunchInt4TiledFor<2>(p, stream);
    case 3:
    case 4: return LaunchInt4TiledFor<4>(p, stream);
    default: return LaunchInt4TiledFor<8>(p, stream);
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
