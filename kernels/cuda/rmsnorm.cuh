// RMSNorm with an optional fused residual add (semantics: kernels/norm_act_params.h).
#pragma once

#include <cuda_runtime.h>

#include "kernels/cuda/cuda_status.cuh"
#include "kernels/norm_act_params.h"

namespace radixserve::kernels::cuda {

// One block per token. hidden must be a multiple of 8 (16-bit types) or 4 (float) and at
// most 8192 16-byte vectors (65536 bf16 elements).
KernelStatus RmsNorm(const RmsNormParams& params, cudaStream_t stream);

}  // namespace radixserve::kernels::cuda
