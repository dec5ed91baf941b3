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
  int64_t ldx;     // for BF16 weights on ISAs without bf16_dot: the bf16-rounded rows
  // BF16 weights on ISAs with bf16_dot: the activations rounded to bf16, rows padded
  // with zeros to ldxb = Bf16RowStride(k) elements.
  const uint16_t* xb;
  int64_t ldxb;
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
  // Rounds one row to bf16 (round to nearest even, NaN kept: FloatToBf16) and zero-pads
  // it to kb elements.
  void (*round_bf16_row)(const float* x, int64_t k, uint16_t* out, int64_t kb);
  // Weight rows per unit of work for the quantized / the float types; chunks handed to
  // threads are multiples of this.
  int nr;
  int nr_float;
  // BF16 weights: true if range() reads args.xb (bf16 products), false if it reads
  // args.x holding the bf16-rounded activations as floats.
  bool bf16_dot;
};

// Row stride of the bf16 activations: k rounded up to whole 32-element vectors.
inline int64_t Bf16RowStride(int64_t k) { return (k + 31) / 32 * 32; }

// Per-thread scratch every ISA's range() may use.
// (the VNNI prefill path packs 8 rows: 16 floats + 256 bytes of quants + 256 bytes of
// dot start values per block; the AVX-512 float prefill path packs 32 weight rows as
// floats, k + 1 of them each).
inline int64_t ScratchFloats(int64_t k) {
  const int64_t quant = 160 * PaddedBlocks(k), panel = 32 * (k + 2);
  return quant > panel ? quant : panel;
}

const MatmulIsa& ScalarMatmulIsa();
#if defined(RADIXSERVE_KERNELS_X86)
const MatmulIsa& Avx2MatmulIsa();
const MatmulIsa& Avx512MatmulIsa();
const MatmulIsa& Avx512Bf16MatmulIsa();
#endif

}  // namespace radixserve::kernels::cpu::internal
