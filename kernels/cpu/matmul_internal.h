// Per-ISA matmul entry points, shared by matmul.cc (dispatch) and the per-ISA files.
// Not part of the public kernel API.
#pragma once

#include <cstdint>

#include "common/tensor_types.h"
#include "kernels/cpu/quantize.h"

namespace radixserve::kernels::cpu::internal {

struct MatmulArgs {
  DType dtype;
  const uint8_t* w;     // [n, row_bytes]
  int64_t row_bytes;
  int64_t k;
  const float* x;       // [m, ldx] float activations (float weight types)
  int64_t ldx;
  const BlockQ8Act* xq; // [m, k / 32] quantized activations (quantized weight types)
  int64_t m;
  float* y;             // [m, ldy]
  int64_t ldy;
};

struct MatmulIsa {
  // Quantizes one row; bit-identical to QuantizeRowQ8Act.
  void (*quantize_row)(const float* x, int64_t k, BlockQ8Act* out);
  // Computes y[0..m, n_begin..n_end) for args.dtype.
  void (*range)(const MatmulArgs& args, int64_t n_begin, int64_t n_end);
  // Weight rows per register tile; chunks handed to threads are multiples of this.
  int nr;
};

const MatmulIsa& ScalarMatmulIsa();
#if defined(RADIXSERVE_KERNELS_X86)
const MatmulIsa& Avx2MatmulIsa();
const MatmulIsa& Avx512MatmulIsa();
#endif

}  // namespace radixserve::kernels::cpu::internal
