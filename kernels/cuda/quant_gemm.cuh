// Weight-only quantized GEMM, y = x * W^T, bf16 activations with INT8 per-channel or INT4
// group-128 weights, the latter plain or tiled (semantics and layouts: kernels/quant_gemm_params.h).
#pragma once

#include <cuda_runtime.h>

#include "kernels/cuda/cuda_status.cuh"
#include "kernels/quant_gemm_params.h"

namespace radixserve::kernels::cuda {

// m in 1..64. Default: the tensor-core path (mma.sync, the weights dequantized once in
// registers and read once for any m). The CUDA-core GEMV path (a warp per four weight
// rows, weights re-read per 8 activation rows) remains for INT8 with k % 64 != 0.
// kInt4Group128Tiled (the layout the backend loads INT4 weights into) has only the
// tensor-core path; asking it for kGemv is kInvalidArgument.
KernelStatus QuantGemm(const QuantGemmParams& params, cudaStream_t stream);

// For tests and benchmarks: force the CUDA-core GEMV path or the tensor-core path.
enum class QuantGemmPath { kAuto = 0, kGemv = 1, kMma = 2 };
KernelStatus QuantGemmWithPath(const QuantGemmParams& params, QuantGemmPath path, cudaStream_t stream);

}  // namespace radixserve::kernels::cuda
