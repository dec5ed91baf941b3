// Helpers shared by the CPU kernel tests: deterministic random data and simple weight
// quantizers (round-to-nearest, written here independently of the kernels).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "common/tensor_types.h"

namespace radixserve::kernels::cpu::testing {

inline std::vector<float> RandomFloats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Quantizes rows [n, k] of float weights into the GGML layout of `t`.
inline std::vector<uint8_t> QuantizeWeights(DType t, const std::vector<float>& w, int64_t n, int64_t k) {
  const DTypeTraits tr = GetDTypeTraits(t);
  const int64_t row_bytes = k / tr.block_elems * tr.block_bytes;
  std::vector<uint8_t> out(n * row_bytes);
  for (int64_t r = 0; r < n; ++r) {
    const float* src = w.data() + r * k;
    uint8_t* dst = out.data() + r * row_bytes;
    switch (t) {
      case DType::kF32:
        std::memcpy(dst, src, k * 4);
        break;
      case DType::kF16:
      case DType::kBF16:
        for (int64_t i = 0; i < k; ++i) {
          const uint16_t h = t == DType::kF16 ? FloatToFp16(src[i]) : FloatToBf16(src[i]);
          std::memcpy(dst + 2 * i, &h, 2);
        }
        break;
      case DType::kQ8_0:
        for (int64_t b = 0; b < k / 32; ++b) {
          BlockQ8_0 blk{};
          float amax = 0;
          for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(src[b * 32 + i]));
          const float d = amax / 127.0f;
          blk.d = FloatToFp16(d);
          for (int i = 0; i < 32; ++i)
            blk.qs[i] = static_cast<int8_t>(d == 0 ? 0 : std::lround(src[b * 32 + i] / d));
          std::memcpy(dst + b * sizeof(blk), &blk, sizeof(blk));
        }
        break;
      case DType::kQ4_0:
        for (int64_t b = 0; b < k / 32; ++b) {
          BlockQ4_0 blk{};
          float mx = 0;  // signed value with the largest magnitude maps to -8
          for (int i = 0; i < 32; ++i)
            if (std::fabs(src[b * 32 + i]) > std::fabs(mx)) mx = src[b * 32 + i];
          const float d = mx / -8.0f;
          blk.d = FloatToFp16(d);
          auto q = [&](int i) {
            const int v = d == 0 ? 8 : static_cast<int>(std::lround(src[b * 32 + i] / d)) + 8;
            return static_cast<uint8_t>(std::clamp(v, 0, 15));
          };
          for (int i = 0; i < 16; ++i) blk.qs[i] = static_cast<uint8_t>(q(i) | (q(i + 16) << 4));
          std::memcpy(dst + b * sizeof(blk), &blk, sizeof(blk));
        }
        break;
      case DType::kQ4_1:
        for (int64_t b = 0; b < k / 32; ++b) {
          BlockQ4_1 blk{};
          float lo = src[b * 32], hi = src[b * 32];
          for (int i = 0; i < 32; ++i) {
            lo = std::min(lo, src[b * 32 + i]);
            hi = std::max(hi, src[b * 32 + i]);
          }
          const float d = (hi - lo) / 15.0f;
          blk.d = FloatToFp16(d);
          blk.m = FloatToFp16(lo);
          auto q = [&](int i) {
            const int v = d == 0 ? 0 : static_cast<int>(std::lround((src[b * 32 + i] - lo) / d));
            return static_cast<uint8_t>(std::clamp(v, 0, 15));
          };
          for (int i = 0; i < 16; ++i) blk.qs[i] = static_cast<uint8_t>(q(i) | (q(i + 16) << 4));
          std::memcpy(dst + b * sizeof(blk), &blk, sizeof(blk));
        }
        break;
      default:
        break;
    }
  }
  return out;
}

// Dequantizes in double, independently of the kernels' DequantizeRow.
inline double DequantRef(DType t, const uint8_t* row, int64_t i) {
  const int64_t b = i / 32, j = i % 32;
  switch (t) {
    case DType::kF32: {
      float f;
      std::memcpy(&f, row + 4 * i, 4);
      return f;
    }
    case DType::kF16:
    case DType::kBF16: {
      uint16_t h;
      std::memcpy(&h, row + 2 * i, 2);
      return t == DType::kF16 ? Fp16ToFloat(h) : Bf16ToFloat(h);
    }
    case DType::kQ8_0: {
      BlockQ8_0 blk;
      std::memcpy(&blk, row + b * sizeof(blk), sizeof(blk));
      return static_cast<double>(Fp16ToFloat(blk.d)) * blk.qs[j];
    }
    case DType::kQ4_0: {
      BlockQ4_0 blk;
      std::memcpy(&blk, row + b * sizeof(blk), sizeof(blk));
      const int q = j < 16 ? (blk.qs[j] & 15) : (blk.qs[j - 16] >> 4);
      return static_cast<double>(Fp16ToFloat(blk.d)) * (q - 8);
    }
    case DType::kQ4_1: {
      BlockQ4_1 blk;
      std::memcpy(&blk, row + b * sizeof(blk), sizeof(blk));
      const int q = j < 16 ? (blk.qs[j] & 15) : (blk.qs[j - 16] >> 4);
      return static_cast<double>(Fp16ToFloat(blk.d)) * q + Fp16ToFloat(blk.m);
    }
    default:
      return 0;
  }
}

}  // namespace radixserve::kernels::cpu::testing
