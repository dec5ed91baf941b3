// Batched sampling with temperature, top-k, top-p and min-p on device and a seeded
// counter-based RNG (semantics: kernels/sampling_params.h).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/cuda_status.cuh"
#include "kernels/sampling_params.h"

namespace radixserve::kernels::cuda {

// Device workspace the launcher needs: one float row of probabilities per sequence.
inline int64_t SamplingWorkspaceBytes(int32_t batch, int32_t vocab) {
  return static_cast<int64_t>(batch) * vocab * static_cast<int64_t>(sizeof(float));
}

// One block per sequence.
KernelStatus Sample(const SamplingParams& params, cudaStream_t stream);

}  // namespace radixserve::kernels::cuda
