// Internal to kernels/cuda: the Hopper (sm_90a, wgmma) prefill path behind
// PrefillAttention. Same contract as the mma.sync core (kernels/attention_params.h,
// PrefillParams) for the shapes it takes; PrefillAttention picks it at run time.
#pragma once

#include <cuda_runtime.h>

#include "kernels/attention_params.h"
#include "kernels/cuda/attention_core.cuh"
#include "kernels/cuda/cuda_status.cuh"

namespace radixserve::kernels::cuda {

// True when the wgmma prefill can run `p` on the current device: an sm_90 device (the
// binary carries sm_90a code for it), bf16/fp16, head_dim 64 or 128. Paged and contiguous
// KV, GQA, varlen, causal or not, cached prefixes are all supported.
bool PrefillWgmmaSupported(const PrefillParams& p);

// Launches the wgmma kernel (call only when PrefillWgmmaSupported(p), prefill mode:
// p.batch.q_indptr set) over the same grid as the 4-warp mma.sync core: [ceil(max_q_len *
// group_size / 128), num_kv_heads, num_seqs * split.num_chunks]. With split.write_partial
// it writes normalized partial states to the split workspace (the caller runs the merge),
// else o and maybe_lse.
KernelStatus LaunchPrefillWgmma(const PrefillParams& p, const SplitArgs& split, cudaStream_t stream);

}  // namespace radixserve::kernels::cuda
