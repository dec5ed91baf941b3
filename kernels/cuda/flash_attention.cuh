// Prefill attention (FlashAttention-2 style on mma.sync tensor cores, online softmax, no
// S x S matrix in memory): causal or not, variable-length batch, GQA, K/V from the paged
// cache or from contiguous tensors, with a cached prefix. Semantics:
// kernels/attention_params.h (PrefillParams).
#pragma once

#include <cuda_runtime.h>

#include "kernels/attention_params.h"
#include "kernels/cuda/cuda_status.cuh"

namespace radixserve::kernels::cuda {

// head_dim 64 or 128; kF16 or kBF16; num_q_heads a multiple of kv.num_kv_heads.
KernelStatus PrefillAttention(const PrefillParams& params, cudaStream_t stream);

}  // namespace radixserve::kernels::cuda
