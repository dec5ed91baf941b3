// Per-ISA matmul entry points, shared by matmul.cc (dispatch) and the per-ISA files.
// Not part of the public kernel API.
#pragma once

#include <cstdint>

#include "common/tensor_types.h"

namespace radixserve::kernels::cpu::internal {

// Blocks per row rounded up to a multiple of 8, so 8 block scales fill one vector load.
inline int64_t PaddedBlocks(int64_t k) { return (k / kQkBlock + 7) / 8 * 8; }

struct MatmulArgs {
  DType dtype;
  const uint8_t* w;  // [n, row_bytes]
  int64_t row_bytes;
  int64_t k;
  const float* x;  // [m, ldx] float activations (float weight types)
  int64_t ldx;
  // Quantized activations (quantized weight types), see quantize.h. Scales are padded
  // to PaddedBlocks(k) per row with zeros.
  const int8_t* xq;  // [m, k]
  const float* xd;   // [m, PaddedBlocks(k)]
  const float* xs;   // [m, PaddedBlocks(k)]
  int64_t m;
  float* y;  // [m, ldy]
  int64_t ldy;
};

struct MatmulIsa {
  // Quantizes one row; bit-identical to QuantizeRowQ8.
  void (*quantize_row)(const float* x, int64_t k, int8_t* qs, float* d, float* s);
  // Computes y[0..m, n_begin..n_end) for args.dtype. scratch: ScratchFloats(k) floats
  // owned by the calling thread.
  void (*range)(const MatmulArgs& args, int64_t n_begin, int64_t n_end, float* scratch);
  // Weight rows per register tile; chunks handed to threads are multiples of this.
  int nr;
};

// Per-thread scratch every ISA's range() may use.
// (the VNNI prefill path packs 8 rows: 16 floats + 256 bytes of quants + 256 bytes of
// dot start values per block).
inline int64_t ScratchFloats(int64_t k) { return 160 * PaddedBlocks(k); }

const MatmulIsa& ScalarMatmulIsa();
#if defined(RADIXSERVE_KERNELS_X86)
const MatmulIsa& Avx2MatmulIsa();
const MatmulIsa& Avx512MatmulIsa();
#endif

}  // namespace radixserve::kernels::cpu::internal
