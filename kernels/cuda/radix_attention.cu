#include "kernels/cuda/radix_attention.cuh"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "kernels/cuda/attention_core.cuh"
#include "kernels/cuda/flash_attention.cuh"
#include "kernels/cuda/mma_utils.cuh"
#include "kernels/cuda/paged_attention.cuh"
#include "kernels/cuda/prefill_wgmma.cuh"
#include "kernels/cuda/type_utils.cuh"

namespace radixserve::kernels::cuda {
namespace {

std::atomic<int>& CascadeModeSetting() {
  static std::atomic<int> mode{[] {
    const char* env = std::getenv("RS_CASCADE_MODE");
    if (env != nullptr && std::strcmp(env, "legacy") == 0) return static_cast<int>(CascadeMode::kLegacy);
    if (env != nullptr && std::strcmp(env, "fused") == 0) return static_cast<int>(CascadeMode::kFused);
    if (env != nullptr && std::strcmp(env, "pdl") == 0) return static_cast<int>(CascadeMode::kFusedPdl);
    return static_cast<int>(CascadeMode::kAuto);
  }()};
  return mode;
}

// ---- Fused suffix attention + merge.
//
// CTA = 4 warps for (sequence s, KV head h, 16-row tile of the GQA group's heads); rows are
// the group's query heads h * G + 16 * tile + r (as the decode tiles pack them). Warp w
// takes the suffix keys [32w, 32w + 32) + 128 i, in its own shared-memory slice (no CTA
// barrier in the loop): it computes that 32-row key table, issues cp.async for its K rows
// and the first 16 V rows at once (12 KB), runs S = Q K^T and the online softmax on
// mma.sync m16n8k16, then loads the other 16 V rows into the K space (free once S is in
// registers) while O += P V runs on the first 16. 48 KB of K/V per CTA (not 64) is what
// lets 4 CTAs share an SM: 528 slots hold all 512 CTAs of the benchmark shape at once
// (with 64 KB, 3 per SM, the last 116 CTAs ran as a second wave). Then the 4 warp states
// and the prefix pass's chunk partials (normalized o, lse in the log2 domain, L2-resident)
// merge into o and lse in one pass (online rescaling: every partial load is independent).
constexpr int kSmWarps = 4;
constexpr int kSmKeys = 32;  // keys per warp and step
constexpr int kSmRows = 16;  // query rows per CTA (one m16 tile)

struct SuffixMergeArgs {
  const float* partial_o;    // [num_chunks, num_seqs * num_q_heads, head_dim]
  const float* partial_lse;  // [num_chunks, num_seqs * num_q_heads], log2 domain
  int32_t num_chunks;
  bool wait_prior_grid;  // launched programmatically: griddepcontrol.wait before the partials
};

template <int kHeadDim>
struct SmLayout {
  static constexpr int kWarpBytes = (kSmKeys + kSmKeys / 2) * kHeadDim * 2;  // K[32] + V[16] (+ V[16] over K)
  static constexpr int kQOffset = kSmWarps * kWarpBytes;                     // Q [16][kHeadDim]
  static constexpr int kTableOffset = kQOffset + kSmRows * kHeadDim * 2;     // [4][32] int32
  static constexpr int kStatOffset = kTableOffset + kSmWarps * kSmKeys * 4;  // m, l [4][16] float
  static constexpr int kBytes = kStatOffset + 2 * kSmWarps * kSmRows * 4;
  // The warps' fp32 states [4][16][kHeadDim] go over the K/V space at the end.
  static_assert(kSmWarps * kSmRows * kHeadDim * 4 <= kQOffset);
};

template <int kHeadDim>
__device__ __forceinline__ int SmSwizzled(int row, int chunk) {
  return row * kHeadDim + ((chunk ^ (row & 7)) << 3);
}

// cp.async of `rows` key rows (K or V) from the row table (-1: zero-fill) into a swizzled tile.
template <typename T, int kHeadDim, int kRows>
__device__ __forceinline__ void SmLoadRows(T* dst, const T* base, const int32_t* table, int lane) {
  constexpr int kChunks = kHeadDim / 8;
#pragma unroll
  for (int j = 0; j < kRows * kChunks / 32; ++j) {
    const int i = lane + 32 * j, row = i / kChunks, c = i % kChunks;
    const int32_t r = table[row];
    CpAsync16(dst + SmSwizzled<kHeadDim>(row, c), base + (r >= 0 ? static_cast<int64_t>(r) * kHeadDim + c * 8 : 0),
              r >= 0);
  }
}

template <typename T, int kHeadDim>
__global__ void __launch_bounds__(kSmWarps * 32, 4)
    CascadeSuffixMergeKernel(const __grid_constant__ CascadeDecodeParams p, const SuffixMergeArgs a) {
  using L = SmLayout<kHeadDim>;
  constexpr int kChunks = kHeadDim / 8;
  constexpr int kKSteps = kHeadDim / 16;
  constexpr int kDTiles = kHeadDim / 8;
  constexpr int kNTiles = kSmKeys / 8;
  constexpr float kLog2e = 1.4426950408889634f;
  constexpr float kLn2 = 0.6931471805599453f;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int g = lane >> 2, tq = lane & 3;
  T* k_s = reinterpret_cast<T*>(smem_raw + warp * L::kWarpBytes);  // K [32]; later V rows 16..31
  T* v_s = k_s + kSmKeys * kHeadDim;                                 // V rows 0..15
  T* q_s = reinterpret_cast<T*>(smem_raw + L::kQOffset);
  int32_t* row_off = reinterpret_cast<int32_t*>(smem_raw + L::kTableOffset) + warp * kSmKeys;
  float* st_m = reinterpret_cast<float*>(smem_raw + L::kStatOffset);
  float* st_l = st_m + kSmWarps * kSmRows;
  float* st_o = reinterpret_cast<float*>(smem_raw);  // [4][16][kHeadDim], after the loop

  const int seq = blockIdx.x, kv_head = blockIdx.y;
  const int hkv = p.kv.num_kv_heads;
  const int group = p.num_q_heads / hkv;
  const int head0 = kv_head * group + blockIdx.z * kSmRows;
  const int num_rows = min(kSmRows, group - static_cast<int>(blockIdx.z) * kSmRows);
  const T* k_cache = static_cast<const T*>(p.k_cache);
  const T* v_cache = static_cast<const T*>(p.v_cache);
  const float qk_scale = p.sm_scale * kLog2e;

  // Q tile (rows past the group zero-filled): the CTA's first cp.async group.
  {
    const T* q = static_cast<const T*>(p.q) + (static_cast<int64_t>(seq) * p.num_q_heads + head0) * kHeadDim;
#pragma unroll
    for (int i = threadIdx.x; i < kSmRows * kChunks; i += kSmWarps * 32) {
      const int row = i / kChunks, c = i % kChunks;
      CpAsync16(q_s + SmSwizzled<kHeadDim>(row, c), q + (row < num_rows ? row * kHeadDim + c * 8 : 0), row < num_rows);
    }
    CpAsyncCommit();
  }
  const int suffix_len = p.suffix.kv_lens[seq];
  const int32_t* blocks = p.suffix.block_ids + p.suffix.block_indptr[seq];
  const int bs = p.kv.block_size;

  float o_acc[kDTiles][4];
#pragma unroll
  for (int d = 0; d < kDTiles; ++d) o_acc[d][0] = o_acc[d][1] = o_acc[d][2] = o_acc[d][3] = 0.0f;
  float row_m[2] = {-INFINITY, -INFINITY};
  float row_l[2] = {0.0f, 0.0f};

  bool first = true;
  for (int k0 = warp * kSmKeys; first || k0 < suffix_len; k0 += kSmWarps * kSmKeys) {
    const bool active = k0 < suffix_len;
    if (active) {
      const int token = k0 + lane;
      row_off[lane] = token < suffix_len ? (blocks[token / bs] * hkv + kv_head) * bs + token % bs : -1;
      __syncwarp();
      SmLoadRows<T, kHeadDim, kSmKeys>(k_s, k_cache, row_off, lane);
      SmLoadRows<T, kHeadDim, kSmKeys / 2>(v_s, v_cache, row_off, lane);
    }
    CpAsyncCommit();  // (empty for an idle warp: the group count stays uniform)
    if (first) {
      first = false;
      CpAsyncWait<1>();  // this thread's Q copies
      __syncthreads();   // ... and every thread's (the one CTA barrier before the merge)
      if (!active) break;
    }
    CpAsyncWait<0>();  // K and V rows 0..15
    __syncwarp();

    float s[kNTiles][4];
#pragma unroll
    for (int n = 0; n < kNTiles; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < kKSteps; ++kk) {
      uint32_t qf[4];
      LdMatrixX4(qf, q_s + SmSwizzled<kHeadDim>(lane & 15, kk * 2 + (lane >> 4)));
#pragma unroll
      for (int np = 0; np < kNTiles / 2; ++np) {
        uint32_t b[4];
        const int key = np * 16 + (lane & 7) + ((lane >> 4) << 3);
        LdMatrixX4(b, k_s + SmSwizzled<kHeadDim>(key, kk * 2 + ((lane >> 3) & 1)));
        Mma16816<T>(s[2 * np], qf, b);
        Mma16816<T>(s[2 * np + 1], qf, b + 2);
      }
    }
    __syncwarp();  // every lane is done reading K: V rows 16..31 go there
    SmLoadRows<T, kHeadDim, kSmKeys / 2>(k_s, v_cache, row_off + kSmKeys / 2, lane);
    CpAsyncCommit();

    // Mask keys past the suffix, online softmax (log2 domain), as the attention core does.
    float tile_max[2] = {-INFINITY, -INFINITY};
    const bool need_mask = k0 + kSmKeys > suffix_len;
#pragma unroll
    for (int n = 0; n < kNTiles; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        if (need_mask && k0 + n * 8 + 2 * tq + (e & 1) >= suffix_len) s[n][e] = -INFINITY;
        tile_max[e >> 1] = fmaxf(tile_max[e >> 1], s[n][e]);
      }
    }
    OnlineSoftmaxStep(s, tile_max, row_m, row_l, o_acc, qk_scale);
    // O += P V: keys 0..15 from v_s (landed), then keys 16..31 from the K space.
#pragma unroll
    for (int kk = 0; kk < kSmKeys / 16; ++kk) {
      if (kk == 1) {
        CpAsyncWait<0>();
        __syncwarp();
      }
      const T* vt = kk == 0 ? v_s : k_s;
      uint32_t pa[4];
      pa[0] = PackPair<T>(s[2 * kk][0], s[2 * kk][1]);
      pa[1] = PackPair<T>(s[2 * kk][2], s[2 * kk][3]);
      pa[2] = PackPair<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]);
      pa[3] = PackPair<T>(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
      for (int dp = 0; dp < kDTiles / 2; ++dp) {
        uint32_t b[4];
        const int key = (lane & 7) + (((lane >> 3) & 1) << 3);
        LdMatrixX4Trans(b, vt + SmSwizzled<kHeadDim>(key, dp * 2 + (lane >> 4)));
        Mma16816<T>(o_acc[2 * dp], pa, b);
        Mma16816<T>(o_acc[2 * dp + 1], pa, b + 2);
      }
    }
    __syncwarp();  // every lane is done with K/V before the next step's copies
  }

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  // The prefix pass (the previous grid) must be complete and its partials visible.
  if (a.wait_prior_grid) asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
  __syncthreads();  // every warp is done with its K/V tiles: the states go over them
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float l = row_l[r];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    const int row = g + 8 * r;
    if (row >= num_rows) continue;
    float* out = st_o + (warp * kSmRows + row) * kHeadDim;
#pragma unroll
    for (int d = 0; d < kDTiles; ++d) {
      *reinterpret_cast<float2*>(out + d * 8 + 2 * tq) = make_float2(o_acc[d][2 * r], o_acc[d][2 * r + 1]);
    }
    if (tq == 0) {
      st_m[warp * kSmRows + row] = row_m[r] == -INFINITY ? -INFINITY : row_m[r] * qk_scale;
      st_l[warp * kSmRows + row] = l;
    }
  }
  __syncthreads();

  // Merge: thread = 4 consecutive dims of one row; one pass with online rescaling, so the
  // chunk loads do not wait for a max computed first.
  constexpr int kThreadsPerRow = kHeadDim / 4;
  constexpr int kRowsPerPass = kSmWarps * 32 / kThreadsPerRow;
  const int d0 = (threadIdx.x % kThreadsPerRow) * 4;
  const int64_t total_rows = static_cast<int64_t>(p.suffix.num_seqs) * p.num_q_heads;
  for (int row = threadIdx.x / kThreadsPerRow; row < num_rows; row += kRowsPerPass) {
    const int64_t out_row = static_cast<int64_t>(seq) * p.num_q_heads + head0 + row;
    float mm = -INFINITY;
#pragma unroll
    for (int w = 0; w < kSmWarps; ++w) mm = fmaxf(mm, st_m[w * kSmRows + row]);
    float ll = 0.0f;
    float4 oo = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if (mm != -INFINITY) {
#pragma unroll
      for (int w = 0; w < kSmWarps; ++w) {
        const float f = FastExp2(st_m[w * kSmRows + row] - mm);  // warp state: unnormalized o, its sum l
        const float4 v = *reinterpret_cast<const float4*>(st_o + (w * kSmRows + row) * kHeadDim + d0);
        ll += f * st_l[w * kSmRows + row];
        oo.x += f * v.x;
        oo.y += f * v.y;
        oo.z += f * v.z;
        oo.w += f * v.w;
      }
    }
#pragma unroll 8
    for (int c = 0; c < a.num_chunks; ++c) {  // normalized partials
      const float lse = a.partial_lse[c * total_rows + out_row];
      const float4 v = *reinterpret_cast<const float4*>(a.partial_o + (c * total_rows + out_row) * kHeadDim + d0);
      const float m_new = fmaxf(mm, lse);
      const float sc = mm == -INFINITY ? 0.0f : FastExp2(mm - m_new);
      const float f = lse == -INFINITY ? 0.0f : FastExp2(lse - m_new);
      ll = ll * sc + f;
      oo.x = oo.x * sc + f * v.x;
      oo.y = oo.y * sc + f * v.y;
      oo.z = oo.z * sc + f * v.z;
      oo.w = oo.w * sc + f * v.w;
      mm = m_new;
    }
    const float inv = ll > 0.0f ? 1.0f / ll : 0.0f;
    T* out = static_cast<T*>(p.o) + out_row * kHeadDim + d0;
    uint2 packed;
    packed.x = PackPair<T>(oo.x * inv, oo.y * inv);
    packed.y = PackPair<T>(oo.z * inv, oo.w * inv);
    *reinterpret_cast<uint2*>(out) = packed;
    if (d0 == 0 && p.maybe_lse != nullptr) p.maybe_lse[out_row] = ll > 0.0f ? (mm + log2f(ll)) * kLn2 : -INFINITY;
  }
}

template <typename T, int kHeadDim>
KernelStatus LaunchSuffixMergeTyped(const CascadeDecodeParams& p, const SuffixMergeArgs& a, cudaStream_t stream) {
  constexpr int kSmem = SmLayout<kHeadDim>::kBytes;
  const auto kernel = CascadeSuffixMergeKernel<T, kHeadDim>;
  static const cudaError_t attr_status = [&] {
    cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem);
    if (e != cudaSuccess) return e;
    return cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout, 100);
  }();
  CUDA_RETURN_IF_ERROR(attr_status);
  const int group = p.num_q_heads / p.kv.num_kv_heads;
  KERNEL_CHECK_ARG(p.kv.num_kv_heads <= 65535 && (group + kSmRows - 1) / kSmRows <= 65535, "cascade: grid too large");
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(static_cast<unsigned>(p.suffix.num_seqs), static_cast<unsigned>(p.kv.num_kv_heads),
                     static_cast<unsigned>((group + kSmRows - 1) / kSmRows));
  cfg.blockDim = dim3(kSmWarps * 32);
  cfg.dynamicSmemBytes = kSmem;
  cfg.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = a.wait_prior_grid ? 1 : 0;
  CUDA_RETURN_IF_ERROR(cudaLaunchKernelEx(&cfg, kernel, p, a));
  return KernelStatus::Ok();
}

KernelStatus LaunchSuffixMerge(const CascadeDecodeParams& p, const SuffixMergeArgs& a, cudaStream_t stream) {
  const bool bf16 = p.dtype == ScalarType::kBF16;
  KERNEL_CHECK_ARG(bf16 || p.dtype == ScalarType::kF16, "cascade: dtype must be kF16 or kBF16");
  switch (p.kv.head_dim) {
    case 64:
      return bf16 ? LaunchSuffixMergeTyped<__nv_bfloat16, 64>(p, a, stream)
                  : LaunchSuffixMergeTyped<__half, 64>(p, a, stream);
    case 128:
      return bf16 ? LaunchSuffixMergeTyped<__nv_bfloat16, 128>(p, a, stream)
                  : LaunchSuffixMergeTyped<__half, 128>(p, a, stream);
    default: return InvalidArgument("cascade: head_dim must be 64 or 128", __FILE__, __LINE__);
  }
}

// Workspace layout (each piece 256-byte aligned):
//   suffix_o   [num_seqs, num_q_heads, head_dim]  dtype
//   prefix_lse [num_seqs, num_q_heads]            float (unused; kept for layout stability)
//   suffix_lse [num_seqs, num_q_heads]            float
//   decode workspace for the suffix pass
//   split workspace for the prefix pass
struct CascadeWorkspace {
  void* prefix_ws;
  int64_t prefix_ws_bytes;
  void* suffix_o;
  float* prefix_lse;
  float* suffix_lse;
  void* decode_ws;
  int64_t decode_ws_bytes;
  int64_t total_bytes;
};

int64_t AlignUp(int64_t v) { return (v + 255) / 256 * 256; }

// The suffix decode runs on a side stream, concurrently with the prefix pass (each alone
// leaves most of the GPU idle), and joins before the merge. One side stream and two
// events per host thread, created on first use on the then-current device; the fork/join
// through events is also valid inside CUDA-graph capture.
struct SideStream {
  cudaStream_t stream = nullptr;
  cudaEvent_t fork = nullptr;
  cudaEvent_t join = nullptr;
  cudaError_t status = cudaSuccess;
  SideStream() {
    status = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
    if (status == cudaSuccess) status = cudaEventCreateWithFlags(&fork, cudaEventDisableTiming);
    if (status == cudaSuccess) status = cudaEventCreateWithFlags(&join, cudaEventDisableTiming);
  }
};

SideStream& ThreadSideStream() {
  thread_local SideStream side;
  return side;
}

// The prefix pass: 4-warp CTAs over (group rows, KV head, group); long shared prefixes
// are split so that a handful of groups still fill the GPU.
AttentionLaunch PlanPrefix(int32_t num_groups, int32_t num_seqs, int32_t num_q_heads, int32_t num_kv_heads,
                           int32_t max_group_size, int32_t max_prefix_len) {
  if (num_groups <= 0 || num_kv_heads <= 0) return AttentionLaunch{};
  const int64_t rows = static_cast<int64_t>(max_group_size) * (num_q_heads / num_kv_heads);
  const int64_t base = (rows + 127) / 128 * num_kv_heads * num_groups;  // 128-row prefill CTAs
  // About one CTA per SM; the suffix decode runs alongside. (The wgmma prefix tiles take
  // a whole SM each: at 2 per SM the 256 chunks of the benchmark ran as two waves, 48.4 µs
  // vs 41.1 µs; the mma.sync tiles were 49.0 vs 48.2 µs, H200, same run.)
  AttentionLaunch l = PlanSplit(4, base, num_groups, max_prefix_len, 256, 132);
  l.num_q_tokens = num_seqs;
  return l;
}

CascadeWorkspace Carve(void* base, int32_t num_seqs, int32_t num_q_heads, int32_t num_kv_heads, int32_t head_dim,
                       int32_t max_suffix_len, const AttentionLaunch& prefix) {
  CascadeWorkspace ws{};
  char* p = static_cast<char*>(base);
  const int64_t rows = static_cast<int64_t>(num_seqs) * num_q_heads;
  int64_t off = 0;
  ws.suffix_o = p + off;
  off += AlignUp(rows * head_dim * 2);
  ws.prefix_lse = reinterpret_cast<float*>(p + off);
  off += AlignUp(rows * 4);
  ws.suffix_lse = reinterpret_cast<float*>(p + off);
  off += AlignUp(rows * 4);
  ws.decode_ws = p + off;
  ws.decode_ws_bytes = DecodeWorkspaceBytes(num_seqs, num_q_heads, num_kv_heads, head_dim, max_suffix_len);
  off += AlignUp(ws.decode_ws_bytes);
  ws.prefix_ws = p + off;
  ws.prefix_ws_bytes = SplitWorkspaceBytes(prefix.num_chunks, num_seqs, num_q_heads, head_dim, /*force=*/true);
  off += AlignUp(ws.prefix_ws_bytes);
  ws.total_bytes = off;
  return ws;
}

}  // namespace

int64_t CascadeWorkspaceBytes(int32_t num_groups, int32_t num_seqs, int32_t num_q_heads, int32_t num_kv_heads,
                              int32_t head_dim, int32_t max_group_size, int32_t max_prefix_len,
                              int32_t max_suffix_len) {
  const AttentionLaunch prefix =
      PlanPrefix(num_groups, num_seqs, num_q_heads, num_kv_heads, max_group_size, max_prefix_len);
  return Carve(nullptr, num_seqs, num_q_heads, num_kv_heads, head_dim, max_suffix_len, prefix).total_bytes;
}

KernelStatus CascadeDecode(const CascadeDecodeParams& p, cudaStream_t stream) {
  KERNEL_CHECK_ARG(p.q && p.o && p.k_cache && p.v_cache && p.group_indptr && p.prefix_lens &&
                       p.prefix_block_indptr && p.prefix_block_ids,
                   "cascade: null pointer");
  const int32_t num_seqs = p.suffix.num_seqs;
  if (num_seqs == 0) return KernelStatus::Ok();
  KERNEL_CHECK_ARG(p.num_groups > 0 && p.max_group_size > 0, "cascade: every sequence belongs to a group");
  AttentionLaunch prefix = PlanPrefix(p.num_groups, num_seqs, p.num_q_heads, p.kv.num_kv_heads, p.max_group_size,
                                      p.max_prefix_len);
  const CascadeWorkspace ws =
      Carve(p.workspace, num_seqs, p.num_q_heads, p.kv.num_kv_heads, p.kv.head_dim, p.max_suffix_len, prefix);
  prefix.workspace = ws.prefix_ws;
  prefix.workspace_bytes = ws.prefix_ws_bytes;
  KERNEL_CHECK_ARG(p.workspace != nullptr && p.workspace_bytes >= ws.total_bytes, "cascade: workspace too small");

  // The prefix pass: per group, a non-causal "prefill" whose query tokens are the group's
  // sequences, split over the prefix keys.
  PrefillParams pre;
  pre.dtype = p.dtype;
  pre.kv_source = KvSource::kPaged;
  pre.q = p.q;
  pre.o = p.o;
  pre.maybe_lse = p.maybe_lse;
  pre.k_cache = p.k_cache;
  pre.v_cache = p.v_cache;
  pre.kv = p.kv;
  pre.batch.num_seqs = p.num_groups;
  pre.batch.q_indptr = p.group_indptr;
  pre.batch.kv_lens = p.prefix_lens;
  pre.batch.block_indptr = p.prefix_block_indptr;
  pre.batch.block_ids = p.prefix_block_ids;
  pre.num_q_heads = p.num_q_heads;
  pre.sm_scale = p.sm_scale;
  pre.causal = false;
  pre.max_q_len = p.max_group_size;

  const CascadeMode mode = GetCascadeMode();
  // Auto fuses where the prefix pass runs on the wgmma kernel: on the mma.sync prefix the
  // legacy side-stream overlap measured faster (47.3 vs 54.8 us, H200, forced mma path).
  const bool prefix_on_wgmma = GetPrefillPath() != PrefillPath::kMma && PrefillWgmmaSupported(pre);
  const bool fused = p.max_suffix_len <= kCascadeFusedMaxSuffix &&
                     (mode == CascadeMode::kFused || mode == CascadeMode::kFusedPdl ||
                      (mode == CascadeMode::kAuto && prefix_on_wgmma));
  if (fused) {
    // Fused: the prefix pass leaves its chunk partials in the workspace; one kernel then
    // attends to each sequence's suffix and merges them (suffix state never leaves the SM).
    KERNEL_CHECK_ARG(p.suffix.kv_lens && p.suffix.block_indptr && p.suffix.block_ids, "cascade: null suffix table");
    prefix.partials_only = true;
    if (KernelStatus st = LaunchAttentionCore(pre, prefix, stream); !st.ok()) return st;
    SuffixMergeArgs a;
    a.partial_o = static_cast<const float*>(ws.prefix_ws);
    a.partial_lse = a.partial_o + static_cast<int64_t>(prefix.num_chunks) * num_seqs * p.num_q_heads * p.kv.head_dim;
    a.num_chunks = prefix.num_chunks;
    // Programmatic launch only where the build has griddepcontrol.wait (the sm_90a code).
    a.wait_prior_grid =
        (mode == CascadeMode::kFusedPdl || mode == CascadeMode::kAuto) && PrefillWgmmaSupported(pre);
    return LaunchSuffixMerge(p, a, stream);
  }

  // Legacy.
  // 1. Each sequence's own suffix: paged decode into the workspace (state + lse), on the
  //    side stream.
  SideStream& side = ThreadSideStream();
  CUDA_RETURN_IF_ERROR(side.status);
  CUDA_RETURN_IF_ERROR(cudaEventRecord(side.fork, stream));
  CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(side.stream, side.fork, 0));
  DecodeParams dec;
  dec.dtype = p.dtype;
  dec.q = p.q;
  dec.o = ws.suffix_o;
  dec.maybe_lse = ws.suffix_lse;
  dec.k_cache = p.k_cache;
  dec.v_cache = p.v_cache;
  dec.kv = p.kv;
  dec.batch = p.suffix;
  dec.num_q_heads = p.num_q_heads;
  dec.sm_scale = p.sm_scale;
  dec.max_kv_len = p.max_suffix_len;
  dec.workspace = ws.decode_ws;
  dec.workspace_bytes = ws.decode_ws_bytes;
  KernelStatus suffix_status = DecodeWithPagedKv(dec, side.stream);
  // Join even on failure, so the side stream never outlives a capture unjoined.
  CUDA_RETURN_IF_ERROR(cudaEventRecord(side.join, side.stream));
  if (!suffix_status.ok()) {
    CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(stream, side.join, 0));
    return suffix_status;
  }

  // 2. The prefix pass; its merge pass also folds in the suffix state, writing o and
  //    maybe_lse.
  prefix.extra_o = ws.suffix_o;
  prefix.extra_lse = ws.suffix_lse;
  prefix.merge_after = side.join;
  if (KernelStatus s = LaunchAttentionCore(pre, prefix, stream); !s.ok()) {
    CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(stream, side.join, 0));
    return s;
  }
  return KernelStatus::Ok();
}

void SetCascadeMode(CascadeMode mode) { CascadeModeSetting().store(static_cast<int>(mode)); }
CascadeMode GetCascadeMode() { return static_cast<CascadeMode>(CascadeModeSetting().load()); }

}  // namespace radixserve::kernels::cuda
