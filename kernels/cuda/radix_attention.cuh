// Cascade (radix) decode: groups of sequences that share a cached prefix read its KV once
// per group (all the group's queries attend to it together on tensor cores, as a
// non-causal prefill whose "tokens" are the group's sequences), each sequence attends to
// its own suffix with the paged decode kernel, and the two states merge by log-sum-exp.
// Semantics: kernels/attention_params.h (CascadeDecodeParams).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/attention_params.h"
#include "kernels/cuda/cuda_status.cuh"

namespace radixserve::kernels::cuda {

// Device workspace CascadeDecode needs for these shapes (the host-side maxima of params).
int64_t CascadeWorkspaceBytes(int32_t num_groups, int32_t num_seqs, int32_t num_q_heads, int32_t num_kv_heads,
                              int32_t head_dim, int32_t max_group_size, int32_t max_prefix_len,
                              int32_t max_suffix_len);

// head_dim 64 or 128; kF16 or kBF16. Three launches: the suffix decode on a side stream
// (one per host thread, created on first use on the current device; forked from and
// joined back into `stream` with events, so the call is graph-capturable), the prefix
// attention split over the prefix keys on `stream`, and one merge of the prefix chunks
// and the suffix state. Not for concurrent use of one thread's calls on several devices.
KernelStatus CascadeDecode(const CascadeDecodeParams& params, cudaStream_t stream);

}  // namespace radixserve::kernels::cuda
