// Host-side repacking of dequantized weight rows into the layouts of the weight-only
// GEMM (kernels/quant_gemm_params.h). Plain C++ (no CUDA), tested on the CPU.
//   INT8: scale = max|row| / 127 rounded to bf16; q = round(x / scale) clamped to +-127.
//   INT4: per 128 inputs scale = max|x| / 7 rounded to bf16; q = round(x / scale)
//         clamped to -8..7, stored as q + 8 in a nibble (even element in the low nibble).
// Per element |x - q * scale| <= scale / 2 (plus the bf16 rounding of the scale).
#pragma once

#include <cstdint>

namespace radixserve::backend::cuda {

void QuantizeInt8Rows(const float* x, int64_t rows, int64_t k, int8_t* q, uint16_t* scales);
void QuantizeInt4Rows(const float* x, int64_t rows, int64_t k, uint8_t* q, uint16_t* scales);

// Reorders QuantizeInt4Rows' packed rows into kInt4Group128Tiled (kernels/quant_gemm_params.h)
// for the GPU's tensor-core kernel: `out` holds kernels::Int4TiledBytes(rows, k) bytes; the
// padding rows of the last tile get q = 8 (weight 0). Scales are unchanged.
void TileInt4ForGpu(const uint8_t* q, int64_t rows, int64_t k, uint8_t* out);

}  // namespace radixserve::backend::cuda
