// y[M, N] = x[M, K] . W[N, K]^T for the weight types the model layer reads.
//
// W is stored as N GGML rows of K elements (F32, F16, BF16, or blocks of 32 for Q8_0,
// Q4_0, Q4_1); x and y are float32. For the quantized types x is first quantized to
// 8-bit blocks (BlockQ8Act, once per call) and the products run as integer dot products,
// as llama.cpp does. For BF16 weights x is rounded to bf16 once per call (FloatToBf16,
// llama.cpp's vec_dot_type for BF16) and the products are exact bf16 x bf16 products
// (vdpbf16ps where the CPU has AVX512-BF16); F32 / F16 products are float FMAs.
//
// Work is split over N across the thread pool. Per thread, by shape and ISA:
//  * M == 1 (decode): a GEMV that streams 4 weight rows per pass over the activation
//    (quantized) or one weight row at a time (float types: one sequential stream).
//  * M > 1: register tiles of several activation rows x several weight rows, so each
//    weight block is loaded and unpacked once per tile rather than once per row.
//  * M >= 8 with AVX-512 VNNI: 8 weight rows are repacked (per 128 activation rows) so
//    that vector lanes are weight rows, and vpdpbusd accumulates 8 outputs at once.
//  * M >= 8 with AVX-512, float types: 32 weight rows are packed once per call as
//    vector lanes (floats, or bf16 pairs for vdpbf16ps) and a 12 x 32 outer-product
//    tile runs over K (matmul_simd_float.inc).
// The SIMD path (scalar / AVX2 / AVX-512 VNNI / AVX-512 + BF16) is chosen at run time
// (cpu_features.h); every path computes the same integer block dots; the AVX2 and
// AVX-512 paths (every tile shape) also round identically, the scalar path differs by
// float summation order. BF16 prefill gives the same bits with and without AVX512-BF16.
#pragma once

#include <cstdint>

#include "common/tensor_types.h"
#include "kernels/cpu/thread_pool.h"

namespace radixserve::kernels::cpu {

struct MatmulWeight {
  DType dtype = DType::kF32;
  const void* data = nullptr;  // [n, k] rows, RowBytes(dtype, k) bytes each
  int64_t n = 0;               // output features (rows)
  int64_t k = 0;               // input features; a multiple of 32 for quantized types
};

// True for the dtypes Matmul handles.
bool MatmulSupports(DType t);

// x: [m, k] row-major with row stride ldx (>= k); y: [m, n] with row stride ldy (>= n).
// Preconditions: MatmulSupports(w.dtype); w.k % 32 == 0 for quantized types; x and y do
// not overlap. pool may be null (single-threaded). Called from one thread at a time per
// pool; uses a thread-local scratch buffer for the quantized activations.
void Matmul(const float* x, int64_t m, int64_t ldx, const MatmulWeight& w, float* y, int64_t ldy,
            ThreadPool* pool);

// One output of MatmulShared: y[m, w.n] with row stride ldy.
struct MatmulOutput {
  MatmulWeight w;
  float* y = nullptr;
  int64_t ldy = 0;
};

// Several products of the SAME activation x[m, k] (Q/K/V, gate/up): x is quantized once
// and all outputs share one pool dispatch, so the small K/V projections of decode do not
// each pay a fork-join. Every w.k must be equal. Same preconditions as Matmul.
void MatmulShared(const float* x, int64_t m, int64_t ldx, const MatmulOutput* outputs, int num_outputs,
                  ThreadPool* pool);

// Contiguous convenience form: ldx = k, ldy = n.
inline void Matmul(const float* x, int64_t m, const MatmulWeight& w, float* y, ThreadPool* pool) {
  Matmul(x, m, w.k, w, y, w.n, pool);
}

}  // namespace radixserve::kernels::cpu
