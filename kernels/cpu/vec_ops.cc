// Scalar VecOps and the run-time choice between the scalar and AVX2 tables.
#include "kernels/cpu/vec_ops.h"

#include <cmath>
#include <vector>

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
float Reduce16(const float* v) {
  float t3[8], t6[4];
  for (int l = 0; l < 8; ++l) t3[l] = v[l + 8] + v[l];
  for (int l = 0; l < 4; ++l) t6[l] = t3[l + 4] + t3[l];
  return (t6[0] + t6[2]) + (t6[1] + t6[3]);
}
float DotLanes(const float* x, const float* y, int64_t n, int lanes) {
  float acc[64] = {};
  const int64_t np = n - n % lanes;
  for (int64_t i = 0; i < np; i += lanes)
    for (int t = 0; t < lanes; ++t) acc[t] = std::fma(x[i + t], y[i + t], acc[t]);
  if (lanes == 64) {
    for (int l = 0; l < 16; ++l) acc[l] = (acc[l] + acc[l + 32]) + (acc[l + 16] + acc[l + 48]);
  }
  double sum = Reduce16(acc);
  for (int64_t i = np; i < n; ++i) sum += static_cast<double>(x[i] * y[i]);
  return static_cast<float>(sum);
}
double Chunk16Sum(const float* x, int64_t n) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; i += 16) {
    float v[16] = {};
    for (int64_t t = 0; t < 16 && i + t < n; ++t) v[t] = x[i + t];
    sum += Reduce16(v);
  }
  return sum;
}
void ScoresLanesHalf(const float* q, const uint16_t* const* k, int nk, int hd, int lanes, float scale, float* s) {
  std::vector<float> row(hd);
  for (int j = 0; j < nk; ++j) {
    for (int d = 0; d < hd; ++d) row[d] = Fp16ToFloat(k[j][d]);
    s[j] = DotLanes(row.data(), q, hd, lanes) * scale;
  }
}
void PvLanesHalf(const float* p, const uint16_t* const* v, int nk, int hd, int lanes, float* acc) {
  for (int j = 0; j < nk; ++j) {
    float* a = acc + static_cast<int64_t>(j % lanes) * hd;
    for (int d = 0; d < hd; ++d) a[d] = std::fma(p[j], Fp16ToFloat(v[j][d]), a[d]);
  }
}
void Scores16Kt(const float* q, const float* kp, int nk, int hd, float scale, float* s) {
  for (int j = 0; j < nk; ++j) {
    float acc[16] = {};
    for (int i = 0; i + 16 <= hd; i += 16)
      for (int l = 0; l < 16; ++l) acc[l] = std::fma(q[i + l], kp[(j / 8) * hd * 8 + (i + l) * 8 + j % 8], acc[l]);
    double sum = Reduce16(acc);
    for (int i = hd - hd % 16; i < hd; ++i) sum += static_cast<double>(q[i] * kp[(j / 8) * hd * 8 + i * 8 + j % 8]);
    s[j] = static_cast<float>(sum) * scale;
  }
}
void PvLanes(const float* p, int64_t ldp, int nrows, const float* v, int64_t ldt, int64_t ldc, int nk, int hd,
             int lanes, float* acc, int64_t ld_acc) {
  for (int r = 0; r < nrows; ++r) {
    for (int j = 0; j < nk; ++j) {
      float* a = acc + r * ld_acc + static_cast<int64_t>(j % lanes) * hd;
      const float* vj = v + (j % lanes) * ldt + (j / lanes) * ldc;
      for (int d = 0; d < hd; ++d) a[d] = std::fma(p[r * ldp + j], vj[d], a[d]);
    }
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
                          &Scores, &Pv,         &HalfToFloat, &FloatToHalf, &RoundHalf,  &RopeRotate,
                          &DotLanes, &Chunk16Sum, &ScoresLanesHalf, &PvLanesHalf,
                          &Scores16Kt, &PvLanes};
  return ops;
}

const VecOps& ActiveVecOps() {
#if defined(RADIXSERVE_KERNELS_X86)
  if (ActiveCpuIsa() >= CpuIsa::kAvx2) return Avx2VecOps();
#endif
  return ScalarVecOps();
}

}  // namespace radixserve::kernels::cpu::internal
