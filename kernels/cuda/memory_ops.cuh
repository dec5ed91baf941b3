// KV memory operations (semantics: kernels/memory_ops_params.h): write new K/V into their
// cache slots, copy blocks inside the device pools, swap blocks device <-> host.
#pragma once

#include <cuda_runtime.h>

#include "kernels/cuda/cuda_status.cuh"
#include "kernels/memory_ops_params.h"

namespace radixserve::kernels::cuda {

// head_dim * element bytes must be a multiple of 16.
KernelStatus WriteKv(const KvWriteParams& params, cudaStream_t stream);

// pools and pairs in device memory; block_bytes a multiple of 16.
KernelStatus CopyBlocks(const BlockCopyParams& params, cudaStream_t stream);

// pools and pairs in host memory; host pools should be pinned (cudaHostAlloc) for the
// copies to be asynchronous. One cudaMemcpyAsync per run of consecutive block ids per
// pool, all on `stream`; the caller synchronizes (or records an event) before reusing
// the source blocks.
KernelStatus SwapBlocks(const SwapBlocksParams& params, cudaStream_t stream);

}  // namespace radixserve::kernels::cuda
