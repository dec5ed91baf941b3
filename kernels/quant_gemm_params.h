// Weight-only quantized GEMM: y = x * W^T with bf16 activations and INT8 or INT4 weights,
// shared by the CPU twin and CUDA. Accumulation is float; y is rounded to bf16 once.
//
//   kInt8PerChannel: w_q [n, k] int8 row-major; W[j, i] = w_q[j, i] * scales[j]
//   kInt4Group128:   w_q [n, k / 2] bytes; element i of row j is the low nibble of byte
//                    i/2 when i is even, the high nibble when odd, as an unsigned q in
//                    0..15; W[j, i] = (q - 8) * scales[j, i / 128]  (symmetric)
//   kInt4Group128Tiled: the same q and scales, w_q reordered for the tensor-core kernel
//                    (Int4TiledBytes(n, k) bytes; rows past n are padding): tiles of 8 rows,
//                    tile T at byte T * 4k; in it, group G (128 k) is 512 bytes at G * 512,
//                    and 16-byte chunk l = 4g + t of those holds row 8T + g, k = 128G + 32t
//                    + 0..31, i.e. the chunk the plain layout has at row * k/2 + 64G + 16t.
//                    In each 32-bit word of a chunk (k = 8i .. 8i + 7 of the chunk) the
//                    nibbles are reordered: nibble n (bits 4n..4n+3) holds k offset
//                    {0, 2, 4, 6, 1, 3, 5, 7}[n], so (word >> 4n) & 0x000F000F puts the pair
//                    (2n, 2n + 1) in the two bf16 halves (quant_gemm.cu says why).
// scales are bf16 bit patterns. k must be a multiple of 128 for INT4 and of 16 for INT8.
#pragma once

#include <cstdint>

#include "kernels/kernel_types.h"

namespace radixserve::kernels {

enum class WeightQuant : uint8_t { kInt8PerChannel = 0, kInt4Group128 = 1, kInt4Group128Tiled = 2 };

inline constexpr int kInt4GroupSize = 128;
inline constexpr int kInt4TileRows = 8;

// Bytes of w_q in the tiled INT4 layout: whole 8-row tiles.
inline constexpr int64_t Int4TiledBytes(int64_t n, int64_t k) {
  return (n + kInt4TileRows - 1) / kInt4TileRows * kInt4TileRows * (k / 2);
}

struct QuantGemmParams {
  WeightQuant quant = WeightQuant::kInt4Group128;
  const uint16_t* x = nullptr;       // [m, k] bf16
  const uint8_t* w_q = nullptr;      // see above
  const uint16_t* scales = nullptr;  // [n] (INT8) or [n, k / 128] (both INT4 layouts), bf16
  const uint16_t* maybe_bias = nullptr;  // [n] bf16
  uint16_t* y = nullptr;             // [m, n] bf16
  int32_t m = 0;  // 1 .. 64 (the CUDA kernel's supported batch)
  int32_t n = 0;
  int32_t k = 0;
};

}  // namespace radixserve::kernels
