// Weight-only quantized GEMM: y = x * W^T with bf16 activations and INT8 or INT4 weights,
// shared by the CPU twin and CUDA. Accumulation is float; y is rounded to bf16 once.
//
//   kInt8PerChannel: w_q [n, k] int8 row-major; W[j, i] = w_q[j, i] * scales[j]
//   kInt4Group128:   w_q [n, k / 2] bytes; element i of row j is the low nibble of byte
//                    i/2 when i is even, the high nibble when odd, as an unsigned q in
//                    0..15; W[j, i] = (q - 8) * scales[j, i / 128]  (symmetric)
// scales are bf16 bit patterns. k must be a multiple of 128 for INT4 and of 16 for INT8.
#pragma once

#include <cstdint>

#include "kernels/kernel_types.h"

namespace radixserve::kernels {

enum class WeightQuant : uint8_t { kInt8PerChannel = 0, kInt4Group128 = 1 };

inline constexpr int kInt4GroupSize = 128;

struct QuantGemmParams {
  WeightQuant quant = WeightQuant::kInt4Group128;
  const uint16_t* x = nullptr;       // [m, k] bf16
  const uint8_t* w_q = nullptr;      // see above
  const uint16_t* scales = nullptr;  // [n] (INT8) or [n, k / 128] (INT4), bf16
  const uint16_t* maybe_bias = nullptr;  // [n] bf16
  uint16_t* y = nullptr;             // [m, n] bf16
  int32_t m = 0;  // 1 .. 64 (the CUDA kernel's supported batch)
  int32_t n = 0;
  int32_t k = 0;
};

}  // namespace radixserve::kernels
