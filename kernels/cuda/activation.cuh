// Gated activation silu_and_mul (semantics: kernels/norm_act_params.h).
#pragma once

#include <cuda_runtime.h>

#include "kernels/cuda/cuda_status.cuh"
#include "kernels/norm_act_params.h"

namespace radixserve::kernels::cuda {

// Any d; 16-byte vectors when d is a multiple of 16 bytes, scalar otherwise.
KernelStatus SiluAndMul(const SiluAndMulParams& params, cudaStream_t stream);

}  // namespace radixserve::kernels::cuda
