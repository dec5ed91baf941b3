// Portable matmul path: the arithmetic of the SIMD paths (integer block dots for the
// quantized types, float accumulation for the float types) in plain C++.
#include <cstring>

#include "kernels/cpu/matmul_internal.h"
#include "kernels/cpu/quantize.h"

namespace radixserve::kernels::cpu::internal {
namespace {

float DotFloatRow(DType t, const uint8_t* w, const float* x, int64_t k) {
  float acc = 0.0f;
  if (t == DType::kF32) {
    const float* r = reinterpret_cast<const float*>(w);
    for (int64_t i = 0; i < k; ++i) acc += r[i] * x[i];
  } else {
    for (int64_t i = 0; i < k; ++i) {
      uint16_t h;
      std::memcpy(&h, w + 2 * i, 2);
      acc += (t == DType::kF16 ? Fp16ToFloat(h) : Bf16ToFloat(h)) * x[i];
    }
  }
  return acc;
}

float DotQuantRow(DType t, const uint8_t* w, const int8_t* xq, const float* xd, const float* xs,
                  int64_t blocks) {
  float acc = 0.0f;
  for (int64_t b = 0; b < blocks; ++b) {
    const int8_t* xqs = xq + b * kQkBlock;
    if (t == DType::kQ8_0) {
      BlockQ8_0 wb;
      std::memcpy(&wb, w + b * sizeof(BlockQ8_0), sizeof(wb));
      int32_t s = 0;
      for (int i = 0; i < kQkBlock; ++i) s += wb.qs[i] * xqs[i];
      acc += static_cast<float>(s) * (Fp16ToFloat(wb.d) * xd[b]);
    } else if (t == DType::kQ4_0) {
      BlockQ4_0 wb;
      std::memcpy(&wb, w + b * sizeof(BlockQ4_0), sizeof(wb));
      int32_t s = 0;
      for (int i = 0; i < kQkBlock / 2; ++i) {
        s += ((wb.qs[i] & 0x0F) - 8) * xqs[i] + ((wb.qs[i] >> 4) - 8) * xqs[i + kQkBlock / 2];
      }
      acc += static_cast<float>(s) * (Fp16ToFloat(wb.d) * xd[b]);
    } else {  // kQ4_1
      BlockQ4_1 wb;
      std::memcpy(&wb, w + b * sizeof(BlockQ4_1), sizeof(wb));
      int32_t s = 0;
      for (int i = 0; i < kQkBlock / 2; ++i) {
        s += (wb.qs[i] & 0x0F) * xqs[i] + (wb.qs[i] >> 4) * xqs[i + kQkBlock / 2];
      }
      acc += static_cast<float>(s) * (Fp16ToFloat(wb.d) * xd[b]) + Fp16ToFloat(wb.m) * xs[b];
    }
  }
  return acc;
}

void ScalarRange(const MatmulArgs& a, int64_t n_begin, int64_t n_end, float* /*scratch*/) {
  const bool quant = a.dtype == DType::kQ8_0 || a.dtype == DType::kQ4_0 || a.dtype == DType::kQ4_1;
  const int64_t blocks = a.k / kQkBlock;
  const int64_t bpad = PaddedBlocks(a.k);
  for (int64_t i = 0; i < a.m; ++i) {
    for (int64_t n = n_begin; n < n_end; ++n) {
      const uint8_t* w = a.w + n * a.row_bytes;
      a.y[i * a.ldy + n] = quant ? DotQuantRow(a.dtype, w, a.xq + i * a.k, a.xd + i * bpad, a.xs + i * bpad, blocks)
                                 : DotFloatRow(a.dtype, w, a.x + i * a.ldx, a.k);
    }
  }
}

void RoundBf16Row(const float* x, int64_t k, uint16_t* out, int64_t kb) {
  for (int64_t i = 0; i < k; ++i) out[i] = FloatToBf16(x[i]);
  for (int64_t i = k; i < kb; ++i) out[i] = 0;
}

}  // namespace

const MatmulIsa& ScalarMatmulIsa() {
  static const MatmulIsa isa{&QuantizeRowQ8, &ScalarRange, &RoundBf16Row, 1, 1, false};
  return isa;
}

}  // namespace radixserve::kernels::cpu::internal
