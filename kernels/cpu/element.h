// Element access for the CPU twins whose activations may be float32, fp16 or bf16
// (kernels::ScalarType). Math is always float; 16-bit values are converted on load and
// rounded to nearest-even on store.
#pragma once

#include <cstdint>
#include <type_traits>

#include "common/tensor_types.h"
#include "kernels/kernel_types.h"

namespace radixserve::kernels::cpu {

struct Fp16 {
  uint16_t bits;
};
struct Bf16 {
  uint16_t bits;
};

inline float ToFloat(float x) { return x; }
inline float ToFloat(Fp16 x) { return Fp16ToFloat(x.bits); }
inline float ToFloat(Bf16 x) { return Bf16ToFloat(x.bits); }

template <typename T>
inline T FromFloat(float x) {
  if constexpr (std::is_same_v<T, Fp16>) {
    return Fp16{FloatToFp16(x)};
  } else if constexpr (std::is_same_v<T, Bf16>) {
    return Bf16{FloatToBf16(x)};
  } else {
    return x;
  }
}

// Calls fn(T{}) with T the storage type of t (float, Fp16 or Bf16).
template <typename Fn>
inline void VisitScalarType(ScalarType t, Fn&& fn) {
  switch (t) {
    case ScalarType::kF32: return fn(float{});
    case ScalarType::kF16: return fn(Fp16{});
    case ScalarType::kBF16: return fn(Bf16{});
  }
}

}  // namespace radixserve::kernels::cpu
