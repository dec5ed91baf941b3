// Element types of weight and activation tensors, with the GGML block layouts that the
// model layer dequantizes and the CPU/CUDA kernels compute on directly.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace radixserve {

// Values are GGML's type ids so a GGUF tensor's type maps 1:1.
enum class DType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kBF16 = 30,
};

struct DTypeTraits {
  std::string_view name;
  uint32_t block_elems;  // elements per block (1 for plain float types)
  uint32_t block_bytes;  // bytes per block
  bool supported;        // dequantized by the model layer / computed on by kernels
};

// Block layouts. Each block covers kQkBlock consecutive elements of one row.
inline constexpr int kQkBlock = 32;

struct BlockQ4_0 {  // x = (q - 8) * d; low nibbles hold elements 0..15, high 16..31
  uint16_t d;       // fp16 scale
  uint8_t qs[kQkBlock / 2];
};
struct BlockQ4_1 {  // x = q * d + m; same nibble order as Q4_0
  uint16_t d;       // fp16 scale
  uint16_t m;       // fp16 minimum
  uint8_t qs[kQkBlock / 2];
};
struct BlockQ8_0 {  // x = q * d
  uint16_t d;       // fp16 scale
  int8_t qs[kQkBlock];
};
static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ8_0) == 34);

inline DTypeTraits GetDTypeTraits(DType t) {
  switch (t) {
    case DType::kF32: return {"F32", 1, 4, true};
    case DType::kF16: return {"F16", 1, 2, true};
    case DType::kBF16: return {"BF16", 1, 2, true};
    case DType::kQ4_0: return {"Q4_0", 32, sizeof(BlockQ4_0), true};
    case DType::kQ4_1: return {"Q4_1", 32, sizeof(BlockQ4_1), true};
    case DType::kQ8_0: return {"Q8_0", 32, sizeof(BlockQ8_0), true};
    case DType::kQ5_0: return {"Q5_0", 32, 22, false};
    case DType::kQ5_1: return {"Q5_1", 32, 24, false};
    case DType::kQ8_1: return {"Q8_1", 32, 36, false};
    case DType::kQ2_K: return {"Q2_K", 256, 84, false};
    case DType::kQ3_K: return {"Q3_K", 256, 110, false};
    case DType::kQ4_K: return {"Q4_K", 256, 144, false};
    case DType::kQ5_K: return {"Q5_K", 256, 176, false};
    case DType::kQ6_K: return {"Q6_K", 256, 210, false};
    case DType::kQ8_K: return {"Q8_K", 256, 292, false};
  }
  return {"unknown", 0, 0, false};
}

// True for type ids that GGUF files may carry and whose layout we know.
inline bool IsKnownDType(uint32_t id) { return GetDTypeTraits(static_cast<DType>(id)).block_elems != 0; }

// IEEE half -> float, exact for every input (subnormals, inf, NaN).
inline float Fp16ToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {  // subnormal: renormalize
    int shift = std::countl_zero(static_cast<uint16_t>(mant << 6));  // leading zeros in 10 bits
    uint32_t m = (mant << (shift + 1)) & 0x3ff;
    bits = sign | (static_cast<uint32_t>(112 - shift) << 23) | (m << 13);
  }
  return std::bit_cast<float>(bits);
}

// float -> IEEE half, round to nearest even; overflow gives inf, NaN stays NaN.
inline uint16_t FloatToFp16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (x >> 16) & 0x8000;
  const uint32_t abs = x & 0x7fffffff;
  if (abs >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00 | (abs > 0x7f800000u ? 0x200 : 0));
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00);  // rounds to >= 65520
  if (abs < 0x38800000u) {  // result is subnormal or zero
    const float v = std::bit_cast<float>(abs) * 16777216.0f;  // scale by 2^24: units of 2^-24
    uint32_t q = static_cast<uint32_t>(v);
    const float rem = v - static_cast<float>(q);
    if (rem > 0.5f || (rem == 0.5f && (q & 1))) ++q;
    return static_cast<uint16_t>(sign | q);
  }
  uint32_t h = ((abs >> 13) - (112u << 10));
  const uint32_t rem = abs & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;
  return static_cast<uint16_t>(sign | h);
}

inline float Bf16ToFloat(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

// float -> bf16, round to nearest even; NaN stays NaN.
inline uint16_t FloatToBf16(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffff) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);
  x += 0x7fff + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

}  // namespace radixserve
