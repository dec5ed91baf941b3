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
// On sm_90 devices it runs the wgmma kernel (prefill_wgmma.cu), elsewhere the mma.sync one.
KernelStatus PrefillAttention(const PrefillParams& params, cudaStream_t stream);

// Which kernel PrefillAttention (and the cascade decode's shared-prefix pass, the same
// 128-row tiles with split-KV) runs. kAuto: wgmma wherever it applies (sm_90 device,
// bf16/fp16, head_dim 64/128), else mma.sync. kWgmma where it does not apply makes
// PrefillAttention return kInvalidArgument. The initial value comes from the environment
// variable RS_PREFILL_PATH (auto | mma | wgmma), read once; tests and benchmarks switch
// with SetPrefillPath (process-wide).
enum class PrefillPath : int { kAuto = 0, kMma = 1, kWgmma = 2 };
void SetPrefillPath(PrefillPath path);
PrefillPath GetPrefillPath();

}  // namespace radixserve::kernels::cuda
