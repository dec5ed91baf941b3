#include "backend/cuda/weight_repack.h"

#include <algorithm>
#include <cmath>

#include "common/tensor_types.h"
#include "kernels/quant_gemm_params.h"

namespace radixserve::backend::cuda {

void QuantizeInt8Rows(const float* x, int64_t rows, int64_t k, int8_t* q, uint16_t* scales) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * k;
    float amax = 0.0f;
    for (int64_t i = 0; i < k; ++i) amax = std::max(amax, std::fabs(row[i]));
    scales[r] = FloatToBf16(amax / 127.0f);
    const float scale = Bf16ToFloat(scales[r]);
    const float inv = scale > 0.0f ? 1.0f / scale : 0.0f;
    for (int64_t i = 0; i < k; ++i) {
      q[r * k + i] = static_cast<int8_t>(std::clamp(std::nearbyint(row[i] * inv), -127.0f, 127.0f));
    }
  }
}

void QuantizeInt4Rows(const float* x, int64_t rows, int64_t k, uint8_t* q, uint16_t* scales) {
  const int64_t groups = k / kernels::kInt4GroupSize;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < groups; ++g) {
      const float* in = x + r * k + g * kernels::kInt4GroupSize;
      float amax = 0.0f;
      for (int i = 0; i < kernels::kInt4GroupSize; ++i) amax = std::max(amax, std::fabs(in[i]));
      uint16_t& s = scales[r * groups + g];
      s = FloatToBf16(amax / 7.0f);
      const float scale = Bf16ToFloat(s);
      const float inv = scale > 0.0f ? 1.0f / scale : 0.0f;
      uint8_t* out = q + (r * k + g * kernels::kInt4GroupSize) / 2;
      for (int i = 0; i < kernels::kInt4GroupSize; i += 2) {
        const int lo = static_cast<int>(std::clamp(std::nearbyint(in[i] * inv), -8.0f, 7.0f)) + 8;
        const int hi = static_cast<int>(std::clamp(std::nearbyint(in[i + 1] * inv), -8.0f, 7.0f)) + 8;
        out[i / 2] = static_cast<uint8_t>(lo | (hi << 4));
      }
    }
  }
}

void TileInt4ForGpu(const uint8_t* q, int64_t rows, int64_t k, uint8_t* out) {
  constexpr int kNibbleK[8] = {0, 2, 4, 6, 1, 3, 5, 7};  // k offset in a word of each nibble
  const int64_t tiles = (rows + kernels::kInt4TileRows - 1) / kernels::kInt4TileRows;
  const int64_t chunks = k / 32;  // 16-byte chunks (32 k) per row
  for (int64_t r = 0; r < tiles * kernels::kInt4TileRows; ++r) {
    const int64_t tile = r / kernels::kInt4TileRows, g = r % kernels::kInt4TileRows;
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t group = c / 4, t = c % 4;
      uint8_t* dst = out + tile * 4 * k + group * 512 + (4 * g + t) * 16;
      const uint8_t* src = q + r * (k / 2) + c * 16;
      for (int i = 0; i < 4; ++i) {
        uint32_t word = 0;
        for (int n = 0; n < 8; ++n) {
          const int kk = 8 * i + kNibbleK[n];
          const uint32_t nibble = r < rows ? (src[kk / 2] >> (4 * (kk % 2))) & 0xFu : 8u;
          word |= nibble << (4 * n);
        }
        for (int b = 0; b < 4; ++b) dst[4 * i + b] = static_cast<uint8_t>(word >> (8 * b));
      }
    }
  }
}

}  // namespace radixserve::backend::cuda
