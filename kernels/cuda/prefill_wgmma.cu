// Hopper prefill attention: FlashAttention on wgmma (sm_90a), for PrefillAttention and
// the cascade's shared-prefix pass (split-KV).
//
// CTA = 3 warpgroups: a producer and 2 consumers x 64 packed query rows (128 rows, GQA-
// packed as in the mma.sync core: packed row R of (sequence, KV head) is token
// R / group_size, head-in-group R % group_size), key tiles of 128. Per consumer and tile j:
//   S_j = Q K_j^T        wgmma m64n128k16, Q and K both from shared memory (K-major)
//   P_j = exp2(S_j * scale*log2e - m)   in registers, fp32 -> bf16/fp16
//   O  += P_j V_j        wgmma m64nDk16, P as the register A operand, V from shared memory
//                        ([key][dim] = MN-major B, transpose bit)
// Intra-warpgroup overlap: S_j and O += P_{j-1} V_{j-1} are issued together, the softmax
// of S_j runs while the PV product is still on the tensor cores, and O is rescaled after
// it lands (O then holds P_{j-1} V_{j-1} relative to m_{j-1}, which the rescale moves to m_j).
//
// Loads: the producer warpgroup (setmaxnreg down to 32 registers; the consumers get 232)
// computes each tile's key table (paged or contiguous KV alike) and issues cp.async for
// every 16-byte chunk into the 128-byte-swizzle layout wgmma reads (wgmma_utils.cuh), K and
// V double-buffered; cp.async.mbarrier.arrive signals a stage full when its copies land,
// consumers fence it into the async proxy (fence.proxy.async) before their wgmma and give
// it back through an "empty" mbarrier. No CTA-wide barrier in the loop. No TMA yet.
#include "kernels/cuda/prefill_wgmma.cuh"

#include <atomic>

#include "kernels/cuda/attention_core.cuh"
#include "kernels/cuda/mma_utils.cuh"
#include "kernels/cuda/wgmma_utils.cuh"

namespace radixserve::kernels::cuda {
namespace {

// Warpgroup 0 loads (producer), warpgroups 1 and 2 compute (consumers, 64 query rows each).
constexpr int kConsumers = 2;
constexpr int kThreads = (kConsumers + 1) * 128;
constexpr int kBlockM = kConsumers * 64;  // packed query rows per CTA
// setmaxnreg budgets must fit the CTA's launch allocation (168 x 384 = 64512 registers):
// 128 * 32 + 256 * 232 = 63488. (32 / 240 = 65536 deadlocked: the consumers' setmaxnreg.inc
// waits forever for registers the pool never had.)
[[maybe_unused]] constexpr int kProducerRegs = 32;
[[maybe_unused]] constexpr int kConsumerRegs = 232;
constexpr int kBlockN = 128;               // keys per tile
// [[maybe_unused]]: the compute_80 pass compiles the kernel body away (no wgmma there).
[[maybe_unused]] constexpr float kLog2e = 1.4426950408889634f;
[[maybe_unused]] constexpr float kLn2 = 0.6931471805599453f;

// Byte offset of 16-byte chunk `chunk` (8 elements of the head dim) of row `row` in a
// [rows][head_dim] tile in the 128-byte-swizzle layout: 64-column panels one after the
// other, 128 bytes per row and panel, chunks XOR-ed with row % 8.
[[maybe_unused]] __device__ __forceinline__ uint32_t Sw128Offset(int rows, int row, int chunk) {
  return static_cast<uint32_t>((chunk >> 3) * rows * 128 + row * 128 + (((chunk & 7) ^ (row & 7)) << 4));
}

template <int kHeadDim>
struct Layout {
  static constexpr int kQBytes = kBlockM * kHeadDim * 2;
  static constexpr int kKvBytes = kBlockN * kHeadDim * 2;  // one K or V tile
  static constexpr int kTableOffset = kQBytes + 4 * kKvBytes;  // Q, K[2], V[2], row tables [2]
  static constexpr int kBarrierOffset = kTableOffset + 2 * kBlockN * 8;
  static constexpr int kSmemBytes = kBarrierOffset + 9 * 8 + 1024;  // + alignment slack
};

// Byte offset of each key row of the tile starting at tile_start inside the K (= V)
// storage (0 past kv_len: those rows are the tile's tail and are zero-filled); shared by
// the K and V loads of the tile. Byte offsets (not row indices) keep the copy loop at one
// 64-bit add per chunk.
template <KvSource kSource, int kHeadDim>
__device__ __forceinline__ void ComputeRowTable(const PrefillParams& p, int64_t seq_kv_start, int kv_head,
                                                int tile_start, int kv_len, const int32_t* blocks, int64_t* table) {
  const int r = threadIdx.x;
  if (r < kBlockN) {
    const int token = tile_start + r;
    table[r] = token < kv_len ? KeyRowOffset<kSource>(p, seq_kv_start, kv_head, token, blocks, kHeadDim) * 2 : 0;
  }
}

// cp.async of one [kBlockN, kHeadDim] K or V tile into the swizzled layout; rows from
// valid_rows on (past kv_len) are zero-filled (so 0 * garbage never makes NaN). A thread copies the
// same chunk of rows row0, row0 + kRowsPerPass, ...; kRowsPerPass is a multiple of 8, so
// the swizzle (row % 8) and hence the shared offset step are the same on every pass.
template <typename T, int kHeadDim>
__device__ __forceinline__ void LoadKvTile(const T* base, unsigned char* tile, const int64_t* table, int valid_rows) {
  constexpr int kChunks = kHeadDim / 8;
  constexpr int kRowsPerPass = 128 / kChunks;  // the producer warpgroup's threads copy
  static_assert(kRowsPerPass % 8 == 0 && kBlockN % kRowsPerPass == 0);
  const int chunk = threadIdx.x % kChunks, row0 = threadIdx.x / kChunks;
  unsigned char* dst = tile + Sw128Offset(kBlockN, row0, chunk);
  const unsigned char* src = reinterpret_cast<const unsigned char*>(base) + chunk * 16;
#pragma unroll
  for (int it = 0; it < kBlockN / kRowsPerPass; ++it) {
    const int row = row0 + it * kRowsPerPass;
    CpAsync16(dst + it * kRowsPerPass * 128, src + table[row], row < valid_rows);
  }
}

template <int kId, int kCount>
__device__ __forceinline__ void NamedBarrierSync() {
  asm volatile("bar.sync %0, %1;\n" ::"n"(kId), "n"(kCount) : "memory");
}

// Online-softmax state of this thread's two rows (g and g + 8 of its warp's 16).
struct RowState {
  float m[2];  // running max of the raw scores
  float l[2];  // this thread's share of the running sum
  int q_pos[2];  // causal position of the row's token
};

// Masks S (128 keys from tile_start), updates m and l, turns S into unnormalized
// probabilities in place, and returns the factors the previous O must be scaled by.
// kMask: the tile reaches past mask_from (causal diagonal or the sequence end); the
// other tiles skip the per-element compares entirely.
template <bool kMask>
__device__ __forceinline__ void SoftmaxTile(float* s, RowState& st, int tile_start, int kv_len, bool causal,
                                            float qk_scale, int tq, float* rescale) {
  // Two partial maxima / sums per row (columns e & 1) halve the dependent chains.
  float part_max[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
#pragma unroll
  for (int n = 0; n < kBlockN / 8; ++n) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      float& x = s[4 * n + e];
      if constexpr (kMask) {
        const int key = tile_start + n * 8 + 2 * tq + (e & 1);
        if (key >= kv_len || (causal && key > st.q_pos[e >> 1])) x = -INFINITY;
      }
      part_max[e] = fmaxf(part_max[e], x);
    }
  }
  float tile_max[2] = {fmaxf(part_max[0], part_max[1]), fmaxf(part_max[2], part_max[3])};
  float neg_m[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 1));
    tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 2));
    const float m_new = fmaxf(st.m[r], tile_max[r]);
    rescale[r] = st.m[r] == -INFINITY ? 0.0f : FastExp2((st.m[r] - m_new) * qk_scale);
    st.m[r] = m_new;
    neg_m[r] = m_new == -INFINITY ? 0.0f : -m_new * qk_scale;
  }
  float sum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
  for (int i = 0; i < kBlockN / 2; ++i) {
    s[i] = FastExp2(fmaf(s[i], qk_scale, neg_m[(i >> 1) & 1]));
    sum[i & 3] += s[i];
  }
#pragma unroll
  for (int r = 0; r < 2; ++r) st.l[r] = st.l[r] * rescale[r] + (sum[2 * r] + sum[2 * r + 1]);
}

// P (fp32 S accumulators, 16 n8 tiles) -> A fragments of the PV product: k-step kk takes
// n-tiles 2kk and 2kk + 1, in the m16n8k16 A layout wgmma's register operand uses.
template <typename T>
__device__ __forceinline__ void PackP(const float* s, uint32_t* pf) {
#pragma unroll
  for (int kk = 0; kk < kBlockN / 16; ++kk) {
    pf[4 * kk + 0] = PackPair<T>(s[8 * kk + 0], s[8 * kk + 1]);
    pf[4 * kk + 1] = PackPair<T>(s[8 * kk + 2], s[8 * kk + 3]);
    pf[4 * kk + 2] = PackPair<T>(s[8 * kk + 4], s[8 * kk + 5]);
    pf[4 * kk + 3] = PackPair<T>(s[8 * kk + 6], s[8 * kk + 7]);
  }
}

// Producer / consumer pipeline state in shared memory: *_full complete when the
// producer's 128 threads' copies of a stage have landed; *_empty when the 8 consumer warps
// are done reading it.
struct Barriers {
  uint64_t q_full;
  uint64_t k_full[2], v_full[2];
  uint64_t k_empty[2], v_empty[2];
};

// Consumer warp: tell the producer this warp is done with a stage.
[[maybe_unused]] __device__ __forceinline__ void ReleaseStage(uint64_t* bar) {
  __syncwarp();
  if ((threadIdx.x & 31) == 0) MbarArrive(bar);
}

// grid: [ceil(max_q_len * group_size / kBlockM), num_kv_heads, num_seqs * num_chunks];
// heaviest causal tiles first. With split.num_chunks > 1 the CTA covers keys [chunk *
// chunk_size, (chunk + 1) * chunk_size) and writes a normalized partial state (lse in the
// log2 domain) to the split workspace instead of o, as the mma.sync core does.
// Warpgroup 0 (32 registers) computes the key tables and issues every cp.async, two
// stages ahead, signalling each stage on an mbarrier; warpgroups 1-2 (232 registers) only
// wait on those, run wgmma and the softmax, and release stages back to the producer.
template <typename T, int kHeadDim, KvSource kSource>
__global__ void __launch_bounds__(kThreads, 1)
    PrefillWgmmaKernel(const __grid_constant__ PrefillParams p, const SplitArgs split) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  // A kernel launched after this one with programmatic stream serialization (the
  // cascade's suffix-and-merge pass) may start its CTAs on SMs this grid leaves free; it
  // waits (griddepcontrol.wait) for this grid's completion before reading its output.
  // Without such a dependent this is a no-op.
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
  using L = Layout<kHeadDim>;
  constexpr int kChunks = kHeadDim / 8;
  constexpr int kDAcc = kHeadDim / 2;  // O accumulators per thread
  constexpr int kSAcc = kBlockN / 2;   // S accumulators per thread
  extern __shared__ unsigned char smem_raw[];
  // wgmma's 128-byte swizzle atoms must be 1024-byte aligned.
  unsigned char* smem = smem_raw + ((1024 - (SmemAddr(smem_raw) & 1023)) & 1023);
  unsigned char* q_s = smem;
  unsigned char* k_s = smem + L::kQBytes;      // [2] tiles
  unsigned char* v_s = k_s + 2 * L::kKvBytes;  // [2] tiles
  int64_t(*tables)[kBlockN] = reinterpret_cast<int64_t(*)[kBlockN]>(smem + L::kTableOffset);  // [2]
  Barriers* bars = reinterpret_cast<Barriers*>(smem + L::kBarrierOffset);

  const int seq = blockIdx.z / split.num_chunks;
  const int chunk = blockIdx.z % split.num_chunks;
  const int kv_head = blockIdx.y;
  const int group_size = p.num_q_heads / p.kv.num_kv_heads;
  const int q_start = p.batch.q_indptr[seq];
  const int q_len = p.batch.q_indptr[seq + 1] - q_start;
  const int kv_len = kSource == KvSource::kPaged ? p.batch.kv_lens[seq] : p.kv_indptr[seq + 1] - p.kv_indptr[seq];
  const int packed_rows = q_len * group_size;
  const int row0 = (gridDim.x - 1 - blockIdx.x) * kBlockM;
  if (row0 >= packed_rows) return;

  // Key range: causal rows see keys up to kv_len - q_len + token; this CTA's chunk ends
  // at key_limit (keys past it are masked, and not loaded); tiles reaching past mask_from
  // need the per-element mask.
  const int last_row = min(row0 + kBlockM, packed_rows) - 1;
  const int first_token = row0 / group_size, last_token = last_row / group_size;
  const int kv_begin = split.num_chunks > 1 ? chunk * split.chunk_size : 0;
  const int key_limit = split.num_chunks > 1 ? min(kv_len, kv_begin + split.chunk_size) : kv_len;
  const int kv_end = min(key_limit, p.causal ? kv_len - q_len + last_token + 1 : kv_len);
  const int mask_from = min(key_limit, p.causal ? kv_len - q_len + first_token + 1 : kv_len);
  const int num_tiles = kv_end > kv_begin ? (kv_end - kv_begin + kBlockN - 1) / kBlockN : 0;

  if (threadIdx.x == 0) {
    MbarInit(&bars->q_full, 128);
#pragma unroll
    for (int st = 0; st < 2; ++st) {
      MbarInit(&bars->k_full[st], 128);
      MbarInit(&bars->v_full[st], 128);
      MbarInit(&bars->k_empty[st], 4 * kConsumers);
      MbarInit(&bars->v_empty[st], 4 * kConsumers);
    }
  }
  __syncthreads();

  if (threadIdx.x < 128) {
    // ---- Producer warpgroup.
    SetMaxRegsDec<kProducerRegs>();
    const int32_t* blocks = kSource == KvSource::kPaged ? p.batch.block_ids + p.batch.block_indptr[seq] : nullptr;
    const int64_t seq_kv_start = kSource == KvSource::kContiguous ? p.kv_indptr[seq] : 0;
    const T* k_base = static_cast<const T*>(kSource == KvSource::kPaged ? p.k_cache : p.k);
    const T* v_base = static_cast<const T*>(kSource == KvSource::kPaged ? p.v_cache : p.v);
    // Q tile (rows past the sequence zero-filled).
    const T* q = static_cast<const T*>(p.q);
#pragma unroll 4
    for (int i = threadIdx.x; i < kBlockM * kChunks; i += 128) {
      const int row = i / kChunks, c = i % kChunks;
      const int r = row0 + row;
      const bool valid = r < packed_rows;
      const int token = valid ? r / group_size : 0;
      const int head = kv_head * group_size + (valid ? r % group_size : 0);
      const T* src = q + (static_cast<int64_t>(q_start + token) * p.num_q_heads + head) * kHeadDim + c * 8;
      CpAsync16(q_s + Sw128Offset(kBlockM, row, c), src, valid);
    }
    CpAsyncMbarArrive(&bars->q_full);
    for (int j = 0; j < num_tiles; ++j) {
      const int stage = j & 1, phase = (j >> 1) & 1;
      const int tile_start = kv_begin + j * kBlockN;
      // Table slot `stage` last served tile j - 2, whose copies every producer thread
      // issued before the previous producer barrier.
      ComputeRowTable<kSource, kHeadDim>(p, seq_kv_start, kv_head, tile_start, key_limit, blocks, tables[stage]);
      NamedBarrierSync<2, 128>();
      MbarWait(&bars->k_empty[stage], phase ^ 1);  // fresh barriers pass parity 1 at once
      LoadKvTile<T, kHeadDim>(k_base, k_s + stage * L::kKvBytes, tables[stage], key_limit - tile_start);
      CpAsyncMbarArrive(&bars->k_full[stage]);
      MbarWait(&bars->v_empty[stage], phase ^ 1);
      LoadKvTile<T, kHeadDim>(v_base, v_s + stage * L::kKvBytes, tables[stage], key_limit - tile_start);
      CpAsyncMbarArrive(&bars->v_full[stage]);
    }
    asm volatile("cp.async.wait_all;\n" ::: "memory");  // no copy outlives its issuer
    return;
  }

  // ---- Consumer warpgroups.
  SetMaxRegsInc<kConsumerRegs>();
  const int cw = threadIdx.x / 128 - 1;
  const int lane = threadIdx.x & 31, g = lane >> 2, tq = lane & 3;
  const int thread_row = row0 + cw * 64 + ((threadIdx.x / 32) & 3) * 16 + g;  // rows thread_row, + 8

  float o[kDAcc];
#pragma unroll
  for (int i = 0; i < kDAcc; ++i) o[i] = 0.0f;
  RowState st;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    st.m[r] = -INFINITY;
    st.l[r] = 0.0f;
    st.q_pos[r] = kv_len - q_len + (thread_row + 8 * r) / group_size;
  }
  const float qk_scale = p.sm_scale * kLog2e;

  if (num_tiles > 0) {
    // Descriptors: Q rows of this warpgroup, and the K / V tiles (SBO = 1024 bytes between
    // 8-row groups; V's LBO = distance between its 64-dim panels).
    const uint32_t q_addr = SmemAddr(q_s) + cw * 64 * 128;
    const uint32_t k_addr = SmemAddr(k_s), v_addr = SmemAddr(v_s);
    auto qk_product = [&](float* s, int buf) {
#pragma unroll
      for (int kk = 0; kk < kHeadDim / 16; ++kk) {
        const uint32_t in_panel = (kk & 3) * 32;  // 16 elements = 32 bytes into the 128-byte row
        const uint64_t da = SmemDescSw128(q_addr + (kk >> 2) * kBlockM * 128 + in_panel, 16, 1024);
        const uint64_t db = SmemDescSw128(k_addr + buf * L::kKvBytes + (kk >> 2) * kBlockN * 128 + in_panel, 16, 1024);
        Wgmma<T, kBlockN>::template SS<0>(s, da, db, kk > 0 ? 1 : 0);
      }
    };
    auto pv_product = [&](const uint32_t* pf, int buf) {
#pragma unroll
      for (int kk = 0; kk < kBlockN / 16; ++kk) {
        const uint64_t db = SmemDescSw128(v_addr + buf * L::kKvBytes + kk * 16 * 128, kBlockN * 128, 1024);
        Wgmma<T, kHeadDim>::template RS<1>(o, pf + 4 * kk, db);
      }
    };
    // The copies were made by the producer's threads (generic proxy); once their
    // mbarrier phase completed, this fence orders them before this thread's wgmma reads.
    auto wait_stage = [](uint64_t* bar, int parity) {
      MbarWait(bar, parity);
      FenceProxyAsyncShared();
    };

    float s[kSAcc];
#pragma unroll
    for (int i = 0; i < kSAcc; ++i) s[i] = 0.0f;
    uint32_t pf[kBlockN / 16 * 4];
    float rescale[2];
    wait_stage(&bars->q_full, 0);
    wait_stage(&bars->k_full[0], 0);
    WgmmaFence();
    qk_product(s, 0);
    WgmmaCommit();
    WgmmaWait<0>();
#pragma unroll
    for (int i = 0; i < kSAcc; ++i) FenceOperand(s[i]);
    ReleaseStage(&bars->k_empty[0]);
    if (kv_begin + kBlockN > mask_from) {
      SoftmaxTile<true>(s, st, kv_begin, key_limit, p.causal, qk_scale, tq, rescale);
    } else {
      SoftmaxTile<false>(s, st, kv_begin, key_limit, p.causal, qk_scale, tq, rescale);
    }
    PackP<T>(s, pf);

    for (int j = 1; j < num_tiles; ++j) {
      const int tile_start = kv_begin + j * kBlockN;
      const int cur = j & 1, prev = (j - 1) & 1;
      wait_stage(&bars->k_full[cur], (j >> 1) & 1);
      WgmmaFence();
      qk_product(s, cur);
      WgmmaCommit();
      // Both warpgroups' S products go to the tensor cores before either PV product, so
      // both softmaxes can start early and overlap both PV products.
      NamedBarrierSync<1, 128 * kConsumers>();
      wait_stage(&bars->v_full[prev], ((j - 1) >> 1) & 1);
      pv_product(pf, prev);
      WgmmaCommit();

      WgmmaWait<1>();  // S_j landed; PV_{j-1} may still run
#pragma unroll
      for (int i = 0; i < kSAcc; ++i) FenceOperand(s[i]);
      ReleaseStage(&bars->k_empty[cur]);
      if (tile_start + kBlockN > mask_from) {
        SoftmaxTile<true>(s, st, tile_start, key_limit, p.causal, qk_scale, tq, rescale);
      } else {
        SoftmaxTile<false>(s, st, tile_start, key_limit, p.causal, qk_scale, tq, rescale);
      }
      WgmmaWait<0>();  // PV_{j-1} landed: O is relative to the old max
#pragma unroll
      for (int i = 0; i < kDAcc; ++i) {
        FenceOperand(o[i]);
        o[i] *= rescale[(i >> 1) & 1];
      }
      ReleaseStage(&bars->v_empty[prev]);
      PackP<T>(s, pf);
    }
    // Last PV product.
    wait_stage(&bars->v_full[(num_tiles - 1) & 1], ((num_tiles - 1) >> 1) & 1);
    WgmmaFence();
    pv_product(pf, (num_tiles - 1) & 1);
    WgmmaCommit();
    WgmmaWait<0>();
#pragma unroll
    for (int i = 0; i < kDAcc; ++i) FenceOperand(o[i]);
  }

  // Normalize and store this thread's two rows.
  T* out_base = static_cast<T*>(p.o);
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float l = st.l[r];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    const int packed = thread_row + 8 * r;
    if (packed >= packed_rows) continue;
    const int token = packed / group_size;
    const int head = kv_head * group_size + packed % group_size;
    const float inv_l = l > 0.0f ? 1.0f / l : 0.0f;
    const int64_t out_row = static_cast<int64_t>(q_start + token) * p.num_q_heads + head;
    const float lse2 = l > 0.0f ? st.m[r] * qk_scale + log2f(l) : -INFINITY;
    if (split.write_partial) {
      const int64_t prow = static_cast<int64_t>(chunk) * split.num_q_tokens * p.num_q_heads + out_row;
      float* part = split.partial_o + prow * kHeadDim;
#pragma unroll
      for (int d = 0; d < kHeadDim / 8; ++d) {
        *reinterpret_cast<float2*>(part + d * 8 + 2 * tq) =
            make_float2(o[4 * d + 2 * r] * inv_l, o[4 * d + 2 * r + 1] * inv_l);
      }
      if (tq == 0) split.partial_lse[prow] = lse2;
      continue;
    }
    T* out = out_base + out_row * kHeadDim;
#pragma unroll
    for (int d = 0; d < kHeadDim / 8; ++d) {
      *reinterpret_cast<uint32_t*>(out + d * 8 + 2 * tq) =
          PackPair<T>(o[4 * d + 2 * r] * inv_l, o[4 * d + 2 * r + 1] * inv_l);
    }
    if (p.maybe_lse != nullptr && tq == 0) {
      p.maybe_lse[out_row] = lse2 * kLn2;
    }
  }
#else
  __trap();  // only launched on sm_90 devices, which run the sm_90a code above
#endif
}

template <typename T, int kHeadDim, KvSource kSource>
KernelStatus Launch(const PrefillParams& p, const SplitArgs& split, cudaStream_t stream) {
  constexpr int kSmem = Layout<kHeadDim>::kSmemBytes;
  const auto kernel = PrefillWgmmaKernel<T, kHeadDim, kSource>;
  // Raise the dynamic shared-memory limit once per instantiation (thread-safe static init).
  static const cudaError_t attr_status = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem);
  CUDA_RETURN_IF_ERROR(attr_status);
  const int group_size = p.num_q_heads / p.kv.num_kv_heads;
  const int64_t m_tiles = (static_cast<int64_t>(p.max_q_len) * group_size + kBlockM - 1) / kBlockM;
  const int64_t z = static_cast<int64_t>(p.batch.num_seqs) * split.num_chunks;
  KERNEL_CHECK_ARG(m_tiles < (1LL << 31) && z <= 65535, "prefill: grid too large");
  if (m_tiles == 0) return KernelStatus::Ok();
  const dim3 grid(static_cast<unsigned>(m_tiles), p.kv.num_kv_heads, static_cast<unsigned>(z));
  kernel<<<grid, kThreads, kSmem, stream>>>(p, split);
  CUDA_RETURN_IF_LAUNCH_ERROR();
  return KernelStatus::Ok();
}

template <typename T, int kHeadDim>
KernelStatus DispatchSource(const PrefillParams& p, const SplitArgs& split, cudaStream_t stream) {
  if (p.kv_source == KvSource::kPaged) return Launch<T, kHeadDim, KvSource::kPaged>(p, split, stream);
  return Launch<T, kHeadDim, KvSource::kContiguous>(p, split, stream);
}

template <typename T>
KernelStatus DispatchHeadDim(const PrefillParams& p, const SplitArgs& split, cudaStream_t stream) {
  if (p.kv.head_dim == 64) return DispatchSource<T, 64>(p, split, stream);
  return DispatchSource<T, 128>(p, split, stream);
}

// Whether the current device is sm_90 (the sm_90a code in this binary runs only there),
// cached per device: 0 unknown, 1 no, 2 yes.
bool DeviceIsSm90() {
  constexpr int kMaxDevices = 64;
  static std::atomic<int> cache[kMaxDevices] = {};
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= kMaxDevices) return false;
  int v = cache[dev].load(std::memory_order_relaxed);
  if (v == 0) {
    int major = 0, minor = 0;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) != cudaSuccess) {
      return false;
    }
    v = major == 9 && minor == 0 ? 2 : 1;
    cache[dev].store(v, std::memory_order_relaxed);
  }
  return v == 2;
}

}  // namespace

bool PrefillWgmmaSupported(const PrefillParams& p) {
  if (p.dtype != ScalarType::kBF16 && p.dtype != ScalarType::kF16) return false;
  if (p.kv.head_dim != 64 && p.kv.head_dim != 128) return false;
  return DeviceIsSm90();
}

KernelStatus LaunchPrefillWgmma(const PrefillParams& p, const SplitArgs& split, cudaStream_t stream) {
  KERNEL_CHECK_ARG(p.batch.q_indptr != nullptr, "prefill: the wgmma kernel needs q_indptr");
  if (p.dtype == ScalarType::kF16) return DispatchHeadDim<__half>(p, split, stream);
  return DispatchHeadDim<__nv_bfloat16>(p, split, stream);
}

}  // namespace radixserve::kernels::cuda
