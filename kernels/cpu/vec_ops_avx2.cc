// AVX2 + FMA + F16C VecOps (compiled with per-file -mavx2 -mfma -mf16c; see CMakeLists.txt). Only
// file-local helpers are used here so no ISA-flagged code leaks into shared inline
// functions (ODR).
#include <immintrin.h>

#include <vector>

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

// exp(x) computed exactly as llama.cpp's AVX-512 build computes it (ggml's vectorized
// expf, itself after Arm's optimized-routines expf: max error 1.45 + 0.5 ulp), written
// with 256-bit operations: n = round(x / ln 2) by the 1.5 * 2^23 shift, reduced
// argument b = x - n ln 2 in two parts, a degree-5 polynomial j ~ exp(b) whose last step
// adds 1, then j * 2^n. SiLU and the softmax use it, so that activations feeding 8-bit
// quantization round as llama.cpp's do. Results that would be subnormal are flushed to
// 0 (negligible in every sum they join); exp(x > 88.7) = inf.
inline __m256 Exp(__m256 x) {
  const __m256 r = _mm256_set1_ps(0x1.8p23f);
  const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
  const __m256 n = _mm256_sub_ps(z, r);
  const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                    _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
  const __m256 u = _mm256_mul_ps(b, b);
  const __m256 j = _mm256_fmadd_ps(
      _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                      _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
      u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f)));
  // 2^n as a float for n in [-126, 127] (n is integral; NaN x gives NaN via j).
  const __m256 nc = _mm256_min_ps(_mm256_max_ps(n, _mm256_set1_ps(-126.0f)), _mm256_set1_ps(127.0f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(nc), _mm256_set1_epi32(127)), 23);
  __m256 res = _mm256_mul_ps(j, _mm256_castsi256_ps(e));  // exact: j * 2^n is normal here
  const __m256 under = _mm256_cmp_ps(n, _mm256_set1_ps(-126.0f), _CMP_LT_OQ);
  const __m256 over = _mm256_cmp_ps(n, _mm256_set1_ps(127.0f), _CMP_GT_OQ);
  res = _mm256_andnot_ps(under, res);
  return _mm256_blendv_ps(res, _mm256_set1_ps(__builtin_inff()), over);
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
  for (; i < n; ++i) y[i] = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(x[i]), _mm_set_ss(y[i])));
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

namespace {

void HalfToFloat(const uint16_t* h, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))));
  }
  for (; i < n; ++i) out[i] = _cvtsh_ss(h[i]);
}

void FloatToHalf(const float* x, uint16_t* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), 0));
  }
  for (; i < n; ++i) out[i] = _cvtss_sh(x[i], 0);
}

void RoundHalf(const float* x, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), 0)));
  for (; i < n; ++i) out[i] = _cvtsh_ss(_cvtss_sh(x[i], 0));
}

void RopeRotate(float* v, int32_t half, bool interleaved, const float* c, const float* s) {
  int32_t i = 0;
  if (interleaved) {
    // 4 pairs per vector: x = (a0 b0 a1 b1 ...), cs = (c0 s0 c1 s1 ...) interleaved.
    for (; i + 4 <= half; i += 4) {
      const __m256 x = _mm256_loadu_ps(v + 2 * i);
      const __m128 c4 = _mm_loadu_ps(c + i), s4 = _mm_loadu_ps(s + i);
      const __m256 cs = _mm256_set_m128(_mm_unpackhi_ps(c4, s4), _mm_unpacklo_ps(c4, s4));
      const __m256 sc = _mm256_permute_ps(cs, 0xb1);                                  // (s0 c0 ...)
      const __m256 aa = _mm256_permute_ps(x, 0xa0), bb = _mm256_permute_ps(x, 0xf5);  // (a a ..), (b b ..)
      // even lanes: a c - (b s); odd lanes: a s + (b c)
      _mm256_storeu_ps(v + 2 * i, _mm256_fmaddsub_ps(aa, cs, _mm256_mul_ps(bb, sc)));
    }
  } else {
    for (; i + 8 <= half; i += 8) {
      const __m256 a = _mm256_loadu_ps(v + i), b = _mm256_loadu_ps(v + i + half);
      const __m256 cv = _mm256_loadu_ps(c + i), sv = _mm256_loadu_ps(s + i);
      _mm256_storeu_ps(v + i, _mm256_fmsub_ps(cv, a, _mm256_mul_ps(b, sv)));
      _mm256_storeu_ps(v + i + half, _mm256_fmadd_ps(a, sv, _mm256_mul_ps(b, cv)));
    }
  }
  for (; i < half; ++i) {
    float& a = v[interleaved ? 2 * i : i];
    float& b = v[interleaved ? 2 * i + 1 : i + half];
    const float a0 = a, b0 = b;
    a = _mm_cvtss_f32(_mm_fmsub_ss(_mm_set_ss(c[i]), _mm_set_ss(a0), _mm_set_ss(b0 * s[i])));
    b = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a0), _mm_set_ss(s[i]), _mm_set_ss(b0 * c[i])));
  }
}

// Reduce16 of vec_ops.h for lanes 0-7 in lo and 8-15 in hi.
inline float Reduce16(__m256 lo, __m256 hi) {
  const __m256 t3 = _mm256_add_ps(hi, lo);
  __m128 t6 = _mm_add_ps(_mm256_extractf128_ps(t3, 1), _mm256_castps256_ps128(t3));
  t6 = _mm_add_ps(t6, _mm_movehl_ps(t6, t6));
  return _mm_cvtss_f32(_mm_add_ss(t6, _mm_movehdup_ps(t6)));
}

float DotLanes(const float* x, const float* y, int64_t n, int lanes) {
  const int64_t np = n - n % lanes;
  float r;
  if (lanes == 64) {
    __m256 a[8];
    for (int t = 0; t < 8; ++t) a[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < np; i += 64)
      for (int t = 0; t < 8; ++t) a[t] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8 * t), _mm256_loadu_ps(y + i + 8 * t), a[t]);
    r = Reduce16(_mm256_add_ps(_mm256_add_ps(a[0], a[4]), _mm256_add_ps(a[2], a[6])),
                 _mm256_add_ps(_mm256_add_ps(a[1], a[5]), _mm256_add_ps(a[3], a[7])));
  } else {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (int64_t i = 0; i < np; i += 16) {
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
    }
    r = Reduce16(a0, a1);
  }
  double sum = r;
  for (int64_t i = np; i < n; ++i) sum += static_cast<double>(x[i] * y[i]);
  return static_cast<float>(sum);
}

double Chunk16Sum(const float* x, int64_t n) {
  double sum = 0.0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) sum += Reduce16(_mm256_loadu_ps(x + i), _mm256_loadu_ps(x + i + 8));
  if (i < n) {
    alignas(32) float v[16] = {};
    for (int64_t t = 0; i + t < n; ++t) v[t] = x[i + t];
    sum += Reduce16(_mm256_load_ps(v), _mm256_load_ps(v + 8));
  }
  return sum;
}

inline __m256 LoadHalf8(const uint16_t* h) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h)));
}

void ScoresLanesHalf(const float* q, const uint16_t* const* k, int nk, int hd, int lanes, float scale, float* s) {
  if (lanes == 64 && hd % 64 == 0) {
    for (int j = 0; j < nk; ++j) {
      __m256 a[8];
      for (int t = 0; t < 8; ++t) a[t] = _mm256_setzero_ps();
      for (int i = 0; i < hd; i += 64)
        for (int t = 0; t < 8; ++t) a[t] = _mm256_fmadd_ps(LoadHalf8(k[j] + i + 8 * t), _mm256_loadu_ps(q + i + 8 * t), a[t]);
      s[j] = Reduce16(_mm256_add_ps(_mm256_add_ps(a[0], a[4]), _mm256_add_ps(a[2], a[6])),
                      _mm256_add_ps(_mm256_add_ps(a[1], a[5]), _mm256_add_ps(a[3], a[7]))) *
             scale;
    }
  } else if (lanes == 16 && hd % 16 == 0) {
    for (int j = 0; j < nk; ++j) {
      __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
      for (int i = 0; i < hd; i += 16) {
        a0 = _mm256_fmadd_ps(LoadHalf8(k[j] + i), _mm256_loadu_ps(q + i), a0);
        a1 = _mm256_fmadd_ps(LoadHalf8(k[j] + i + 8), _mm256_loadu_ps(q + i + 8), a1);
      }
      s[j] = Reduce16(a0, a1) * scale;
    }
  } else {  // other head sizes: convert, then the generic dot
    thread_local std::vector<float> row;
    row.resize(hd);
    for (int j = 0; j < nk; ++j) {
      HalfToFloat(k[j], row.data(), hd);
      s[j] = DotLanes(row.data(), q, hd, lanes) * scale;
    }
  }
}

void PvLanesHalf(const float* p, const uint16_t* const* v, int nk, int hd, int lanes, float* acc) {
  const int hd8 = hd & ~7;
  for (int t = 0; t < lanes && t < nk; ++t) {
    float* at = acc + static_cast<int64_t>(t) * hd;
    int d0 = 0;
    for (; d0 + 64 <= hd8; d0 += 64) {  // 8 vectors of accumulators stay in registers
      __m256 a[8];
      for (int u = 0; u < 8; ++u) a[u] = _mm256_loadu_ps(at + d0 + 8 * u);
      for (int j = t; j < nk; j += lanes) {
        const __m256 pj = _mm256_set1_ps(p[j]);
        for (int u = 0; u < 8; ++u) a[u] = _mm256_fmadd_ps(pj, LoadHalf8(v[j] + d0 + 8 * u), a[u]);
      }
      for (int u = 0; u < 8; ++u) _mm256_storeu_ps(at + d0 + 8 * u, a[u]);
    }
    for (; d0 < hd8; d0 += 8) {
      __m256 a = _mm256_loadu_ps(at + d0);
      for (int j = t; j < nk; j += lanes) a = _mm256_fmadd_ps(_mm256_set1_ps(p[j]), LoadHalf8(v[j] + d0), a);
      _mm256_storeu_ps(at + d0, a);
    }
    for (int d = hd8; d < hd; ++d) {
      for (int j = t; j < nk; j += lanes) {
        at[d] = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(p[j]), _mm_set_ss(_cvtsh_ss(v[j][d])), _mm_set_ss(at[d])));
      }
    }
  }
}

void Scores16Kt(const float* q, const float* kp, int nk, int hd, float scale, float* s) {
  const int hd16 = hd & ~15;
  const __m256 sv = _mm256_set1_ps(scale);
  for (int j = 0; j < nk; j += 8) {
    const float* panel = kp + static_cast<int64_t>(j / 8) * hd * 8;
    // Lanes 0-7 then 8-15 (8 accumulators each fit the 16 registers); lane l sums
    // q[i + l] * k[i + l] over i = 0, 16, ... in order, as one 16-lane accumulator would.
    __m256 a[16];
    for (int h = 0; h < 16; h += 8) {
      __m256 b[8];
      for (int l = 0; l < 8; ++l) b[l] = _mm256_setzero_ps();
      for (int i = 0; i < hd16; i += 16)
        for (int l = 0; l < 8; ++l) {
          b[l] = _mm256_fmadd_ps(_mm256_set1_ps(q[i + h + l]), _mm256_loadu_ps(panel + (i + h + l) * 8), b[l]);
        }
      for (int l = 0; l < 8; ++l) a[h + l] = b[l];
    }
    // Reduce16 per key, 8 keys at once.
    __m256 t3[8], t6[4];
    for (int l = 0; l < 8; ++l) t3[l] = _mm256_add_ps(a[l + 8], a[l]);
    for (int l = 0; l < 4; ++l) t6[l] = _mm256_add_ps(t3[l + 4], t3[l]);
    const __m256 r = _mm256_add_ps(_mm256_add_ps(t6[0], t6[2]), _mm256_add_ps(t6[1], t6[3]));
    alignas(32) float out[8];
    if (hd16 == hd) {
      _mm256_store_ps(out, _mm256_mul_ps(r, sv));
    } else {
      _mm256_store_ps(out, r);
      for (int u = 0; u < 8; ++u) {
        double sum = out[u];
        for (int i = hd16; i < hd; ++i) sum += static_cast<double>(q[i] * panel[i * 8 + u]);
        out[u] = static_cast<float>(sum) * scale;
      }
    }
    for (int u = 0; u < 8 && j + u < nk; ++u) s[j + u] = out[u];
  }
}

// R rows x 32 columns of lane t: 4R accumulators (<= 12) plus one V vector and R
// broadcasts stay in the 16 registers; each V load serves R rows.
template <int R>
void PvLanesBlock(const float* p, int64_t ldp, const float* v, int64_t ldt, int64_t ldc, int nk, int hd, int lanes,
                  int t, int d0, float* acc, int64_t ld_acc) {
  __m256 a[R][4];
  for (int r = 0; r < R; ++r)
    for (int u = 0; u < 4; ++u) a[r][u] = _mm256_loadu_ps(acc + r * ld_acc + static_cast<int64_t>(t) * hd + d0 + 8 * u);
  const float* vj = v + t * ldt + d0;
  for (int j = t; j < nk; j += lanes, vj += ldc) {
    __m256 pj[R];
    for (int r = 0; r < R; ++r) pj[r] = _mm256_set1_ps(p[r * ldp + j]);
    for (int u = 0; u < 4; ++u) {
      const __m256 vv = _mm256_loadu_ps(vj + 8 * u);
      for (int r = 0; r < R; ++r) a[r][u] = _mm256_fmadd_ps(pj[r], vv, a[r][u]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int u = 0; u < 4; ++u) _mm256_storeu_ps(acc + r * ld_acc + static_cast<int64_t>(t) * hd + d0 + 8 * u, a[r][u]);
}

void PvLanes(const float* p, int64_t ldp, int nrows, const float* v, int64_t ldt, int64_t ldc, int nk, int hd,
             int lanes, float* acc, int64_t ld_acc) {
  const int hd32 = hd & ~31;
  for (int r0 = 0; r0 < nrows; r0 += 3) {
    const int rows = nrows - r0 < 3 ? nrows - r0 : 3;
    const float* pr = p + r0 * ldp;
    float* ar = acc + r0 * ld_acc;
    for (int t = 0; t < lanes && t < nk; ++t) {
      for (int d0 = 0; d0 < hd32; d0 += 32) {
        if (rows == 3) {
          PvLanesBlock<3>(pr, ldp, v, ldt, ldc, nk, hd, lanes, t, d0, ar, ld_acc);
        } else if (rows == 2) {
          PvLanesBlock<2>(pr, ldp, v, ldt, ldc, nk, hd, lanes, t, d0, ar, ld_acc);
        } else {
          PvLanesBlock<1>(pr, ldp, v, ldt, ldc, nk, hd, lanes, t, d0, ar, ld_acc);
        }
      }
      for (int r = 0; r < rows; ++r) {  // columns past the last multiple of 32
        float* at = ar + r * ld_acc + static_cast<int64_t>(t) * hd;
        for (int d = hd32; d < hd; ++d) {
          for (int j = t; j < nk; j += lanes) {
            const float vjd = v[t * ldt + (j / lanes) * ldc + d];
            at[d] = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(pr[r * ldp + j]), _mm_set_ss(vjd), _mm_set_ss(at[d])));
          }
        }
      }
    }
  }
}

}  // namespace

const VecOps& Avx2VecOps() {
  static const VecOps ops{&Dot,    &SumSquares, &Axpy,        &Scale,        &ExpShiftSum, &SiluMul,
                          &Scores, &Pv,         &HalfToFloat, &FloatToHalf, &RoundHalf,  &RopeRotate,
                          &DotLanes, &Chunk16Sum, &ScoresLanesHalf, &PvLanesHalf,
                          &Scores16Kt, &PvLanes};
  return ops;
}

}  // namespace radixserve::kernels::cpu::internal
