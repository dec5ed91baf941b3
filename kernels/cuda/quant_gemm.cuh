// Weight-only quantized GEMM, y = x * W^T, bf16 activations with INT8 per-channel or INT4
// group-128 weights (semantics and layouts: kernels/quant_gemm_params.h).
#pragma once

#include <cuda_runtime.h>

#include "kernels/cuda/cuda_status.cuh"
#include "kernels/quant_gemm_params.h"

namespace radixserve::kernels::cuda {

// m in 1..64. A warp owns four output columns (weight rows) and streams them once per
// tile of up to 8 activation rows, so the weights are read ceil(m / 8) times: a GEMV
// design, fast at batch 1..4; larger batches want a tensor-core path (see NOTES.md).
KernelStatus QuantGemm(const QuantGemmParams& params, cudaStream_t stream);

}  // namespace radixserve::kernels::cuda
