// rmsnorm, silu_and_mul, rope, embedding and memory ops against double references.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numbers>
#include <vector>

#include "kernels/cpu/activation.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/element.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cpu/memory_ops.h"
#include "kernels/cpu/quantize.h"
#include "kernels/cpu/rmsnorm.h"
#include "kernels/cpu/rope.h"
#include "tests/kernels_cpu/test_util.h"

namespace radixserve::kernels::cpu {
namespace {

using testing::RandomFloats;

TEST(RmsNormTest, PlainAndFusedResidualMatchDouble) {
  ThreadPool pool(2);
  const int32_t tokens = 9, hidden = 67;
  const std::vector<float> x = RandomFloats(tokens * hidden, 1, -3, 3);
  const std::vector<float> w = RandomFloats(hidden, 2);
  std::vector<float> res = RandomFloats(tokens * hidden, 3);
  const std::vector<float> res0 = res;
  std::vector<float> out(x.size()), out2(x.size());
  RmsNormParams p;
  p.dtype = ScalarType::kF32;
  p.x = x.data();
  p.out = out.data();
  p.weight = w.data();
  p.num_tokens = tokens;
  p.hidden = hidden;
  p.eps = 1e-5f;
  RmsNorm(p, &pool);
  p.out = out2.data();
  p.maybe_residual = res.data();
  RmsNorm(p, &pool);
  for (int t = 0; t < tokens; ++t) {
    double ss = 0, ss2 = 0;
    for (int i = 0; i < hidden; ++i) {
      ss += double(x[t * hidden + i]) * x[t * hidden + i];
      const double r = double(x[t * hidden + i]) + res0[t * hidden + i];
      ss2 += r * r;
      EXPECT_NEAR(res[t * hidden + i], r, 1e-6);
    }
    const double inv = 1 / std::sqrt(ss / hidden + 1e-5), inv2 = 1 / std::sqrt(ss2 / hidden + 1e-5);
    for (int i = 0; i < hidden; ++i) {
      // float math over one row: relative error a few ulp of the row scale.
      EXPECT_NEAR(out[t * hidden + i], x[t * hidden + i] * inv * w[i], 1e-5);
      EXPECT_NEAR(out2[t * hidden + i], res[t * hidden + i] * inv2 * w[i], 1e-5);
    }
  }
}

TEST(RmsNormTest, Bf16RoundsResidualAndOutput) {
  const int32_t hidden = 8;
  std::vector<uint16_t> x(hidden), res(hidden), w(hidden), out(hidden);
  for (int i = 0; i < hidden; ++i) {
    x[i] = FloatToBf16(0.1f * i);
    res[i] = FloatToBf16(1.0f);
    w[i] = FloatToBf16(1.0f);
  }
  RmsNormParams p;
  p.dtype = ScalarType::kBF16;
  p.x = x.data();
  p.out = out.data();
  p.maybe_residual = res.data();
  p.weight = w.data();
  p.num_tokens = 1;
  p.hidden = hidden;
  RmsNorm(p);
  double ss = 0;
  for (int i = 0; i < hidden; ++i) {
    EXPECT_EQ(res[i], FloatToBf16(Bf16ToFloat(x[i]) + 1.0f));
    ss += double(Bf16ToFloat(res[i])) * Bf16ToFloat(res[i]);
  }
  for (int i = 0; i < hidden; ++i)
    EXPECT_NEAR(Bf16ToFloat(out[i]), Bf16ToFloat(res[i]) / std::sqrt(ss / hidden + 1e-6), 1e-2);
}

TEST(ActivationTest, SiluAndMulAllIsas) {
  const int32_t tokens = 3, d = 37;
  std::vector<float> x = RandomFloats(tokens * 2 * d, 4, -10, 10);
  x[0] = -100.0f;  // saturating gate
  x[1] = 100.0f;
  for (CpuIsa isa : {CpuIsa::kScalar, CpuIsa::kAvx2}) {
    ScopedCpuIsa scoped(isa);
    std::vector<float> out(tokens * d);
    SiluAndMulParams p;
    p.dtype = ScalarType::kF32;
    p.x = x.data();
    p.out = out.data();
    p.num_tokens = tokens;
    p.d = d;
    SiluAndMul(p);
    for (int t = 0; t < tokens; ++t)
      for (int i = 0; i < d; ++i) {
        const double g = x[t * 2 * d + i], u = x[t * 2 * d + d + i];
        const double ref = g / (1 + std::exp(-g)) * u;
        EXPECT_NEAR(out[t * d + i], ref, 1e-6 * (1 + std::fabs(ref))) << CpuIsaName(isa) << " " << t << "," << i;
      }
  }
}

// Reference RoPE on one head in double, following rope_params.h.
void RefRope(std::vector<double>& v, int32_t pos, const RopeParams& p) {
  const int rd = p.rotary_dim ? p.rotary_dim : p.head_dim, half = rd / 2;
  for (int i = 0; i < half; ++i) {
    double f = std::pow(double(p.theta), -2.0 * i / rd);
    if (p.scaling == RopeScaling::kLlama3) {
      const double wl = 2 * std::numbers::pi / f;
      const double lo = p.original_max_position / double(p.low_freq_factor);
      const double hi = p.original_max_position / double(p.high_freq_factor);
      if (wl > lo) {
        f /= p.factor;
      } else if (wl >= hi) {
        const double sm = (p.original_max_position / wl - p.low_freq_factor) / (p.high_freq_factor - p.low_freq_factor);
        f = (1 - sm) * f / p.factor + sm * f;
      }
    }
    const double a = pos * f, c = std::cos(a), s = std::sin(a);
    const int ia = p.style == RopeStyle::kNormal ? 2 * i : i;
    const int ib = p.style == RopeStyle::kNormal ? 2 * i + 1 : i + half;
    const double xa = v[ia], xb = v[ib];
    v[ia] = xa * c - xb * s;
    v[ib] = xb * c + xa * s;
  }
}

TEST(RopeTest, NormalAndNeoxWithScalingStridesAndTable) {
  const int32_t tokens = 5, nqh = 3, nkv = 1, hd = 16;
  const std::vector<int32_t> positions = {0, 1, 7, 300, 5000};
  for (RopeStyle style : {RopeStyle::kNormal, RopeStyle::kNeox}) {
    for (RopeScaling scaling : {RopeScaling::kNone, RopeScaling::kLlama3}) {
      for (int32_t rotary : {0, 8}) {
        RopeParams p;
        p.dtype = ScalarType::kF32;
        p.style = style;
        p.scaling = scaling;
        p.factor = 8.0f;
        p.original_max_position = 64;  // small so every Llama 3 branch is hit at hd 16
        p.theta = 500000.0f;
        p.num_tokens = tokens;
        p.num_q_heads = nqh;
        p.num_kv_heads = nkv;
        p.head_dim = hd;
        p.rotary_dim = rotary;
        // Fused QKV row: q heads then k heads then v, so both strides are the full row.
        const int64_t row = (nqh + 2 * nkv) * hd;
        const std::vector<float> qkv0 = RandomFloats(tokens * row, 6);
        for (bool use_table : {false, true}) {
          std::vector<float> qkv = qkv0;
          p.q = qkv.data();
          p.k = qkv.data() + nqh * hd;
          p.q_token_stride = p.k_token_stride = row;
          p.positions = positions.data();
          RopeTable table(p, 1024);  // position 5000 falls back to direct computation
          ApplyRope(p, use_table ? &table : nullptr);
          for (int t = 0; t < tokens; ++t) {
            for (int h = 0; h < nqh + nkv; ++h) {
              std::vector<double> ref(qkv0.begin() + t * row + h * hd, qkv0.begin() + t * row + (h + 1) * hd);
              RefRope(ref, positions[t], p);
              for (int i = 0; i < hd; ++i) ASSERT_NEAR(qkv[t * row + h * hd + i], ref[i], 2e-6) << t << " " << h;
            }
            for (int i = 0; i < nkv * hd; ++i)  // V untouched
              ASSERT_EQ(qkv[t * row + (nqh + nkv) * hd + i], qkv0[t * row + (nqh + nkv) * hd + i]);
          }
        }
      }
    }
  }
}

TEST(EmbeddingTest, RowsOfEveryType) {
  const int64_t n = 11, k = 64;
  const std::vector<float> wf = RandomFloats(n * k, 8);
  const std::vector<int32_t> ids = {10, 0, 3, 3};
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_1}) {
    const std::vector<uint8_t> w = testing::QuantizeWeights(t, wf, n, k);
    std::vector<float> out(ids.size() * k);
    EmbeddingLookup(MatmulWeight{t, w.data(), n, k}, ids.data(), static_cast<int64_t>(ids.size()), out.data());
    for (size_t r = 0; r < ids.size(); ++r)
      for (int64_t i = 0; i < k; ++i)
        ASSERT_EQ(out[r * k + i], static_cast<float>(testing::DequantRef(t, w.data() + ids[r] * RowBytes(t, k), i)));
  }
}

TEST(MemoryOpsTest, WriteKvCopyAndSwap) {
  const PagedKvView kv{6, 4, 2, 8};
  const size_t pool_elems = size_t{6} * 2 * 4 * 8;
  std::vector<float> kc(pool_elems, 0.0f), vc(pool_elems, 0.0f);
  const int32_t tokens = 5;
  const std::vector<float> kn = RandomFloats(tokens * 2 * 8, 1), vn = RandomFloats(tokens * 2 * 8, 2);
  const std::vector<int32_t> slots = {9, 10, -1, 0, 23};
  KvWriteParams w;
  w.dtype = ScalarType::kF32;
  w.k_new = kn.data();
  w.v_new = vn.data();
  w.k_cache = kc.data();
  w.v_cache = vc.data();
  w.kv = kv;
  w.slot_mapping = slots.data();
  w.num_tokens = tokens;
  WriteKv(w);
  for (int t = 0; t < tokens; ++t) {
    if (slots[t] < 0) continue;
    for (int h = 0; h < 2; ++h)
      for (int d = 0; d < 8; ++d) {
        const int64_t off = PagedKvOffset(kv, slots[t] / 4, h, slots[t] % 4) + d;
        ASSERT_EQ(kc[off], kn[(t * 2 + h) * 8 + d]);
        ASSERT_EQ(vc[off], vn[(t * 2 + h) * 8 + d]);
      }
  }
  const int64_t block_bytes = 2 * 4 * 8 * 4;
  void* pools[2] = {kc.data(), vc.data()};
  const std::vector<int32_t> pairs = {2, 4, 5, 1};
  CopyBlocks(BlockCopyParams{pools, 2, block_bytes, pairs.data(), 2});
  EXPECT_EQ(0, std::memcmp(kc.data() + 4 * 64, kc.data() + 2 * 64, block_bytes));
  EXPECT_EQ(0, std::memcmp(vc.data() + 1 * 64, vc.data() + 5 * 64, block_bytes));
  // Swap out blocks 1,2,3 (a run) and 5 to host blocks 0,1,2 and 7.
  std::vector<float> hk(8 * 64, -1.0f), hv(8 * 64, -1.0f);
  const void* src[2] = {kc.data(), vc.data()};
  void* dst[2] = {hk.data(), hv.data()};
  const std::vector<int32_t> swap = {1, 0, 2, 1, 3, 2, 5, 7};
  SwapBlocks(SwapBlocksParams{src, dst, 2, block_bytes, swap.data(), 4});
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(0, std::memcmp(hk.data() + swap[2 * i + 1] * 64, kc.data() + swap[2 * i] * 64, block_bytes));
    EXPECT_EQ(0, std::memcmp(hv.data() + swap[2 * i + 1] * 64, vc.data() + swap[2 * i] * 64, block_bytes));
  }
  EXPECT_EQ(hk[3 * 64], -1.0f);  // untouched host block
}

}  // namespace
}  // namespace radixserve::kernels::cpu
