// The weights of a Llama-family model in device memory, in the forms the GPU forward
// computes on:
//   * F32 / F16 / BF16 matrices -> bf16 [n, k], multiplied by cuBLASLt;
//   * Q8_0 matrices, and Q4_0 / Q4_1 whose k is not a multiple of 128 -> INT8 with one
//     scale per output row; Q4_0 / Q4_1 otherwise -> INT4 with a scale per 128 inputs
//     (the layouts of kernels/quant_gemm_params.h). GGUF's blocks of 32 are dequantized and
//     quantized again at load (symmetric, round to nearest), so the GPU reads the same
//     or fewer bytes than the file holds; the extra rounding is the price of one kernel.
// Everything else (norms, biases, embeddings) becomes bf16; rope frequency divisors f32.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/cuda/device_buffer.h"
#include "kernels/rope_params.h"
#include "model/model_source.h"

namespace radixserve::backend::cuda {

enum class LinearKind { kBf16, kInt8, kInt4 };

// y[m, n] = x[m, k] * W^T + bias.
struct LinearWeight {
  LinearKind kind = LinearKind::kBf16;
  int32_t n = 0;
  int32_t k = 0;
  const void* w = nullptr;          // bf16 [n, k] / int8 [n, k] / int4 in kInt4Group128Tiled
  const uint16_t* scales = nullptr;  // bf16 [n] (INT8) or [n, k / 128] (INT4)
  const uint16_t* bias = nullptr;    // bf16 [n] or null
  DeviceBuffer w_storage, scale_storage, bias_storage;  // empty when `w` is borrowed
  int64_t bytes() const { return w_storage.bytes() + scale_storage.bytes() + bias_storage.bytes(); }
};

struct CudaLayerWeights {
  DeviceBuffer attn_norm, ffn_norm;  // bf16 [hidden]
  LinearWeight qkv;                  // [q_dim + 2 * kv_dim, hidden]: Q, K, then V rows (+ biases)
  LinearWeight o;                    // [hidden, q_dim]
  LinearWeight gate_up;              // [2 * ffn, hidden]: gate rows, then up rows
  LinearWeight down;                 // [hidden, ffn]
};

struct CudaWeights {
  DeviceBuffer token_embd;   // bf16 [vocab, hidden]
  LinearWeight output;       // [vocab, hidden]; borrows token_embd when tied
  DeviceBuffer output_norm;  // bf16 [hidden]
  DeviceBuffer rope_freq_factors;  // f32 [head_dim / 2] or empty
  kernels::RopeStyle rope_style = kernels::RopeStyle::kNormal;
  std::vector<CudaLayerWeights> layers;
  int64_t device_bytes = 0;  // everything above
};

// Converts and uploads every tensor (synchronously, on the current device).
// InvalidArgument naming the tensor for a type it cannot convert; ResourceExhausted when
// the device runs out of memory.
absl::StatusOr<CudaWeights> LoadCudaWeights(const model::ModelSource& source);

}  // namespace radixserve::backend::cuda
