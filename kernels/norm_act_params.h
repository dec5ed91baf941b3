// Parameters of the fused small ops: RMSNorm (optionally fused with the residual add)
// and the gated activation silu_and_mul. Shared by the CPU twin and CUDA.
#pragma once

#include <cstdint>

#include "kernels/kernel_types.h"

namespace radixserve::kernels {

// Without residual:  out = x / sqrt(mean(x^2) + eps) * weight
// With residual:     r = x + residual, rounded to dtype and written back to residual;
//                    out = r / sqrt(mean(r^2) + eps) * weight   (the norm reads the ROUNDED r,
//                    so both twins and the next layer see the same residual stream)
// Math is float; out may alias x. Each row is one token.
struct RmsNormParams {
  ScalarType dtype = ScalarType::kBF16;  // of x, out, residual and weight
  const void* x = nullptr;         // [num_tokens, hidden]
  void* out = nullptr;             // [num_tokens, hidden]
  void* maybe_residual = nullptr;  // [num_tokens, hidden] in/out
  const void* weight = nullptr;    // [hidden]
  int32_t num_tokens = 0;
  int32_t hidden = 0;
  float eps = 1e-6f;
};

// out[t, i] = silu(x[t, i]) * x[t, d + i], silu(g) = g / (1 + exp(-g)), for i < d.
// The gate (first half) and the up projection (second half) come from one fused matmul.
struct SiluAndMulParams {
  ScalarType dtype = ScalarType::kBF16;
  const void* x = nullptr;  // [num_tokens, 2 * d]
  void* out = nullptr;      // [num_tokens, d]
  int32_t num_tokens = 0;
  int32_t d = 0;
};

}  // namespace radixserve::kernels
