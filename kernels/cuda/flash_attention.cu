#include "kernels/cuda/flash_attention.cuh"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "kernels/cuda/attention_core.cuh"
#include "kernels/cuda/prefill_wgmma.cuh"

#include "kernels/cuda/mma_utils.cuh"
#include "kernels/cuda/type_utils.cuh"

namespace radixserve::kernels::cuda {
namespace {
std::atomic<int>& PrefillPathSetting() {
  static std::atomic<int> path{[] {
    const char* env = std::getenv("RS_PREFILL_PATH");
    if (env != nullptr && std::strcmp(env, "mma") == 0) return static_cast<int>(PrefillPath::kMma);
    if (env != nullptr && std::strcmp(env, "wgmma") == 0) return static_cast<int>(PrefillPath::kWgmma);
    return static_cast<int>(PrefillPath::kAuto);
  }()};
  return path;
}

// The 4-warp prefill tiles run on the wgmma kernel wherever it applies, unless the mma.sync
// kernel is forced (prefill mode only: decode and its 1-warp tiles stay on mma.sync).
bool UseWgmma(const PrefillParams& p) {
  return PrefillPathSetting().load() != static_cast<int>(PrefillPath::kMma) && p.batch.q_indptr != nullptr &&
         PrefillWgmmaSupported(p);
}

constexpr int kBlockN = kAttnBlockN;  // keys per tile
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// Query rows are packed GQA-style: within sequence s and KV head kvh, packed row R is
// token R / group_size of s and query head kvh * group_size + R % group_size, so the
// group's heads share every K/V tile a CTA loads.
//
// Shared-memory tiles are [rows][head_dim] of 16-bit values, 16-byte chunks XOR-swizzled
// by (row % 8) so that ldmatrix's 8 row addresses hit 8 distinct bank groups:
//   element (row, col) lives at row * kHeadDim + (((col / 8) ^ (row % 8)) * 8) + col % 8
template <int kHeadDim>
__device__ __forceinline__ int SwizzledOffset(int row, int chunk) {
  return row * kHeadDim + ((chunk ^ (row & 7)) << 3);
}

struct SeqInfo {
  int q_start, q_len, kv_len;
};


// Fills row_off[r] with the row index (element offset / head_dim) of key tile_start + r,
// or -1 past kv_len. K and V share
// the layout, so one table serves both tiles; computing it once per tile keeps the
// block-table lookups and divisions out of the per-chunk copy loop.
template <KvSource kSource, int kThreads>
__device__ __forceinline__ void ComputeRowOffsets(const PrefillParams& p, int64_t seq_kv_start, int kv_head,
                                                  int tile_start, int kv_len, const int32_t* blocks, int head_dim,
                                                  int32_t* row_off) {
  for (int r = threadIdx.x; r < kBlockN; r += kThreads) {
    const int token = tile_start + r;
    row_off[r] = token < kv_len
                     ? static_cast<int32_t>(KeyRowOffset<kSource>(p, seq_kv_start, kv_head, token, blocks, 1))
                     : -1;
  }
}

// Issues cp.async for one [kBlockN, kHeadDim] K or V tile from the row offsets; rows with
// offset -1 are zero-filled (so 0 * garbage never makes NaN).
template <typename T, int kHeadDim, int kThreads>
__device__ __forceinline__ void LoadKvTile(const T* base, T* smem, const int32_t* row_off) {
  constexpr int kChunks = kHeadDim / 8;
#pragma unroll
  for (int i = threadIdx.x; i < kBlockN * kChunks; i += kThreads) {
    const int row = i / kChunks, chunk = i % kChunks;
    const int32_t r = row_off[row];
    const T* src = base + (r >= 0 ? static_cast<int64_t>(r) * kHeadDim + chunk * 8 : 0);
    CpAsync16(smem + SwizzledOffset<kHeadDim>(row, chunk), src, r >= 0);
  }
}

template <int kWarps>
__device__ __forceinline__ void CtaSync() {
  if constexpr (kWarps == 1) {
    __syncwarp();
  } else {
    __syncthreads();
  }
}

// grid: [ceil(max_q_len * group_size / kBlockM), num_kv_heads, num_seqs * num_chunks]; block:
// kWarps warps, warp w owning packed rows m_tile * kBlockM + 16 * kMTiles * w, 16 * kMTiles
// of them. With
// split.num_chunks > 1 the CTA covers keys [chunk * chunk_size, (chunk + 1) * chunk_size)
// and writes a normalized partial state to the split workspace instead of o.
template <typename T, int kHeadDim, KvSource kSource, int kWarps, int kMTiles>
__global__ void __launch_bounds__(kWarps * 32, kWarps == 4 ? 2 : 1)
    BatchPrefillKernel(const __grid_constant__ PrefillParams p, const SplitArgs split) {
  constexpr int kBlockM = 16 * kMTiles * kWarps;
  constexpr int kChunks = kHeadDim / 8;
  constexpr int kDTiles = kHeadDim / 8;   // n-tiles of the output
  constexpr int kKSteps = kHeadDim / 16;  // k-steps of Q K^T
  constexpr int kNTiles = kBlockN / 8;    // n-tiles of S
  // Dynamic shared memory (AttentionSmemBytes): Q, K and V tiles, then the key row tables.
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* q_smem = reinterpret_cast<T*>(smem_raw);
  T* k_smem = q_smem + kBlockM * kHeadDim;
  T* v_smem = k_smem + kBlockN * kHeadDim;
  int32_t(*row_off)[kBlockN] = reinterpret_cast<int32_t(*)[kBlockN]>(v_smem + kBlockN * kHeadDim);  // [2][kBlockN]

  const int seq = blockIdx.z / split.num_chunks;
  const int chunk = blockIdx.z % split.num_chunks;
  const int kv_head = blockIdx.y;
  const int group_size = p.num_q_heads / p.kv.num_kv_heads;
  SeqInfo si;
  if (p.batch.q_indptr != nullptr) {
    si.q_start = p.batch.q_indptr[seq];
    si.q_len = p.batch.q_indptr[seq + 1] - si.q_start;
  } else {  // decode: one query token per sequence
    si.q_start = seq;
    si.q_len = 1;
  }
  si.kv_len = kSource == KvSource::kPaged ? p.batch.kv_lens[seq] : p.kv_indptr[seq + 1] - p.kv_indptr[seq];
  const int packed_rows = si.q_len * group_size;
  // Heaviest (last) causal tiles first.
  const int m_tile = gridDim.x - 1 - blockIdx.x;
  const int row0 = m_tile * kBlockM;
  if (row0 >= packed_rows) return;
  const int32_t* blocks = kSource == KvSource::kPaged ? p.batch.block_ids + p.batch.block_indptr[seq] : nullptr;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;

  // Q tile -> shared (rows past the sequence zero-filled).
  const T* q = static_cast<const T*>(p.q);
#pragma unroll
  for (int i = threadIdx.x; i < kBlockM * kChunks; i += kWarps * 32) {
    const int row = i / kChunks, chunk = i % kChunks;
    const int r = row0 + row;
    const bool valid = r < packed_rows;
    const int token = valid ? r / group_size : 0;
    const int head = kv_head * group_size + (valid ? r % group_size : 0);
    const T* src = q + (static_cast<int64_t>(si.q_start + token) * p.num_q_heads + head) * kHeadDim + chunk * 8;
    CpAsync16(q_smem + SwizzledOffset<kHeadDim>(row, chunk), src, valid);
  }
  // Key range: causal rows see keys up to kv_len - q_len + token.
  const int last_row = min(row0 + kBlockM, packed_rows) - 1;
  const int first_token = row0 / group_size, last_token = last_row / group_size;
  int kv_end = p.causal ? min(si.kv_len, si.kv_len - si.q_len + last_token + 1) : si.kv_len;
  // Tiles starting at or past this key need a per-element mask.
  const int mask_from = p.causal ? min(si.kv_len, si.kv_len - si.q_len + first_token + 1) : si.kv_len;
  const int kv_begin = split.num_chunks > 1 ? chunk * split.chunk_size : 0;
  if (split.num_chunks > 1) kv_end = min(kv_end, kv_begin + split.chunk_size);
  const int num_tiles = kv_end > kv_begin ? (kv_end - kv_begin + kBlockN - 1) / kBlockN : 0;

  const T* k_base = static_cast<const T*>(kSource == KvSource::kPaged ? p.k_cache : p.k);
  const T* v_base = static_cast<const T*>(kSource == KvSource::kPaged ? p.v_cache : p.v);
  const int64_t seq_kv_start = kSource == KvSource::kContiguous ? p.kv_indptr[seq] : 0;
  constexpr int kThreads = kWarps * 32;
  if (num_tiles > 0) {
    ComputeRowOffsets<kSource, kThreads>(p, seq_kv_start, kv_head, kv_begin, si.kv_len, blocks, kHeadDim, row_off[0]);
    CtaSync<kWarps>();
    LoadKvTile<T, kHeadDim, kThreads>(k_base, k_smem, row_off[0]);
  }
  CpAsyncCommit();
  CpAsyncWait<0>();
  __syncthreads();

  // Q stays in shared memory; its fragments are re-read per k-step (cheap next to K and
  // V), which leaves the registers to the accumulators. Each warp owns kMTiles m-tiles of
  // 16 rows, and every K/V fragment read from shared memory feeds all of them.
  float o_acc[kMTiles][kDTiles][4];
  float row_m[kMTiles][2];  // running max of rows g and g + 8 of each m-tile (raw scores)
  float row_l[kMTiles][2];  // this thread's share of the running sums
#pragma unroll
  for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
    for (int i = 0; i < kDTiles; ++i) o_acc[mt][i][0] = o_acc[mt][i][1] = o_acc[mt][i][2] = o_acc[mt][i][3] = 0.0f;
    row_m[mt][0] = row_m[mt][1] = -INFINITY;
    row_l[mt][0] = row_l[mt][1] = 0.0f;
  }
  const float qk_scale = p.sm_scale * kLog2e;
  const int g = lane >> 2, tq = lane & 3;
  const int warp_row0 = row0 + warp * 16 * kMTiles;  // first packed row of this warp
  // Query positions (for the causal mask) of this thread's rows: [m-tile][g | g + 8].
  int q_pos[kMTiles][2];
#pragma unroll
  for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
    for (int r = 0; r < 2; ++r) q_pos[mt][r] = si.kv_len - si.q_len + (warp_row0 + 16 * mt + 8 * r + g) / group_size;
  }

  for (int tile = 0; tile < num_tiles; ++tile) {
    const int tile_start = kv_begin + tile * kBlockN;
    const int cur = tile & 1;
    LoadKvTile<T, kHeadDim, kThreads>(v_base, v_smem, row_off[cur]);
    CpAsyncCommit();

    // S = Q K^T for this warp's rows x kBlockN keys.
    float s[kMTiles][kNTiles][4];
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
      for (int n = 0; n < kNTiles; ++n) s[mt][n][0] = s[mt][n][1] = s[mt][n][2] = s[mt][n][3] = 0.0f;
    }
#pragma unroll
    for (int kk = 0; kk < kKSteps; ++kk) {
      uint32_t q_frag[kMTiles][4];
#pragma unroll
      for (int mt = 0; mt < kMTiles; ++mt) {
        LdMatrixX4(q_frag[mt], q_smem + SwizzledOffset<kHeadDim>(warp * 16 * kMTiles + mt * 16 + (lane & 15),
                                                                 kk * 2 + (lane >> 4)));
      }
#pragma unroll
      for (int np = 0; np < kNTiles / 2; ++np) {
        uint32_t b[4];
        const int key = np * 16 + (lane & 7) + ((lane >> 4) << 3);
        LdMatrixX4(b, k_smem + SwizzledOffset<kHeadDim>(key, kk * 2 + ((lane >> 3) & 1)));
#pragma unroll
        for (int mt = 0; mt < kMTiles; ++mt) {
          Mma16816<T>(s[mt][2 * np], q_frag[mt], b);
          Mma16816<T>(s[mt][2 * np + 1], q_frag[mt], b + 2);
        }
      }
    }

    // Mask, online softmax (log2 domain: p = 2^(s * qk_scale - m * qk_scale), one FFMA).
    const bool need_mask = tile_start + kBlockN > mask_from;
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt) {
      float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
      for (int n = 0; n < kNTiles; ++n) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          if (need_mask) {
            const int key = tile_start + n * 8 + 2 * tq + (e & 1);
            if (key >= si.kv_len || (p.causal && key > q_pos[mt][e >> 1])) s[mt][n][e] = -INFINITY;
          }
          tile_max[e >> 1] = fmaxf(tile_max[e >> 1], s[mt][n][e]);
        }
      }
      OnlineSoftmaxStep(s[mt], tile_max, row_m[mt], row_l[mt], o_acc[mt], qk_scale);
    }

    CpAsyncWait<0>();  // V tile landed
    __syncthreads();   // ... for every thread; and every warp is done reading K
    if (tile + 1 < num_tiles) {
      ComputeRowOffsets<kSource, kThreads>(p, seq_kv_start, kv_head, tile_start + kBlockN, si.kv_len, blocks, kHeadDim,
                                           row_off[cur ^ 1]);
      CtaSync<kWarps>();
      LoadKvTile<T, kHeadDim, kThreads>(k_base, k_smem, row_off[cur ^ 1]);
    }
    CpAsyncCommit();

    // O += P V.
#pragma unroll
    for (int kk = 0; kk < kBlockN / 16; ++kk) {
      uint32_t a[kMTiles][4];
#pragma unroll
      for (int mt = 0; mt < kMTiles; ++mt) {
        a[mt][0] = PackPair<T>(s[mt][2 * kk][0], s[mt][2 * kk][1]);
        a[mt][1] = PackPair<T>(s[mt][2 * kk][2], s[mt][2 * kk][3]);
        a[mt][2] = PackPair<T>(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
        a[mt][3] = PackPair<T>(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
      }
#pragma unroll
      for (int dp = 0; dp < kDTiles / 2; ++dp) {
        uint32_t b[4];
        const int key = kk * 16 + (lane & 7) + (((lane >> 3) & 1) << 3);
        LdMatrixX4Trans(b, v_smem + SwizzledOffset<kHeadDim>(key, dp * 2 + (lane >> 4)));
#pragma unroll
        for (int mt = 0; mt < kMTiles; ++mt) {
          Mma16816<T>(o_acc[mt][2 * dp], a[mt], b);
          Mma16816<T>(o_acc[mt][2 * dp + 1], a[mt], b + 2);
        }
      }
    }
    CpAsyncWait<0>();  // next K tile landed
    __syncthreads();   // ... and every warp is done reading V
  }

  // Normalize and store this thread's rows.
  T* o = static_cast<T*>(p.o);
#pragma unroll
  for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float l = row_l[mt][r];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      const int packed = warp_row0 + 16 * mt + 8 * r + g;
      if (packed >= packed_rows) continue;
      const int token = packed / group_size;
      const int head = kv_head * group_size + packed % group_size;
      const float inv_l = l > 0.0f ? 1.0f / l : 0.0f;
      const int64_t out_row = static_cast<int64_t>(si.q_start + token) * p.num_q_heads + head;
      const float lse2 = l > 0.0f ? row_m[mt][r] * qk_scale + log2f(l) : -INFINITY;
      if (split.write_partial) {
        const int64_t prow = static_cast<int64_t>(chunk) * split.num_q_tokens * p.num_q_heads + out_row;
        float* out = split.partial_o + prow * kHeadDim;
#pragma unroll
        for (int d = 0; d < kDTiles; ++d) {
          *reinterpret_cast<float2*>(out + d * 8 + 2 * tq) =
              make_float2(o_acc[mt][d][2 * r] * inv_l, o_acc[mt][d][2 * r + 1] * inv_l);
        }
        if (tq == 0) split.partial_lse[prow] = lse2;
        continue;
      }
      T* out = o + out_row * kHeadDim;
#pragma unroll
      for (int d = 0; d < kDTiles; ++d) {
        *reinterpret_cast<uint32_t*>(out + d * 8 + 2 * tq) =
            PackPair<T>(o_acc[mt][d][2 * r] * inv_l, o_acc[mt][d][2 * r + 1] * inv_l);
      }
      if (p.maybe_lse != nullptr && tq == 0) p.maybe_lse[out_row] = lse2 * kLn2;
    }
  }
}

// grid: [ceil(num_q_tokens * num_q_heads / rows_per_block)]; block: 128 threads, each
// merging 4 consecutive dims of one row (head_dim / 4 threads per row) with 16-byte loads.
// Merges the chunks' partial states (empty chunks carry lse = -inf), and the optional
// extra state, into o and maybe_lse.
template <typename T, int kHeadDim>
__global__ void __launch_bounds__(128) MergeChunksKernel(const __grid_constant__ PrefillParams p, const SplitArgs split) {
  constexpr int kThreadsPerRow = kHeadDim / 4;
  constexpr int kRowsPerBlock = 128 / kThreadsPerRow;
  const int64_t rows = static_cast<int64_t>(split.num_q_tokens) * p.num_q_heads;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kThreadsPerRow;
  if (row >= rows) return;
  const int d0 = (threadIdx.x % kThreadsPerRow) * 4;
  constexpr int kUnroll = 8;
  float mm = -INFINITY;
#pragma unroll kUnroll
  for (int c = 0; c < split.num_chunks; ++c) mm = fmaxf(mm, split.partial_lse[c * rows + row]);
  const float extra_lse2 = split.extra_o != nullptr ? split.extra_lse[row] * kLog2e : -INFINITY;
  mm = fmaxf(mm, extra_lse2);
  float ll = 0.0f;
  float4 oo = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  if (mm != -INFINITY) {
#pragma unroll kUnroll
    for (int c = 0; c < split.num_chunks; ++c) {
      const float w = exp2f(split.partial_lse[c * rows + row] - mm);
      const float4 v = *reinterpret_cast<const float4*>(split.partial_o + (c * rows + row) * kHeadDim + d0);
      ll += w;
      oo.x += w * v.x;
      oo.y += w * v.y;
      oo.z += w * v.z;
      oo.w += w * v.w;
    }
    if (split.extra_o != nullptr) {
      const float w = exp2f(extra_lse2 - mm);
      const T* e = static_cast<const T*>(split.extra_o) + row * kHeadDim + d0;
      ll += w;
      oo.x += w * ToFloat(e[0]);
      oo.y += w * ToFloat(e[1]);
      oo.z += w * ToFloat(e[2]);
      oo.w += w * ToFloat(e[3]);
    }
  }
  const float inv = ll > 0.0f ? 1.0f / ll : 0.0f;
  T* out = static_cast<T*>(p.o) + row * kHeadDim + d0;
  *reinterpret_cast<uint32_t*>(out) = PackPair<T>(oo.x * inv, oo.y * inv);
  *reinterpret_cast<uint32_t*>(out + 2) = PackPair<T>(oo.z * inv, oo.w * inv);
  if (d0 == 0 && p.maybe_lse) p.maybe_lse[row] = ll > 0.0f ? (mm + log2f(ll)) * kLn2 : -INFINITY;
}

template <typename T, int kHeadDim, int kBlockM>
constexpr int AttentionSmemBytes() {
  return (kBlockM + 2 * kBlockN) * kHeadDim * static_cast<int>(sizeof(T)) + 2 * kBlockN * 4;
}

// 4-warp (prefill) CTAs give each warp two 16-row m-tiles (128 rows per CTA).
constexpr int kPrefillMTiles = 2;

template <typename T, int kHeadDim, KvSource kSource, int kWarps>
KernelStatus LaunchTiles(const PrefillParams& p, const AttentionLaunch& l, cudaStream_t stream) {
  constexpr int kMTiles = kWarps == 4 ? kPrefillMTiles : 1;
  constexpr int kBlockM = 16 * kMTiles * kWarps;
  constexpr int kSmem = AttentionSmemBytes<T, kHeadDim, kBlockM>();
  // Raise the dynamic shared-memory limit once per instantiation (thread-safe static init).
  // Also prefer the largest shared-memory carveout: the default left room for 2 CTAs.
  static const cudaError_t attr_status = [] {
    const auto kernel = BatchPrefillKernel<T, kHeadDim, kSource, kWarps, kMTiles>;
    cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem);
    if (e != cudaSuccess) return e;
    return cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout, 100);
  }();
  CUDA_RETURN_IF_ERROR(attr_status);
  const int group_size = p.num_q_heads / p.kv.num_kv_heads;
  const int64_t m_tiles = (static_cast<int64_t>(p.max_q_len) * group_size + kBlockM - 1) / kBlockM;
  const int64_t z = static_cast<int64_t>(p.batch.num_seqs) * l.num_chunks;
  KERNEL_CHECK_ARG(m_tiles < (1LL << 31) && z <= 65535, "attention: grid too large");
  if (m_tiles == 0) return KernelStatus::Ok();
  SplitArgs split{l.num_chunks, l.chunk_size, l.num_q_tokens,
                  l.num_chunks > 1 || l.extra_o != nullptr || l.partials_only,
                  nullptr, nullptr, l.extra_o, l.extra_lse};
  if (split.write_partial) {
    KERNEL_CHECK_ARG(l.num_chunks == 1 || (l.chunk_size > 0 && l.chunk_size % kBlockN == 0),
                     "attention: bad split chunk");
    KERNEL_CHECK_ARG(l.workspace != nullptr &&
                         l.workspace_bytes >= SplitWorkspaceBytes(l.num_chunks, l.num_q_tokens, p.num_q_heads, kHeadDim,
                                                                  /*force=*/true),
                     "attention: split workspace too small");
    split.partial_o = static_cast<float*>(l.workspace);
    split.partial_lse = split.partial_o + static_cast<int64_t>(l.num_chunks) * l.num_q_tokens * p.num_q_heads * kHeadDim;
  }
  if (kWarps == 4 && UseWgmma(p)) {
    // Same grid and split semantics on Hopper tensor cores (prefill_wgmma.cu).
    static_assert(kWarps != 4 || kBlockM == 128, "the wgmma kernel's CTAs take 128 packed rows");
    if (KernelStatus s = LaunchPrefillWgmma(p, split, stream); !s.ok()) return s;
  } else {
    const dim3 grid(static_cast<unsigned>(m_tiles), p.kv.num_kv_heads, static_cast<unsigned>(z));
    BatchPrefillKernel<T, kHeadDim, kSource, kWarps, kMTiles><<<grid, kWarps * 32, kSmem, stream>>>(p, split);
    CUDA_RETURN_IF_LAUNCH_ERROR();
  }
  if (split.write_partial && !l.partials_only) {
    if (l.merge_after != nullptr) CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(stream, l.merge_after, 0));
    constexpr int kRowsPerBlock = 128 / (kHeadDim / 4);
    const int64_t rows = static_cast<int64_t>(l.num_q_tokens) * p.num_q_heads;
    MergeChunksKernel<T, kHeadDim>
        <<<static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock), 128, 0, stream>>>(p, split);
    CUDA_RETURN_IF_LAUNCH_ERROR();
  }
  return KernelStatus::Ok();
}

// The configurations we instantiate: prefill (4 warps) with paged or contiguous K/V, and
// decode / cascade-prefix (1 warp) over the paged cache.
template <typename T, int kHeadDim>
KernelStatus DispatchSourceWarps(const PrefillParams& p, const AttentionLaunch& l, cudaStream_t stream) {
  if (l.warps == 1) {
    KERNEL_CHECK_ARG(p.kv_source == KvSource::kPaged, "attention: 1-warp tiles read the paged cache only");
    return LaunchTiles<T, kHeadDim, KvSource::kPaged, 1>(p, l, stream);
  }
  KERNEL_CHECK_ARG(l.warps == 4, "attention: warps must be 1 or 4");
  if (p.kv_source == KvSource::kPaged) return LaunchTiles<T, kHeadDim, KvSource::kPaged, 4>(p, l, stream);
  return LaunchTiles<T, kHeadDim, KvSource::kContiguous, 4>(p, l, stream);
}

template <typename T>
KernelStatus DispatchHeadDim(const PrefillParams& p, const AttentionLaunch& l, cudaStream_t stream) {
  switch (p.kv.head_dim) {
    case 64: return DispatchSourceWarps<T, 64>(p, l, stream);
    case 128: return DispatchSourceWarps<T, 128>(p, l, stream);
    default: return InvalidArgument("attention: head_dim must be 64 or 128", __FILE__, __LINE__);
  }
}

}  // namespace

AttentionLaunch PlanSplit(int32_t warps, int64_t base_ctas, int32_t num_seqs, int32_t max_kv_len,
                          int32_t min_chunk, int64_t target_ctas) {
  AttentionLaunch l;
  l.warps = warps;
  if (base_ctas <= 0 || max_kv_len <= 0) return l;
  int64_t chunks = (target_ctas + base_ctas - 1) / base_ctas;
  const int64_t by_len = (static_cast<int64_t>(max_kv_len) + min_chunk - 1) / min_chunk;
  if (chunks > by_len) chunks = by_len;
  if (chunks > 64) chunks = 64;
  if (chunks * num_seqs > 65535) chunks = 65535 / (num_seqs > 0 ? num_seqs : 1);
  if (chunks <= 1) return l;
  int64_t size = (max_kv_len + chunks - 1) / chunks;
  size = (size + kAttnBlockN - 1) / kAttnBlockN * kAttnBlockN;
  l.num_chunks = static_cast<int32_t>((max_kv_len + size - 1) / size);
  l.chunk_size = static_cast<int32_t>(size);
  if (l.num_chunks <= 1) l.num_chunks = 1;
  return l;
}

KernelStatus LaunchAttentionCore(const PrefillParams& p, const AttentionLaunch& l, cudaStream_t stream) {
  KERNEL_CHECK_ARG(p.kv.num_kv_heads > 0 && p.num_q_heads % p.kv.num_kv_heads == 0, "attention: bad GQA ratio");
  if (p.batch.num_seqs == 0) return KernelStatus::Ok();
  switch (p.dtype) {
    case ScalarType::kF16: return DispatchHeadDim<__half>(p, l, stream);
    case ScalarType::kBF16: return DispatchHeadDim<__nv_bfloat16>(p, l, stream);
    default: return InvalidArgument("attention: dtype must be kF16 or kBF16", __FILE__, __LINE__);
  }
}

void SetPrefillPath(PrefillPath path) { PrefillPathSetting().store(static_cast<int>(path)); }
PrefillPath GetPrefillPath() { return static_cast<PrefillPath>(PrefillPathSetting().load()); }

KernelStatus PrefillAttention(const PrefillParams& p, cudaStream_t stream) {
  KERNEL_CHECK_ARG(p.q != nullptr && p.o != nullptr && p.batch.q_indptr != nullptr, "prefill: null pointer");
  if (p.kv_source == KvSource::kPaged) {
    KERNEL_CHECK_ARG(p.k_cache && p.v_cache && p.batch.kv_lens && p.batch.block_indptr && p.batch.block_ids,
                     "prefill: paged KV needs the cache and block tables");
  } else {
    KERNEL_CHECK_ARG(p.k && p.v && p.kv_indptr, "prefill: contiguous KV needs k, v and kv_indptr");
  }
  KERNEL_CHECK_ARG(GetPrefillPath() != PrefillPath::kWgmma || PrefillWgmmaSupported(p),
                   "prefill: the wgmma path needs sm_90, bf16/fp16, head_dim 64/128");
  AttentionLaunch l;
  l.warps = 4;
  return LaunchAttentionCore(p, l, stream);
}

}  // namespace radixserve::kernels::cuda
