// Scalar VecOps and the run-time choice between the scalar and AVX2 tables.
#include "kernels/cpu/vec_ops.h"

#include <cmath>

#include "common/tensor_types.h"
#include "kernels/cpu/cpu_features.h"

namespace radixserve::kernels::cpu::internal {
namespace {

float Dot(const float* a, const float* b, int64_t n) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}
float SumSquares(const float* x, int64_t n) { return Dot(x, x, n); }
void Axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}
void Scale(float* y, float a, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= a;
}
float ExpShiftSum(float* x, int64_t n, float shift) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - shift);
    s += x[i];
  }
  return s;
}
void SiluMul(const float* g, const float* u, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}
void Scores(const float* q, int64_t ldq, int nq, const float* k, int64_t ldk, int nk, int hd, float scale,
            float* s, int64_t lds) {
  for (int i = 0; i < nq; ++i)
    for (int j = 0; j < nk; ++j) s[i * lds + j] = scale * Dot(q + i * ldq, k + j * ldk, hd);
}
void HalfToFloat(const uint16_t* h, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = Fp16ToFloat(h[i]);
}
void FloatToHalf(const float* x, uint16_t* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = FloatToFp16(x[i]);
}
void RoundHalf(const float* x, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = Fp16ToFloat(FloatToFp16(x[i]));
}
void RopeRotate(float* v, int32_t half, bool interleaved, const float* c, const float* s) {
  for (int32_t i = 0; i < half; ++i) {
    float& a = v[interleaved ? 2 * i : i];
    float& b = v[interleaved ? 2 * i + 1 : i + half];
    const float a0 = a, b0 = b;
    a = std::fma(c[i], a0, -(b0 * s[i]));
    b = std::fma(a0, s[i], b0 * c[i]);
  }
}
void Pv(const float* p, int64_t ldp, int nq, const float* v, int64_t ldv, int nk, int hd, float* o,
        int64_t ldo) {
  for (int i = 0; i < nq; ++i)
    for (int j = 0; j < nk; ++j) Axpy(p[i * ldp + j], v + j * ldv, o + i * ldo, hd);
}

}  // namespace

const VecOps& ScalarVecOps() {
  static const VecOps ops{&Dot,    &SumSquares, &Axpy,        &Scale,        &ExpShiftSum, &SiluMul,
                          &Scores, &Pv,         &HalfToFloat, &FloatToHalf, &RoundHalf,  &RopeRotate};
  return ops;
}

const VecOps& ActiveVecOps() {
#if defined(RADIXSERVE_KERNELS_X86)
  if (ActiveCpuIsa() >= CpuIsa::kAvx2) return Avx2VecOps();
#endif
  return ScalarVecOps();
}

}  // namespace radixserve::kernels::cpu::internal
