// AVX2 + FMA VecOps (compiled with per-file -mavx2 -mfma; see CMakeLists.txt). Only
// file-local helpers are used here so no ISA-flagged code leaks into shared inline
// functions (ODR).
#include <immintrin.h>

#include "kernels/cpu/vec_ops.h"

namespace radixserve::kernels::cpu::internal {
namespace {

inline float HSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  __m128 sh = _mm_movehdup_ps(s);
  s = _mm_add_ps(s, sh);
  sh = _mm_movehl_ps(sh, s);
  return _mm_cvtss_f32(_mm_add_ss(s, sh));
}

// exp(x) with ~2 ulp relative error over [-86, 88.3] (range reduction by ln 2 in two
// parts, degree-6 polynomial, exponent add); exactly 0 below -86 (and for -inf), where
// the true value (< 5e-38) is negligible in every sum it joins.
inline __m256 Exp(__m256 x) {
  const __m256 underflow = _mm256_cmp_ps(x, _mm256_set1_ps(-86.0f), _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-86.0f)), _mm256_set1_ps(88.3f));
  const __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_cvtps_epi32(fx), 23);
  const __m256 y = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), e));
  return _mm256_andnot_ps(underflow, y);
}

float ExpScalar(float x) {
  return _mm_cvtss_f32(_mm256_castps256_ps128(Exp(_mm256_set1_ps(x))));
}

float Dot(const float* a, const float* b, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float s = HSum(_mm256_add_ps(s0, s1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

float SumSquares(const float* x, int64_t n) { return Dot(x, x, n); }

void Axpy(float a, const float* x, float* y, int64_t n) {
  const __m256 av = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] += a * x[i];
}

void Scale(float* y, float a, int64_t n) {
  const __m256 av = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(av, _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] *= a;
}

float ExpShiftSum(float* x, int64_t n, float shift) {
  const __m256 sv = _mm256_set1_ps(shift);
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = Exp(_mm256_sub_ps(_mm256_loadu_ps(x + i), sv));
    _mm256_storeu_ps(x + i, e);
    acc = _mm256_add_ps(acc, e);
  }
  float s = HSum(acc);
  for (; i < n; ++i) {
    x[i] = ExpScalar(x[i] - shift);
    s += x[i];
  }
  return s;
}

void SiluMul(const float* g, const float* u, float* out, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 gv = _mm256_loadu_ps(g + i);
    const __m256 den = _mm256_add_ps(one, Exp(_mm256_xor_ps(gv, sign)));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_div_ps(gv, den), _mm256_loadu_ps(u + i)));
  }
  for (; i < n; ++i) out[i] = g[i] / (1.0f + ExpScalar(-g[i])) * u[i];
}

// Horizontal sums of 8 vectors at once: lane j of the result = sum of a[j]'s lanes.
inline __m256 HSum8(const __m256* a) {
  const __m256 t0 = _mm256_hadd_ps(a[0], a[1]), t1 = _mm256_hadd_ps(a[2], a[3]);
  const __m256 t2 = _mm256_hadd_ps(a[4], a[5]), t3 = _mm256_hadd_ps(a[6], a[7]);
  const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

void Scores(const float* q, int64_t ldq, int nq, const float* k, int64_t ldk, int nk, int hd, float scale,
            float* s, int64_t lds) {
  const __m256 sv = _mm256_set1_ps(scale);
  for (int i = 0; i < nq; ++i) {
    const float* qi = q + i * ldq;
    int j = 0;
    if (hd % 8 == 0) {
      for (; j + 8 <= nk; j += 8) {  // 8 keys: one vector of scores, one transpose-reduce
        __m256 acc[8];
        for (int t = 0; t < 8; ++t) acc[t] = _mm256_setzero_ps();
        for (int d = 0; d < hd; d += 8) {
          const __m256 qv = _mm256_loadu_ps(qi + d);
          for (int t = 0; t < 8; ++t) acc[t] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + (j + t) * ldk + d), acc[t]);
        }
        _mm256_storeu_ps(s + i * lds + j, _mm256_mul_ps(sv, HSum8(acc)));
      }
    }
    for (; j + 2 <= nk; j += 2) {  // two keys at a time: independent FMA chains
      const float* k0 = k + j * ldk;
      const float* k1 = k0 + ldk;
      __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
      int d = 0;
      for (; d + 8 <= hd; d += 8) {
        const __m256 qv = _mm256_loadu_ps(qi + d);
        a0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + d), a0);
        a1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k1 + d), a1);
      }
      float r0 = HSum(a0), r1 = HSum(a1);
      for (; d < hd; ++d) {
        r0 += qi[d] * k0[d];
        r1 += qi[d] * k1[d];
      }
      s[i * lds + j] = scale * r0;
      s[i * lds + j + 1] = scale * r1;
    }
    for (; j < nk; ++j) s[i * lds + j] = scale * Dot(qi, k + j * ldk, hd);
  }
}

void Pv(const float* p, int64_t ldp, int nq, const float* v, int64_t ldv, int nk, int hd, float* o,
        int64_t ldo) {
  for (int i = 0; i < nq; ++i) {
    float* oi = o + i * ldo;
    const float* pi = p + i * ldp;
    int d = 0;
    for (; d + 32 <= hd; d += 32) {  // 4 accumulators held across all keys
      __m256 a0 = _mm256_loadu_ps(oi + d), a1 = _mm256_loadu_ps(oi + d + 8);
      __m256 a2 = _mm256_loadu_ps(oi + d + 16), a3 = _mm256_loadu_ps(oi + d + 24);
      for (int j = 0; j < nk; ++j) {
        const __m256 pj = _mm256_set1_ps(pi[j]);
        const float* vj = v + j * ldv + d;
        a0 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj), a0);
        a1 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 8), a1);
        a2 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 16), a2);
        a3 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 24), a3);
      }
      _mm256_storeu_ps(oi + d, a0);
      _mm256_storeu_ps(oi + d + 8, a1);
      _mm256_storeu_ps(oi + d + 16, a2);
      _mm256_storeu_ps(oi + d + 24, a3);
    }
    for (; d + 8 <= hd; d += 8) {
      __m256 a0 = _mm256_loadu_ps(oi + d);
      for (int j = 0; j < nk; ++j) a0 = _mm256_fmadd_ps(_mm256_set1_ps(pi[j]), _mm256_loadu_ps(v + j * ldv + d), a0);
      _mm256_storeu_ps(oi + d, a0);
    }
    for (; d < hd; ++d) {
      float a = oi[d];
      for (int j = 0; j < nk; ++j) a += pi[j] * v[j * ldv + d];
      oi[d] = a;
    }
  }
}

}  // namespace

const VecOps& Avx2VecOps() {
  static const VecOps ops{&Dot, &SumSquares, &Axpy, &Scale, &ExpShiftSum, &SiluMul, &Scores, &Pv};
  return ops;
}

}  // namespace radixserve::kernels::cpu::internal
