// Decode attention (one query token per sequence) over the paged KV cache, GQA-aware and
// split-KV (flash-decoding) with a merge pass; plus the attention-state merge that the
// split and cascade paths share. Semantics: kernels/attention_params.h.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/attention_params.h"
#include "kernels/cuda/cuda_status.cuh"

namespace radixserve::kernels::cuda {

// How a decode launch splits the keys: chunk_size keys per split, num_splits splits (1:
// no split, no workspace). A pure function of the shapes, so the workspace can be sized
// first and the launch captured in a CUDA graph.
struct DecodePlan {
  int32_t num_splits = 1;
  int32_t chunk_size = 0;
};
DecodePlan PlanDecode(int32_t num_seqs, int32_t num_q_heads, int32_t num_kv_heads, int32_t max_kv_len);

// Workspace bytes DecodeWithPagedKv needs for these shapes (0 when no split is needed).
int64_t DecodeWorkspaceBytes(int32_t num_seqs, int32_t num_q_heads, int32_t num_kv_heads, int32_t head_dim,
                             int32_t max_kv_len);

// head_dim 64 or 128, kF16 or kBF16, num_q_heads a multiple of num_kv_heads.
KernelStatus DecodeWithPagedKv(const DecodeParams& params, cudaStream_t stream);

// Merges (o_b, lse_b) into (o_a, lse_a) in place (the formula in attention_params.h).
KernelStatus MergeState(const MergeStateParams& params, cudaStream_t stream);

}  // namespace radixserve::kernels::cuda
