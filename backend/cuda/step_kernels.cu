#include <cuda_bf16.h>

#include <cmath>

#include "backend/cuda/step_kernels.h"

namespace radixserve::backend::cuda {
namespace {

// One block per row, 16-byte vectors when the row allows (hidden sizes of real models).
__global__ void GatherRowsKernel(const uint16_t* __restrict__ in, const int32_t* __restrict__ rows, int32_t width,
                                 uint16_t* __restrict__ out) {
  const int64_t src = static_cast<int64_t>(rows[blockIdx.x]) * width;
  const int64_t dst = static_cast<int64_t>(blockIdx.x) * width;
  if (width % 8 == 0) {
    const uint4* s = reinterpret_cast<const uint4*>(in + src);
    uint4* d = reinterpret_cast<uint4*>(out + dst);
    for (int i = threadIdx.x; i < width / 8; i += blockDim.x) d[i] = s[i];
  } else {
    for (int i = threadIdx.x; i < width; i += blockDim.x) out[dst + i] = in[src + i];
  }
}

__global__ void Bf16ToF32Kernel(const __nv_bfloat16* __restrict__ in, float* __restrict__ out, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[i] = __bfloat162float(in[i]);
  }
}

__global__ void ChosenLogprobKernel(const float* __restrict__ logits, int32_t vocab, const int32_t* __restrict__ tokens,
                                    float* __restrict__ logprob) {
  __shared__ float scratch[32];
  const float* row = logits + static_cast<int64_t>(blockIdx.x) * vocab;
  float m = -INFINITY;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) m = fmaxf(m, row[i]);
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = m;
  __syncthreads();
  m = -INFINITY;
  for (int w = 0; w < static_cast<int>(blockDim.x >> 5); ++w) m = fmaxf(m, scratch[w]);
  __syncthreads();
  float s = 0.0f;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) s += expf(row[i] - m);
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = s;
  __syncthreads();
  if (threadIdx.x == 0) {
    float total = 0.0f;
    for (int w = 0; w < static_cast<int>(blockDim.x >> 5); ++w) total += scratch[w];
    logprob[blockIdx.x] = row[tokens[blockIdx.x]] - m - logf(total);
  }
}

}  // namespace

cudaError_t LaunchEmbedding(const void* table, const int32_t* tokens, int32_t num_tokens, int32_t hidden, void* out,
                            cudaStream_t stream) {
  return LaunchGatherRows(table, tokens, num_tokens, hidden, out, stream);
}

cudaError_t LaunchGatherRows(const void* in, const int32_t* rows, int32_t num_rows, int32_t width, void* out,
                             cudaStream_t stream) {
  if (num_rows <= 0) return cudaSuccess;
  GatherRowsKernel<<<num_rows, 256, 0, stream>>>(static_cast<const uint16_t*>(in), rows, width,
                                                 static_cast<uint16_t*>(out));
  return cudaGetLastError();
}

cudaError_t LaunchBf16ToF32(const void* in, float* out, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  const int64_t blocks = std::min<int64_t>((n + 255) / 256, 4096);
  Bf16ToF32Kernel<<<static_cast<unsigned>(blocks), 256, 0, stream>>>(static_cast<const __nv_bfloat16*>(in), out, n);
  return cudaGetLastError();
}

cudaError_t LaunchChosenLogprob(const float* logits, int32_t num_rows, int32_t vocab, const int32_t* tokens,
                                float* logprob, cudaStream_t stream) {
  if (num_rows <= 0) return cudaSuccess;
  ChosenLogprobKernel<<<num_rows, 1024, 0, stream>>>(logits, vocab, tokens, logprob);
  return cudaGetLastError();
}

}  // namespace radixserve::backend::cuda
