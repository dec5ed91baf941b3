// Rotary position embedding in place on Q and K (semantics: kernels/rope_params.h).
#pragma once

#include <cuda_runtime.h>

#include "kernels/cuda/cuda_status.cuh"
#include "kernels/rope_params.h"

namespace radixserve::kernels::cuda {

// rotary_dim <= 512 and a multiple of 2 * (16 bytes / element size) for kNeox, of
// (16 bytes / element size) for kNormal; token strides multiples of 16 bytes.
KernelStatus ApplyRope(const RopeParams& params, cudaStream_t stream);

// RoPE and the KV write in one pass (RopeWriteKvParams); same limits, and head_dim a
// multiple of 16 bytes.
KernelStatus ApplyRopeAndWriteKv(const RopeWriteKvParams& params, cudaStream_t stream);

}  // namespace radixserve::kernels::cuda
