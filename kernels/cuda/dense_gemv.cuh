// Dense bf16 matrix-vector product for decode-sized batches: y = x * W^T (+ bias) with
// m <= kDenseGemvMaxRows activation rows. At m = 1 cuBLAS reads the small projections of
// a decode step (16-48 MB) at about 2.5 TB/s on an H200; this kernel keeps every SM
// streaming weights whatever n is, and folds in the RMSNorm before and the residual add
// after the product (see NOTES.md). From m = 2 on cuBLAS's tensor-core kernels win.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/cuda_status.cuh"

namespace radixserve::kernels::cuda {

inline constexpr int kDenseGemvMaxRows = 8;

struct DenseGemvParams {
  const uint16_t* x = nullptr;           // [m, k] bf16, rows 16-byte aligned
  const uint16_t* w = nullptr;           // [n, k] bf16 row-major, rows 16-byte aligned
  const uint16_t* maybe_bias = nullptr;  // [n] bf16
  void* y = nullptr;                     // [m, n]: bf16, or float when out_f32
  bool out_f32 = false;
  int32_t m = 0;  // 1 .. kDenseGemvMaxRows
  int32_t n = 0;
  int32_t k = 0;  // a multiple of 8 (16 bytes)

  // Optional RMSNorm of the x rows first (kernels/norm_act_params.h, no residual): the
  // product reads bf16(x / sqrt(mean(x^2) + eps) * norm_weight), each CTA computing the
  // row's mean square itself, so the norm costs no launch and no round trip.
  const uint16_t* maybe_norm_weight = nullptr;  // [k] bf16
  float norm_eps = 1e-6f;
  // Optional residual epilogue (bf16 output only): y = bf16(residual + bf16(x * W^T + bias)),
  // the rounding RmsNormParams' residual add applies; y may be the residual itself.
  const uint16_t* maybe_residual = nullptr;  // [m, n] bf16
};

// Accumulates in float; one rounding to bf16 at the end (none for out_f32).
KernelStatus DenseGemv(const DenseGemvParams& params, cudaStream_t stream);

}  // namespace radixserve::kernels::cuda
