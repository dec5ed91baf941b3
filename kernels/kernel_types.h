// Element types and small helpers shared by the parameter structs of kernels/cpu and
// kernels/cuda. Plain C++: no CUDA types, so the CPU twins include these headers as is.
// 16-bit floats travel as uint16_t storage (IEEE fp16 or bf16 bit patterns).
#pragma once

#include <cstdint>

// Marks inline helpers that both nvcc (host and device) and a plain C++ compiler accept.
#if defined(__CUDACC__)
#define RS_HOST_DEVICE __host__ __device__
#else
#define RS_HOST_DEVICE
#endif

namespace radixserve::kernels {

// Storage type of activations, KV cache entries and attention inputs/outputs.
enum class ScalarType : uint8_t {
  kF32 = 0,
  kF16 = 1,   // IEEE binary16 in uint16_t
  kBF16 = 2,  // bfloat16 in uint16_t
};

inline constexpr int ScalarTypeBytes(ScalarType t) { return t == ScalarType::kF32 ? 4 : 2; }

}  // namespace radixserve::kernels
