#include "kernels/cpu/matmul.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <iterator>
#include <limits>
#include <cstring>
#include <tuple>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/matmul_internal.h"
#include "kernels/cpu/quantize.h"
#include "tests/kernels_cpu/test_util.h"

namespace radixserve::kernels::cpu {
namespace {

using testing::DequantRef;
using testing::QuantizeWeights;
using testing::RandomFloats;

bool Quantized(DType t) { return t == DType::kQ8_0 || t == DType::kQ4_0 || t == DType::kQ4_1; }

// Error bound of one output y = sum_i w_i x_i against the double reference on the
// dequantized weights:
//  * activation quantization (quantized types): x_i is replaced by q_i d16 with
//    q_i = round(x_i 127 / amax_b) and d16 = fp16(amax_b / 127), so
//    |x_i - q_i d16| <= d/2 + 127 |d - d16| <= amax_b/127 (1/2 + 127 * 2^-11);
//    for Q4_1 the offset term m_b s_b also carries s's fp16 rounding:
//    |s - s16| <= 2^-11 |s| <= 2^-11 * 32 amax_b (|sum q| <= 32 * 127);
//  * float accumulation: at most k * 2^-24 * sum |w_i x_i| for any summation order
//    (plus the products' own rounding), taken with a factor 2 of slack.
double Bound(DType t, const uint8_t* wrow, const float* x, int64_t k) {
  const double half_step = 0.5 + 127.0 * std::ldexp(1.0, -11);
  double abs_sum = 0, q_err = 0;
  for (int64_t b = 0; b < (k + 31) / 32; ++b) {
    double amax = 0, wabs = 0;
    for (int64_t i = b * 32; i < std::min<int64_t>(k, b * 32 + 32); ++i) {
      amax = std::max(amax, std::fabs(static_cast<double>(x[i])));
      wabs += std::fabs(DequantRef(t, wrow, i));
      abs_sum += std::fabs(DequantRef(t, wrow, i) * x[i]);
    }
    q_err += amax / 127.0 * half_step * wabs;
    if (t == DType::kQ4_1) {
      BlockQ4_1 blk;
      std::memcpy(&blk, wrow + b * sizeof(blk), sizeof(blk));
      q_err += std::fabs(Fp16ToFloat(blk.m)) * 32.0 * amax * std::ldexp(1.0, -11);
    }
  }
  return (Quantized(t) ? q_err * 1.0001 : 0.0) + 2.0 * (k + 2) * std::ldexp(1.0, -24) * abs_sum + 1e-30;
}

struct Case {
  DType t;
  int64_t m, n, k;
};

// BF16 weights multiply the activations rounded to bf16 (llama.cpp's vec_dot_type).
std::vector<float> ActivationsAsMultiplied(DType t, std::vector<float> x) {
  if (t == DType::kBF16) {
    for (float& v : x) v = Bf16ToFloat(FloatToBf16(v));
  }
  return x;
}

void RunCase(const Case& c, CpuIsa isa, ThreadPool* pool) {
  const std::vector<float> wf = RandomFloats(c.n * c.k, 17 + c.n + c.k);
  const std::vector<uint8_t> w = QuantizeWeights(c.t, wf, c.n, c.k);
  const int64_t ldx = c.k + 3;  // strided rows
  const std::vector<float> x = RandomFloats(c.m * ldx, 5 + c.m);
  const std::vector<float> xm = ActivationsAsMultiplied(c.t, x);
  std::vector<float> y(c.m * c.n, NAN);
  {
    ScopedCpuIsa scoped(isa);
    Matmul(x.data(), c.m, ldx, MatmulWeight{c.t, w.data(), c.n, c.k}, y.data(), c.n, pool);
  }
  const int64_t row_bytes = RowBytes(c.t, c.k);
  for (int64_t i = 0; i < c.m; ++i) {
    for (int64_t j = 0; j < c.n; ++j) {
      const uint8_t* wrow = w.data() + j * row_bytes;
      const float* xr = xm.data() + i * ldx;
      double ref = 0;
      for (int64_t kk = 0; kk < c.k; ++kk) ref += DequantRef(c.t, wrow, kk) * xr[kk];
      const double bound = Bound(c.t, wrow, xr, c.k);
      ASSERT_LE(std::fabs(y[i * c.n + j] - ref), bound)
          << GetDTypeTraits(c.t).name << " isa=" << CpuIsaName(isa) << " m=" << c.m << " n=" << c.n
          << " k=" << c.k << " at (" << i << "," << j << ") y=" << y[i * c.n + j] << " ref=" << ref;
    }
  }
}

std::vector<CpuIsa> Isas() {
  std::vector<CpuIsa> v;
  for (CpuIsa isa : {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512, CpuIsa::kAvx512Bf16}) {
    if (static_cast<int>(isa) <= static_cast<int>(DetectedCpuIsa())) v.push_back(isa);
  }
  return v;
}

const DType kAllTypes[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_1};

TEST(MatmulTest, MatchesDequantizedReferenceAcrossShapesAndIsas) {
  ThreadPool pool(2);
  const std::tuple<int64_t, int64_t, int64_t> shapes[] = {
      {1, 1, 32}, {1, 7, 64}, {1, 17, 576}, {2, 3, 96}, {3, 33, 416}, {5, 9, 160},
      {8, 4, 32}, {17, 19, 288}, {67, 13, 64}, {4, 64, 1536}, {16, 21, 544}, {9, 8, 1536}};
  // Float types only (any k): the AVX-512 float panels' 12-row tiles plus remainders,
  // partial 32-row panels, odd k (bf16 pairs) and k % 32 != 0 (masked bf16 vectors).
  const std::tuple<int64_t, int64_t, int64_t> float_shapes[] = {
      {25, 70, 33}, {12, 32, 576}, {40, 45, 77}, {31, 97, 96}, {7, 33, 45}, {8, 16, 31}, {3, 9, 70},
      {1, 5, 45}, {1, 6, 200}, {300, 40, 300},
      // the float decode GEMV at 1 < m < 8: groups of 4 (AVX-512) / 2 (AVX2) activation
      // rows plus every remainder, k below 8 (scalar tail only) and k % 32 != 0.
      {6, 11, 77}, {7, 5, 7}, {4, 3, 4}, {2, 40, 61}};
  for (CpuIsa isa : Isas()) {
    for (DType t : kAllTypes) {
      for (auto [m, n, k] : shapes) {
        RunCase({t, m, n, k}, isa, (m + n) % 2 ? &pool : nullptr);
      }
      if (Quantized(t)) continue;
      for (auto [m, n, k] : float_shapes) {
        RunCase({t, m, n, k}, isa, (m + n) % 2 ? &pool : nullptr);
      }
    }
  }
}

TEST(MatmulTest, FloatTypesHandleKNotMultipleOf8) {
  ThreadPool pool(3);
  for (CpuIsa isa : Isas()) {
    for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
      for (int64_t k : {1, 5, 37, 100}) {
        RunCase({t, 6, 11, k}, isa, &pool);
        RunCase({t, 14, 11, k}, isa, &pool);  // the packed prefill paths
      }
    }
  }
}

// Activation quantization follows llama.cpp's Q8_1 blocks (quantize.h): q = round-half-
// even(x * (127 / amax)), d = fp16(amax / 127), s = fp16((amax / 127) * sum q), written
// out here from that definition; the SIMD paths produce the same bits.
TEST(MatmulTest, SimdQuantizationIsBitIdenticalToScalar) {
  const int64_t k = 32 * 40;
  std::vector<float> x = RandomFloats(k, 9, -3.0f, 3.0f);
  for (int i = 0; i < 32; ++i) x[32 + i] = 0.0f;                         // all-zero block
  for (int i = 0; i < 32; ++i) x[64 + i] = (i - 16) * (127.0f / 16.0f);  // ties at .5
  std::vector<int8_t> qs(k);
  std::vector<float> d(40), s(40);
  QuantizeRowQ8(x.data(), k, qs.data(), d.data(), s.data());
  auto half = [](float v) { return Fp16ToFloat(FloatToFp16(v)); };
  for (int b = 0; b < 40; ++b) {
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b * 32 + i]));
    const float scale = amax != 0 ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (int i = 0; i < 32; ++i) {
      EXPECT_EQ(qs[b * 32 + i], static_cast<int8_t>(std::nearbyint(x[b * 32 + i] * scale))) << b << " " << i;
      sum += qs[b * 32 + i];
    }
    EXPECT_EQ(d[b], half(amax / 127.0f));
    EXPECT_EQ(s[b], half(amax / 127.0f * static_cast<float>(sum)));
  }
  // The ties block: x * 127 / amax = (i - 16) * 127 / 16 exactly; .5 cases round to even.
  EXPECT_EQ(qs[64 + 0], -127);
  EXPECT_EQ(qs[64 + 8], -64);  // -63.5 -> -64
  EXPECT_EQ(qs[64 + 24], 64);  // 63.5 -> 64
  std::vector<const internal::MatmulIsa*> isas = {&internal::ScalarMatmulIsa()};
#if defined(RADIXSERVE_KERNELS_X86)
  if (DetectedCpuIsa() >= CpuIsa::kAvx2) isas.push_back(&internal::Avx2MatmulIsa());
  if (DetectedCpuIsa() >= CpuIsa::kAvx512) isas.push_back(&internal::Avx512MatmulIsa());
  if (DetectedCpuIsa() >= CpuIsa::kAvx512Bf16) isas.push_back(&internal::Avx512Bf16MatmulIsa());
#endif
  for (const internal::MatmulIsa* isa : isas) {
    std::vector<int8_t> qs2(k);
    std::vector<float> d2(40), s2(40);
    isa->quantize_row(x.data(), k, qs2.data(), d2.data(), s2.data());
    EXPECT_EQ(qs2, qs);
    EXPECT_EQ(d2, d);
    EXPECT_EQ(s2, s);
  }
}

// Quantized products round exactly as llama.cpp's vec_dot does, whatever the tile the
// SIMD path picks (GEMV at m = 1, row-major tiles, the VNNI packed tiles at m >= 8): so
// a row's outputs are bit-identical whether it is multiplied alone or in any batch.
TEST(MatmulTest, QuantizedRowsAreBitIdenticalAcrossBatchSizes) {
  ThreadPool pool(2);
  const int64_t n = 37, k = 576;
  for (CpuIsa isa : Isas()) {
    if (isa == CpuIsa::kScalar) continue;
    ScopedCpuIsa scoped(isa);
    for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1}) {
      const std::vector<uint8_t> w = QuantizeWeights(t, RandomFloats(n * k, 3), n, k);
      const MatmulWeight mw{t, w.data(), n, k};
      const int64_t max_m = 21;
      const std::vector<float> x = RandomFloats(max_m * k, 4, -2.0f, 2.0f);
      std::vector<float> alone(max_m * n);
      for (int64_t i = 0; i < max_m; ++i) Matmul(x.data() + i * k, 1, k, mw, alone.data() + i * n, n, &pool);
      for (int64_t m : {2, 3, 5, 8, 9, 16, 21}) {
        std::vector<float> y(m * n);
        Matmul(x.data(), m, k, mw, y.data(), n, &pool);
        for (int64_t i = 0; i < m * n; ++i) {
          ASSERT_EQ(y[i], alone[i]) << GetDTypeTraits(t).name << " " << CpuIsaName(isa) << " m=" << m << " at " << i;
        }
      }
    }
  }
}

// Float weights at m < 8 run the decode GEMV (one weight row applied to every activation
// row), whose per-output summation order does not depend on m: a row's outputs are
// bit-identical alone or in any batch of 2-7 rows, on every SIMD ISA. (BF16 on
// AVX512-BF16 takes the vdpbf16ps tiles instead and is left out.)
TEST(MatmulTest, FloatDecodeRowsAreBitIdenticalAcrossBatchSizes) {
  ThreadPool pool(2);
  const int64_t n = 45, k = 611;  // k % 32 = 3: the 8-lane step and the scalar tail too
  for (CpuIsa isa : Isas()) {
    if (isa == CpuIsa::kScalar) continue;
    ScopedCpuIsa scoped(isa);
    for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
      if (t == DType::kBF16 && isa == CpuIsa::kAvx512Bf16) continue;
      const std::vector<uint8_t> w = QuantizeWeights(t, RandomFloats(n * k, 7), n, k);
      const MatmulWeight mw{t, w.data(), n, k};
      const int64_t max_m = 7, ldx = k + 5;
      const std::vector<float> x = RandomFloats(max_m * ldx, 8, -2.0f, 2.0f);
      std::vector<float> alone(max_m * n);
      for (int64_t i = 0; i < max_m; ++i) Matmul(x.data() + i * ldx, 1, ldx, mw, alone.data() + i * n, n, &pool);
      for (int64_t m = 2; m <= max_m; ++m) {
        std::vector<float> y(m * n, NAN);
        Matmul(x.data(), m, ldx, mw, y.data(), n, m % 2 ? &pool : nullptr);
        for (int64_t i = 0; i < m * n; ++i) {
          ASSERT_EQ(y[i], alone[i]) << GetDTypeTraits(t).name << " " << CpuIsaName(isa) << " m=" << m << " at " << i;
        }
      }
    }
  }
}

// Q/K/V-style products of one activation through MatmulShared equal separate Matmuls
// (same quantized activations, same per-output arithmetic), for mixed weight types.
TEST(MatmulTest, SharedActivationEqualsSeparateCalls) {
  ThreadPool pool(2);
  const int64_t k = 96;
  const DType types[] = {DType::kQ4_1, DType::kQ8_0, DType::kBF16, DType::kQ4_0};
  const int64_t ns[] = {13, 5, 8, 21};
  std::vector<std::vector<uint8_t>> ws;
  for (int i = 0; i < 4; ++i) ws.push_back(QuantizeWeights(types[i], RandomFloats(ns[i] * k, 40 + i), ns[i], k));
  for (CpuIsa isa : Isas()) {
    ScopedCpuIsa scoped(isa);
    for (int64_t m : {1, 3, 12}) {
      const std::vector<float> x = RandomFloats(m * k, 50 + m);
      // One fused output buffer [m, sum n] like a QKV projection.
      const int64_t ldy = 13 + 5 + 8 + 21;
      std::vector<float> fused(m * ldy, NAN), separate(m * ldy, NAN);
      std::vector<MatmulOutput> outs;
      int64_t col = 0;
      for (int i = 0; i < 4; ++i) {
        const MatmulWeight w{types[i], ws[i].data(), ns[i], k};
        outs.push_back({w, fused.data() + col, ldy});
        Matmul(x.data(), m, k, w, separate.data() + col, ldy, nullptr);
        col += ns[i];
      }
      MatmulShared(x.data(), m, k, outs.data(), 4, &pool);
      for (size_t i = 0; i < fused.size(); ++i)
        ASSERT_NEAR(fused[i], separate[i], 1e-6f * (1 + std::fabs(separate[i]))) << CpuIsaName(isa) << " m=" << m;
    }
  }
}

// Every ISA's bf16 rounding of the activations is FloatToBf16 (round to nearest even on
// the bits, NaN kept quiet, denormals kept), including the zero padding.
TEST(MatmulTest, Bf16RoundingIsBitIdenticalToFloatToBf16) {
  std::vector<float> x = RandomFloats(75, 21, -4.0f, 4.0f);
  auto bits = [](uint32_t u) { return std::bit_cast<float>(u); };
  const float specials[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, bits(0x7f800001u), bits(0xff812345u),
                            bits(0x3f808000u) /* tie, even */, bits(0x3f818000u) /* tie, odd */,
                            bits(0x3f808001u), bits(0x7f7fffffu) /* rounds to inf */, bits(0x00012345u),
                            bits(0x80008000u), std::numeric_limits<float>::min(), -1.0f / 3.0f};
  for (size_t i = 0; i < std::size(specials); ++i) x[3 + 4 * i] = specials[i];
  const int64_t k = static_cast<int64_t>(x.size()), kb = internal::Bf16RowStride(k);
  ASSERT_EQ(kb, 96);
  std::vector<const internal::MatmulIsa*> isas = {&internal::ScalarMatmulIsa()};
#if defined(RADIXSERVE_KERNELS_X86)
  if (DetectedCpuIsa() >= CpuIsa::kAvx2) isas.push_back(&internal::Avx2MatmulIsa());
  if (DetectedCpuIsa() >= CpuIsa::kAvx512) isas.push_back(&internal::Avx512MatmulIsa());
  if (DetectedCpuIsa() >= CpuIsa::kAvx512Bf16) isas.push_back(&internal::Avx512Bf16MatmulIsa());
#endif
  for (const internal::MatmulIsa* isa : isas) {
    std::vector<uint16_t> out(kb, 0xABCD);
    isa->round_bf16_row(x.data(), k, out.data(), kb);
    for (int64_t i = 0; i < k; ++i) ASSERT_EQ(out[i], FloatToBf16(x[i])) << "isa " << (isa - isas[0]) << " at " << i;
    for (int64_t i = k; i < kb; ++i) ASSERT_EQ(out[i], 0) << "padding at " << i;
  }
  EXPECT_EQ(FloatToBf16(bits(0x3f808000u)), 0x3f80);
  EXPECT_EQ(FloatToBf16(bits(0x3f818000u)), 0x3f82);
  EXPECT_EQ(FloatToBf16(bits(0x7f7fffffu)), 0x7f80);
}

// BF16 prefill (m >= 8) through vdpbf16ps (AVX512-BF16) and through the AVX-512 float
// panels (AVX-512 without BF16: the same products and the same order, two FMAs per
// pair, odd element first) gives the same bits; and the AVX-512 float panels give F32 and
// F16 products within the accumulation bound (MatchesDequantizedReference...).
TEST(MatmulTest, Bf16DotProductsMatchFloatPanelsBitForBit) {
  if (DetectedCpuIsa() < CpuIsa::kAvx512Bf16) GTEST_SKIP() << "no AVX512-BF16 on this machine";
  ThreadPool pool(2);
  const std::tuple<int64_t, int64_t, int64_t> shapes[] = {{8, 32, 64}, {12, 40, 576}, {29, 67, 33},
                                                          {50, 96, 1536}, {13, 5, 7}};
  for (auto [m, n, k] : shapes) {
    const std::vector<uint8_t> w = QuantizeWeights(DType::kBF16, RandomFloats(n * k, 60 + k), n, k);
    const std::vector<float> x = RandomFloats(m * k, 70 + m, -3.0f, 3.0f);
    const MatmulWeight mw{DType::kBF16, w.data(), n, k};
    std::vector<float> dot(m * n, NAN), panel(m * n, NAN);
    {
      ScopedCpuIsa scoped(CpuIsa::kAvx512Bf16);
      Matmul(x.data(), m, k, mw, dot.data(), n, &pool);
    }
    {
      ScopedCpuIsa scoped(CpuIsa::kAvx512);
      Matmul(x.data(), m, k, mw, panel.data(), n, &pool);
    }
    for (int64_t i = 0; i < m * n; ++i) {
      ASSERT_EQ(std::bit_cast<uint32_t>(dot[i]), std::bit_cast<uint32_t>(panel[i]))
          << "m=" << m << " n=" << n << " k=" << k << " at " << i << ": " << dot[i] << " vs " << panel[i];
    }
  }
}

TEST(MatmulTest, DequantizeRowMatchesReference) {
  const int64_t k = 96;
  const std::vector<float> wf = RandomFloats(k, 11);
  for (DType t : kAllTypes) {
    const std::vector<uint8_t> w = QuantizeWeights(t, wf, 1, k);
    std::vector<float> out(k);
    DequantizeRow(t, w.data(), k, out.data());
    for (int64_t i = 0; i < k; ++i) EXPECT_EQ(out[i], static_cast<float>(DequantRef(t, w.data(), i)));
  }
}

}  // namespace
}  // namespace radixserve::kernels::cpu
