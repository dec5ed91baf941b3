// F16KvAttention against a double-precision reference of the numerics it promises
// (f16_kv_attention.h): q, K and V rounded to fp16, softmax normalized, probabilities
// rounded to fp16, o = P V.
//
// Error bound: the kernel's scores and sums are float (a few ulp from the reference), so
// a probability lands on the other side of an fp16 rounding tie only when it is within a
// few float ulp of one: rare. Elsewhere |o - ref| is float accumulation error of a convex
// combination of |v| <= 1: under 1e-6 for these lengths. So: every output within 2e-6,
// except at most 2% of them, which stay within the effect of one flipped rounding
// (2^-11 of a probability, times |v| <= 1). Leaving out the rounding of the probabilities
// (the form an online softmax computes) moves most outputs by ~1e-4: the test sees that.
#include "kernels/cpu/f16_kv_attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "common/tensor_types.h"
#include "kernels/cpu/cpu_features.h"
#include "tests/kernels_cpu/test_util.h"

namespace radixserve::kernels::cpu {
namespace {

using testing::RandomFloats;

double H(float x) { return Fp16ToFloat(FloatToFp16(x)); }

struct Case {
  std::vector<int32_t> q_lens, kv_lens;
  int32_t block_size, num_kv_heads, group, head_dim;
  bool causal;
};

// Returns the fraction of outputs off by more than 2e-6; fails on any off by more than
// the bound of a flipped rounding. round_p = false: reference without the fp16 rounding
// of the probabilities.
double RunCase(const Case& c, ThreadPool* pool, bool round_p = true) {
  const int32_t nseq = static_cast<int32_t>(c.q_lens.size());
  const int32_t nqh = c.num_kv_heads * c.group, hd = c.head_dim;
  std::vector<int32_t> q_indptr{0}, block_indptr{0};
  for (int32_t s = 0; s < nseq; ++s) {
    q_indptr.push_back(q_indptr.back() + c.q_lens[s]);
    block_indptr.push_back(block_indptr.back() + (c.kv_lens[s] + c.block_size - 1) / c.block_size);
  }
  const int32_t num_blocks = block_indptr.back() + 2;
  std::vector<int32_t> block_ids(num_blocks);
  std::iota(block_ids.begin(), block_ids.end(), 0);
  std::shuffle(block_ids.begin(), block_ids.end(), std::mt19937(7));  // scattered blocks
  const PagedKvView kv{num_blocks, c.block_size, c.num_kv_heads, hd};
  const size_t cache_elems = static_cast<size_t>(num_blocks) * c.num_kv_heads * c.block_size * hd;
  std::vector<uint16_t> k16(cache_elems), v16(cache_elems);
  {
    const std::vector<float> kf = RandomFloats(cache_elems, 11, -2.0f, 2.0f), vf = RandomFloats(cache_elems, 12);
    for (size_t i = 0; i < cache_elems; ++i) {
      k16[i] = FloatToFp16(kf[i]);
      v16[i] = FloatToFp16(vf[i]);
    }
  }
  const int64_t nq_tokens = q_indptr.back();
  const std::vector<float> q = RandomFloats(nq_tokens * nqh * hd, 13, -2.0f, 2.0f);
  std::vector<float> o(q.size(), NAN);

  F16KvAttentionParams p;
  p.q = q.data();
  p.o = o.data();
  p.k_cache = k16.data();
  p.v_cache = v16.data();
  p.kv = kv;
  p.batch = PagedBatch{nseq, q_indptr.data(), c.kv_lens.data(), block_indptr.data(), block_ids.data()};
  p.num_q_heads = nqh;
  p.sm_scale = 1.0f / std::sqrt(static_cast<float>(hd));
  p.causal = c.causal;
  EXPECT_TRUE(F16KvAttention(p, pool).ok());

  int64_t off = 0, total = 0;
  for (int32_t s = 0; s < nseq; ++s) {
    const int32_t* blocks = block_ids.data() + block_indptr[s];
    auto at = [&](const std::vector<uint16_t>& cache, int32_t t, int32_t g, int i) {
      return static_cast<double>(Fp16ToFloat(cache[PagedKvOffset(kv, blocks[t / c.block_size], g, t % c.block_size) + i]));
    };
    for (int32_t tq = 0; tq < c.q_lens[s]; ++tq) {
      const int32_t keys = c.causal ? c.kv_lens[s] - c.q_lens[s] + tq + 1 : c.kv_lens[s];
      for (int32_t h = 0; h < nqh; ++h) {
        const int32_t g = h / c.group;
        const float* qr = q.data() + ((q_indptr[s] + tq) * int64_t{nqh} + h) * hd;
        std::vector<double> sc(keys);
        double mx = -INFINITY, l = 0;
        for (int32_t j = 0; j < keys; ++j) {
          double d = 0;
          for (int i = 0; i < hd; ++i) d += H(qr[i]) * at(k16, j, g, i);
          sc[j] = d * p.sm_scale;
          mx = std::max(mx, sc[j]);
        }
        for (int32_t j = 0; j < keys; ++j) l += std::exp(sc[j] - mx);
        const float* orow = o.data() + ((q_indptr[s] + tq) * int64_t{nqh} + h) * hd;
        for (int i = 0; i < hd; ++i) {
          double ref = 0, pmax = 0;
          for (int32_t j = 0; j < keys; ++j) {
            const double pj = std::exp(sc[j] - mx) / l;
            pmax = std::max(pmax, pj);
            ref += (round_p ? H(static_cast<float>(pj)) : pj) * at(v16, j, g, i);
          }
          const double err = std::fabs(orow[i] - ref);
          ++total;
          if (err > 2e-6) ++off;
          if (round_p) {
            EXPECT_LE(err, 2e-6 + 2 * std::ldexp(pmax, -11)) << "seq " << s << " token " << tq << " head " << h;
          }
        }
      }
    }
  }
  return static_cast<double>(off) / static_cast<double>(total);
}

TEST(F16KvAttentionTest, MatchesReferenceForPrefillAndDecode) {
  ThreadPool pool(3);
  const Case cases[] = {
      {{1, 1, 1}, {1, 17, 40}, 16, 3, 3, 64, true},      // decode, GQA 3:1, one head per item
      {{5, 17, 1}, {5, 33, 70}, 8, 2, 4, 32, true},      // prefill with cached prefixes
      {{70}, {70}, 16, 1, 1, 64, true},                  // one long prompt: several tiles
      {{3, 2}, {9, 31}, 1, 2, 2, 16, false},             // block size 1, not causal
  };
  for (CpuIsa isa : {CpuIsa::kScalar, DetectedCpuIsa()}) {
    ScopedCpuIsa scoped(isa);
    for (const Case& c : cases) {
      EXPECT_LE(RunCase(c, &pool), 0.02) << CpuIsaName(isa);
      EXPECT_LE(RunCase(c, nullptr), 0.02) << CpuIsaName(isa);
    }
  }
}

TEST(F16KvAttentionTest, ProbabilitiesAreRoundedToHalf) {
  // Against a reference that keeps the probabilities exact, most outputs differ.
  ThreadPool pool(2);
  EXPECT_GT(RunCase({{9}, {40}, 16, 1, 2, 64, true}, &pool, /*round_p=*/false), 0.3);
}

}  // namespace
}  // namespace radixserve::kernels::cpu
