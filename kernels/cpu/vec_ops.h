// Float vector primitives used by the CPU attention, norm and activation kernels, with a
// scalar and an AVX2 build chosen at run time (cpu_features.h). Internal to kernels/cpu.
#pragma once

#include <cstdint>

namespace radixserve::kernels::cpu::internal {

struct VecOps {
  float (*dot)(const float* a, const float* b, int64_t n);
  float (*sum_squares)(const float* x, int64_t n);
  void (*axpy)(float a, const float* x, float* y, int64_t n);  // y += a * x
  void (*scale)(float* y, float a, int64_t n);                 // y *= a
  // x[i] = exp(x[i] - shift); returns the sum. Inputs of -inf give exactly 0.
  float (*exp_shift_sum)(float* x, int64_t n, float shift);
  // out[i] = silu(g[i]) * u[i], silu(g) = g / (1 + exp(-g)).
  void (*silu_mul)(const float* g, const float* u, float* out, int64_t n);
  // s[i * lds + j] = scale * dot(q[i * ldq ..], k[j * ldk ..]) for i < nq, j < nk.
  void (*scores)(const float* q, int64_t ldq, int nq, const float* k, int64_t ldk, int nk, int hd,
                 float scale, float* s, int64_t lds);
  // o[i * ldo + d] += sum_j p[i * ldp + j] * v[j * ldv + d] for i < nq, d < hd.
  void (*pv)(const float* p, int64_t ldp, int nq, const float* v, int64_t ldv, int nk, int hd, float* o,
             int64_t ldo);
};

// The table for the active ISA (ActiveCpuIsa()).
const VecOps& ActiveVecOps();
const VecOps& ScalarVecOps();
#if defined(RADIXSERVE_KERNELS_X86)
const VecOps& Avx2VecOps();
#endif

}  // namespace radixserve::kernels::cpu::internal
