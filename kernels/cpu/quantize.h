// Row (de)quantization shared by the CPU kernels: weights arrive as GGML rows (blocks of
// 32 along K), activations are quantized on the fly to 8-bit blocks so that quantized
// matmuls run as integer dot products.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/tensor_types.h"

namespace radixserve::kernels::cpu {

// Activation rows are quantized to 8-bit blocks of 32 stored as three arrays per row:
//   qs [k] int8, d [blocks] float (x ~= qs * d), s [blocks] float (= d * sum(qs)).
// `s` lets a dot with an offset weight format fold the offset into one multiply:
//   sum_i w_i x_i = d_w d_x sum_i q_w,i q_x,i  +  m_w * s      (Q4_1: w = q d_w + m_w)
// Like GGML's Q8_1 with float32 scales (this form never leaves memory), laid out as
// arrays so the kernels read the scales of 8 blocks with one vector load.

// Bytes of one weight row of k elements. Precondition: k % block_elems == 0.
inline int64_t RowBytes(DType t, int64_t k) {
  const DTypeTraits tr = GetDTypeTraits(t);
  return k / tr.block_elems * tr.block_bytes;
}

// True for the weight types Matmul, Embedding and DequantizeRow handle.
bool IsCpuWeightType(DType t);

// x[k] -> k/32 blocks: d = max|x| / 127, qs = round-half-even(x * (1 / d)), s = d * sum(qs).
// Scalar reference; the SIMD matmul paths use bit-identical vector versions.
// Precondition: k % 32 == 0. qs: [k], d and s: [k / 32].
void QuantizeRowQ8(const float* x, int64_t k, int8_t* qs, float* d, float* s);

// One weight row of `k` elements of type t -> float. Precondition: IsCpuWeightType(t),
// k a multiple of the type's block size.
void DequantizeRow(DType t, const void* row, int64_t k, float* out);

}  // namespace radixserve::kernels::cpu
