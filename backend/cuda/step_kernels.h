// The small glue kernels of the CUDA forward that are not model kernels of their own
// (those live in kernels/cuda): embedding lookup, row gathers, dtype conversion and the
// log-probability of the sampled token. Plain C++ declarations (no Abseil), so this
// header is shared by step_kernels.cu (nvcc) and the backend's .cc files; every launcher
// returns the launch's cudaError_t.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace radixserve::backend::cuda {

// out[i, :] = table[tokens[i], :] for i < num_tokens (bf16 rows of `hidden`).
cudaError_t LaunchEmbedding(const void* table, const int32_t* tokens, int32_t num_tokens, int32_t hidden, void* out,
                            cudaStream_t stream);

// out[i, :] = in[rows[i], :] for i < num_rows (bf16 rows of `width` elements).
cudaError_t LaunchGatherRows(const void* in, const int32_t* rows, int32_t num_rows, int32_t width, void* out,
                             cudaStream_t stream);

cudaError_t LaunchBf16ToF32(const void* in, float* out, int64_t n, cudaStream_t stream);

// logprob[i] = logits[i, tokens[i]] - logsumexp(logits[i, :]) (temperature 1).
cudaError_t LaunchChosenLogprob(const float* logits, int32_t num_rows, int32_t vocab, const int32_t* tokens,
                                float* logprob, cudaStream_t stream);

}  // namespace radixserve::backend::cuda
