// Row (de)quantization shared by the CPU kernels: weights arrive as GGML rows (blocks of
// 32 along K), activations are quantized on the fly to 8-bit blocks so that quantized
// matmuls run as integer dot products.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/tensor_types.h"

namespace radixserve::kernels::cpu {

// One block of a quantized activation row: x ~= qs * d. `s` = d * sum(qs) lets a dot
// with an offset weight format (Q4_0's -8, Q4_1's min) fold the offset into one multiply:
//   sum_i (w_i) x_i = d_w d_x sum_i q_w,i q_x,i  +  m_w * s      (Q4_1, w = q*d + m)
// Like GGML's Q8_1, but the scales are float32: this type never leaves memory.
struct BlockQ8Act {
  float d;
  float s;
  int8_t qs[kQkBlock];
};
static_assert(sizeof(BlockQ8Act) == 40);

// Bytes of one weight row of k elements. Precondition: k % block_elems == 0.
inline int64_t RowBytes(DType t, int64_t k) {
  const DTypeTraits tr = GetDTypeTraits(t);
  return k / tr.block_elems * tr.block_bytes;
}

// True for the weight types Matmul, Embedding and DequantizeRow handle.
bool IsCpuWeightType(DType t);

// x[k] -> k/32 blocks: d = max|x| / 127, qs = round-half-even(x / d). Scalar reference;
// the SIMD matmul paths use bit-identical vector versions. Precondition: k % 32 == 0.
void QuantizeRowQ8Act(const float* x, int64_t k, BlockQ8Act* out);

// One weight row of `k` elements of type t -> float. Precondition: IsCpuWeightType(t),
// k a multiple of the type's block size.
void DequantizeRow(DType t, const void* row, int64_t k, float* out);

}  // namespace radixserve::kernels::cpu
