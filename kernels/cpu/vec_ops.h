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
  // out[i] = float(h[i]) for IEEE half h.
  void (*half_to_float)(const uint16_t* h, float* out, int64_t n);
  // out[i] = half(x[i]), rounded to nearest even.
  void (*float_to_half)(const float* x, uint16_t* out, int64_t n);
  // out[i] = float(half(x[i])): x rounded to half precision; out may equal x.
  void (*round_half)(const float* x, float* out, int64_t n);
  // RoPE on one head vector v: pairs (a, b) = (v[2i], v[2i+1]) if interleaved, else
  // (v[i], v[i + half]), for i < half, become
  //   a' = fma(a, c[i], -(b * s[i])),  b' = fma(a, s[i], b * c[i])
  // (the contraction llama.cpp's build applies to a c - b s and a s + b c).
  void (*rope_rotate)(float* v, int32_t half, bool interleaved, const float* c, const float* s);
  // dot(x, y) summed as llama.cpp's x86 (AVX-512) build sums it, lanes = 16 or 64:
  //   lane t (t < lanes) accumulates x_i y_i, i = t mod lanes, by FMA in order over the
  //   whole chunks of `lanes`; lanes = 64 (ggml_vec_dot_f16) first folds to 16 lanes as
  //   l -> (t_l + t_{l+32}) + (t_{l+16} + t_{l+48}); lanes = 16 is tinyBLAS's order;
  //   then Reduce16 (below); the n mod lanes leftovers are added in double.
  float (*dot_lanes)(const float* x, const float* y, int64_t n, int lanes);
  // Sum over chunks of 16 (the last zero padded) of Reduce16(chunk), accumulated in
  // double: ggml's softmax sum. Reduce16(v) = ((u0 + u2) + (u1 + u3)) with
  // u_l = (v_{l+8} + v_l) + (v_{l+12} + v_{l+4}) (_mm512_reduce_add_ps as GCC builds it).
  double (*chunk16_sum)(const float* x, int64_t n);
  // One query row against nk keys given as fp16 rows: s[j] = dot_lanes(k_j, q, hd, lanes)
  // * scale, with k_j converted on the fly (the same arithmetic).
  void (*scores_lanes_half)(const float* q, const uint16_t* const* k, int nk, int hd, int lanes, float scale,
                            float* s);
  // P V's lane accumulators in dot_lanes' order: for each key j < nk (fp16 rows v_j),
  // acc[(j mod lanes) * hd + d] = fma(p[j], v_j[d], acc[...]), keys in increasing order.
  void (*pv_lanes_half)(const float* p, const uint16_t* const* v, int nk, int hd, int lanes, float* acc);
  // scores_lanes_half with lanes = 16 for float keys packed in panels of 8 keys:
  // kp[(j / 8) * hd * 8 + d * 8 + j % 8] (the last panel readable in full), 8 keys per step.
  void (*scores16_kt)(const float* q, const float* kp, int nk, int hd, float scale, float* s);
  // pv_lanes_half for float rows, row j at v + (j % lanes) * ldt + (j / lanes) * ldc
  // (ldt = hd, ldc = lanes * hd: plain rows; ldc = hd: grouped by lane, so each lane's
  // keys are contiguous), for nrows rows of probabilities at once (p + r * ldp,
  // accumulators acc + r * ld_acc) that all see keys j < nk: V is read once for up to 3.
  void (*pv_lanes)(const float* p, int64_t ldp, int nrows, const float* v, int64_t ldt, int64_t ldc, int nk, int hd,
                   int lanes, float* acc, int64_t ld_acc);
};

// The table for the active ISA (ActiveCpuIsa()).
const VecOps& ActiveVecOps();
const VecOps& ScalarVecOps();
#if defined(RADIXSERVE_KERNELS_X86)
const VecOps& Avx2VecOps();
#endif

}  // namespace radixserve::kernels::cpu::internal
