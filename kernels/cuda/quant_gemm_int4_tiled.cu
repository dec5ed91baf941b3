// The tiled INT4 path of quant_gemm (kInt4Group128Tiled): a generic kernel for m = 1..64
// and the m = 1 decode kernel. Dispatched from QuantGemmWithPath (quant_gemm.cu).
#include "kernels/cuda/mma_utils.cuh"
#include "kernels/cuda/quant_gemm_internal.cuh"
#include "kernels/cuda/type_utils.cuh"

namespace radixserve::kernels::cuda::quant_internal {
namespace {

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
      AccumulateScaled(acc, part, sa, sb);
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

}  // namespace

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

}  // namespace radixserve::kernels::cuda::quant_internal
