// Internal to kernels/cuda: the one tensor-core attention kernel that prefill, paged
// decode and the cascade's shared-prefix pass all launch, with optional split-KV.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/attention_params.h"
#include "kernels/cuda/cuda_status.cuh"

namespace radixserve::kernels::cuda {

inline constexpr int kAttnBlockN = 64;  // keys per tile; split chunks are multiples of it

// Device helpers shared by the mma.sync core (flash_attention.cu) and the sm_90a prefill
// (prefill_wgmma.cu).

// Element offset of key `token` of this sequence / KV head inside the K (= V) storage.
template <KvSource kSource>
__device__ __forceinline__ int64_t KeyRowOffset(const PrefillParams& p, int64_t seq_kv_start, int kv_head, int token,
                                                const int32_t* blocks, int head_dim) {
  if constexpr (kSource == KvSource::kPaged) {
    const int bs = p.kv.block_size;
    return ((static_cast<int64_t>(blocks[token / bs]) * p.kv.num_kv_heads + kv_head) * bs + token % bs) * head_dim;
  } else {
    return ((seq_kv_start + token) * p.kv.num_kv_heads + kv_head) * head_dim;
  }
}

// 2^x on the SFU (ex2.approx.ftz): -inf gives 0, as the online softmax needs.
__device__ __forceinline__ float FastExp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// One online-softmax step of an m16 mma.sync tile, in the log2 domain: folds the tile's
// per-lane row maxima (reduced over the lane quad here) into the running max row_m and
// sum row_l, turns the scores into p = 2^(s * qk_scale - m * qk_scale) in place (one FFMA
// and one ex2 each) and rescales the O accumulators. Rows whose max is still -inf keep
// p = 0 and a zero rescale.
template <int kNTiles, int kDTiles>
__device__ __forceinline__ void OnlineSoftmaxStep(float (&s)[kNTiles][4], float (&tile_max)[2], float (&row_m)[2],
                                                  float (&row_l)[2], float (&o_acc)[kDTiles][4], float qk_scale) {
  float rescale[2], neg_m[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 1));
    tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 2));
    const float m_new = fmaxf(row_m[r], tile_max[r]);
    rescale[r] = row_m[r] == -INFINITY ? 0.0f : FastExp2((row_m[r] - m_new) * qk_scale);
    row_m[r] = m_new;
    neg_m[r] = m_new == -INFINITY ? 0.0f : -m_new * qk_scale;
  }
  float sum[2] = {0.0f, 0.0f};
#pragma unroll
  for (int n = 0; n < kNTiles; ++n) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      s[n][e] = FastExp2(fmaf(s[n][e], qk_scale, neg_m[e >> 1]));
      sum[e >> 1] += s[n][e];
    }
  }
#pragma unroll
  for (int r = 0; r < 2; ++r) row_l[r] = row_l[r] * rescale[r] + sum[r];
#pragma unroll
  for (int d = 0; d < kDTiles; ++d) {
    o_acc[d][0] *= rescale[0];
    o_acc[d][1] *= rescale[0];
    o_acc[d][2] *= rescale[1];
    o_acc[d][3] *= rescale[1];
  }
}

// Split-KV outputs of one launch (num_chunks > 1): see SplitWorkspaceBytes.
struct SplitArgs {
  int32_t num_chunks;
  int32_t chunk_size;
  int32_t num_q_tokens;
  bool write_partial;  // num_chunks > 1, or a state to merge in (extra_o)
  float* partial_o;
  float* partial_lse;
  const void* extra_o;     // optional [num_q_tokens, num_q_heads, head_dim] state to merge in
  const float* extra_lse;  // its lse (natural log)
};

// How one launch is cut. PrefillParams.batch.q_indptr == nullptr means decode mode: one
// query token per sequence, token s of q belongs to sequence s.
struct AttentionLaunch {
  int32_t warps = 4;         // 1 (decode: 16 packed rows per CTA) or 4 (prefill: 128)
  int32_t num_chunks = 1;    // split-KV chunks per sequence; 1 writes o directly
  int32_t chunk_size = 0;    // keys per chunk (multiple of kAttnBlockN) when num_chunks > 1
  int32_t num_q_tokens = 0;  // rows of q; indexes the split workspace
  void* workspace = nullptr;
  int64_t workspace_bytes = 0;
  // Optional second state over other keys, merged into o by the same merge pass (the
  // cascade's suffix): [num_q_tokens, num_q_heads, head_dim] of the dtype, lse natural.
  // Forces the split path (partials + merge) even with one chunk.
  const void* extra_o = nullptr;
  const float* extra_lse = nullptr;
  // Optional event the merge pass waits for (the extra state produced on another stream).
  cudaEvent_t merge_after = nullptr;
  // Write the normalized partial states (chunk by chunk, lse in the log2 domain) to the
  // split workspace even with one chunk, and launch no merge: the caller merges them
  // (the cascade's fused suffix-and-merge kernel).
  bool partials_only = false;
};

// Split workspace: partial o [num_chunks, num_q_tokens, num_q_heads, head_dim] float, then
// partial lse [num_chunks, num_q_tokens, num_q_heads] float (log2 domain).
inline int64_t SplitWorkspaceBytes(int32_t num_chunks, int32_t num_q_tokens, int32_t num_q_heads, int32_t head_dim,
                                   bool force = false) {
  if (num_chunks <= 1 && !force) return 0;
  return static_cast<int64_t>(num_chunks) * num_q_tokens * num_q_heads * (head_dim + 1) *
         static_cast<int64_t>(sizeof(float));
}

// Picks num_chunks / chunk_size so that about `target_ctas` CTAs run, chunks no shorter
// than min_chunk keys, grid.z = num_seqs * num_chunks within limits.
AttentionLaunch PlanSplit(int32_t warps, int64_t base_ctas, int32_t num_seqs, int32_t max_kv_len,
                          int32_t min_chunk, int64_t target_ctas);

KernelStatus LaunchAttentionCore(const PrefillParams& p, const AttentionLaunch& launch, cudaStream_t stream);

}  // namespace radixserve::kernels::cuda
