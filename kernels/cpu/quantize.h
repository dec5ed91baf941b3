// Row (de)quantization shared by the CPU kernels: weights arrive as GGML rows (blocks of
// 32 along K), activations are quantized on the fly to 8-bit blocks so that quantized
// matmuls run as integer dot products.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/tensor_types.h"

namespace radixserve::kernels::cpu {

// Activation rows are quantized to 8-bit blocks of 32 stored as three arrays per row:
//   qs [k] int8, d [blocks] float (x ~= qs * d), s [blocks] float (~= d * sum(qs)).
// `s` lets a dot with an offset weight format fold the offset into one multiply:
//   sum_i w_i x_i = d_w d_x sum_i q_w,i q_x,i  +  m_w * s      (Q4_1: w = q d_w + m_w)
// The numbers are exactly those of GGML's Q8_1 (and, without s, Q8_0) activation blocks
// as llama.cpp's x86 build makes them, so that our quantized products equal llama.cpp's:
//   amax = max|x|,  q = round-half-even(x * (127 / amax)),
//   d = fp16(amax / 127),  s = fp16((amax / 127) * sum(q))
// (d and s are rounded to half precision although they are kept in float arrays: the
// block formats store them as fp16). Laid out as arrays so the kernels read the scales
// of 8 blocks with one vector load.

// Bytes of one weight row of k elements. Precondition: k % block_elems == 0.
inline int64_t RowBytes(DType t, int64_t k) {
  const DTypeTraits tr = GetDTypeTraits(t);
  return k / tr.block_elems * tr.block_bytes;
}

// True for the weight types Matmul, Embedding and DequantizeRow handle.
bool IsCpuWeightType(DType t);

// x[k] -> k/32 blocks as described above.
// Scalar reference; the SIMD matmul paths use bit-identical vector versions.
// Precondition: k % 32 == 0. qs: [k], d and s: [k / 32].
void QuantizeRowQ8(const float* x, int64_t k, int8_t* qs, float* d, float* s);

// x rounded to the nearest half-precision value (ties to even), as a float.
float RoundToFp16(float x);

// One weight row of `k` elements of type t -> float. Precondition: IsCpuWeightType(t),
// k a multiple of the type's block size.
void DequantizeRow(DType t, const void* row, int64_t k, float* out);

}  // namespace radixserve::kernels::cpu
