// Attention kernels against a naive double-precision softmax attention over K/V
// gathered contiguously from the paged cache.
//
// Error bound: scores use float dots of head_dim terms (relative ~hd * 2^-24), exp is
// accurate to a few ulp, and o is a convex combination of V rows with |v| <= 1, so
// |o - ref| stays within 1e-6 * (hd + kv_len) + 1e-5; the same for lse (|score| < 8).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/flash_attention.h"
#include "kernels/cpu/paged_attention.h"
#include "kernels/cpu/radix_attention.h"
#include "tests/kernels_cpu/test_util.h"

namespace radixserve::kernels::cpu {
namespace {

using testing::RandomFloats;

// A paged cache holding `lens[s]` tokens per sequence in shuffled, non-contiguous blocks.
struct PagedFixture {
  PagedKvView kv;
  std::vector<float> k, v;
  std::vector<int32_t> kv_lens, block_indptr, block_ids;

  PagedFixture(const std::vector<int32_t>& lens, int32_t block_size, int32_t num_kv_heads, int32_t head_dim,
               uint32_t seed) {
    kv_lens = lens;
    block_indptr.push_back(0);
    int32_t total = 0;
    for (int32_t len : lens) {
      total += (len + block_size - 1) / block_size;
      block_indptr.push_back(total);
    }
    kv = PagedKvView{total + 3, block_size, num_kv_heads, head_dim};
    block_ids.resize(total);
    std::vector<int32_t> perm(kv.num_blocks);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), std::mt19937(seed));
    std::copy(perm.begin(), perm.begin() + total, block_ids.begin());
    const size_t n = static_cast<size_t>(kv.num_blocks) * num_kv_heads * block_size * head_dim;
    k = RandomFloats(n, seed + 1);
    v = RandomFloats(n, seed + 2);
  }
  const float* K(int32_t s, int32_t t, int32_t h) const {
    return k.data() + PagedKvOffset(kv, block_ids[block_indptr[s] + t / kv.block_size], h, t % kv.block_size);
  }
  const float* V(int32_t s, int32_t t, int32_t h) const {
    return v.data() + PagedKvOffset(kv, block_ids[block_indptr[s] + t / kv.block_size], h, t % kv.block_size);
  }
};

// Reference: query qv attends keys [0, n_keys) of sequence s, KV head h.
void RefAttend(const PagedFixture& f, int32_t s, int32_t h, const float* qv, int32_t n_keys, double scale,
               std::vector<double>& o, double& lse) {
  const int hd = f.kv.head_dim;
  std::vector<double> sc(n_keys);
  double mx = -INFINITY;
  for (int32_t j = 0; j < n_keys; ++j) {
    double d = 0;
    for (int i = 0; i < hd; ++i) d += static_cast<double>(qv[i]) * f.K(s, j, h)[i];
    sc[j] = d * scale;
    mx = std::max(mx, sc[j]);
  }
  double l = 0;
  o.assign(hd, 0.0);
  for (int32_t j = 0; j < n_keys; ++j) {
    const double e = std::exp(sc[j] - mx);
    l += e;
    for (int i = 0; i < hd; ++i) o[i] += e * f.V(s, j, h)[i];
  }
  for (int i = 0; i < hd; ++i) o[i] = n_keys ? o[i] / l : 0.0;
  lse = n_keys ? mx + std::log(l) : -INFINITY;
}

double Tol(int hd, int32_t kv_len) { return 1e-6 * (hd + kv_len) + 1e-5; }

std::vector<CpuIsa> Isas() {
  std::vector<CpuIsa> v = {CpuIsa::kScalar};
  if (DetectedCpuIsa() >= CpuIsa::kAvx2) v.push_back(CpuIsa::kAvx2);
  return v;
}

struct Config {
  int32_t block_size, num_kv_heads, group, head_dim;
};
const Config kConfigs[] = {{16, 3, 3, 64}, {1, 2, 1, 32}, {8, 1, 4, 40}, {16, 2, 4, 16}};

TEST(FlashAttentionTest, PagedPrefillWithCachedPrefixMatchesReference) {
  ThreadPool pool(2);
  for (CpuIsa isa : Isas()) {
    ScopedCpuIsa scoped(isa);
    for (const Config& cfg : kConfigs) {
      // (kv_len, q_len): full prefill, chunk after a cached prefix, single token, ...
      const std::vector<std::pair<int32_t, int32_t>> seqs = {{17, 17}, {33, 15}, {1, 1}, {16, 16}, {40, 1}, {15, 7}};
      std::vector<int32_t> lens, q_indptr = {0};
      for (auto [kvl, ql] : seqs) {
        lens.push_back(kvl);
        q_indptr.push_back(q_indptr.back() + ql);
      }
      PagedFixture f(lens, cfg.block_size, cfg.num_kv_heads, cfg.head_dim, 7);
      const int32_t nqh = cfg.num_kv_heads * cfg.group, hd = cfg.head_dim;
      const int32_t nq_tokens = q_indptr.back();
      const std::vector<float> q = RandomFloats(static_cast<size_t>(nq_tokens) * nqh * hd, 3);
      std::vector<float> o(q.size(), NAN), lse(static_cast<size_t>(nq_tokens) * nqh, NAN);
      PrefillParams p;
      p.dtype = ScalarType::kF32;
      p.q = q.data();
      p.o = o.data();
      p.maybe_lse = lse.data();
      p.k_cache = f.k.data();
      p.v_cache = f.v.data();
      p.kv = f.kv;
      p.batch = PagedBatch{static_cast<int32_t>(seqs.size()), q_indptr.data(), f.kv_lens.data(),
                           f.block_indptr.data(), f.block_ids.data()};
      p.num_q_heads = nqh;
      p.sm_scale = 1.0f / std::sqrt(static_cast<float>(hd));
      ASSERT_TRUE(FlashAttentionPrefill(p, &pool).ok());
      for (size_t s = 0; s < seqs.size(); ++s) {
        const int32_t ql = seqs[s].second, kvl = seqs[s].first;
        for (int32_t i = 0; i < ql; ++i) {
          const int32_t tok = q_indptr[s] + i;
          for (int32_t h = 0; h < nqh; ++h) {
            std::vector<double> ref;
            double ref_lse;
            const float* qv = q.data() + (int64_t{tok} * nqh + h) * hd;
            RefAttend(f, s, h / cfg.group, qv, kvl - ql + i + 1, p.sm_scale, ref, ref_lse);
            for (int d = 0; d < hd; ++d)
              ASSERT_NEAR(o[(int64_t{tok} * nqh + h) * hd + d], ref[d], Tol(hd, kvl))
                  << "isa=" << CpuIsaName(isa) << " bs=" << cfg.block_size << " s=" << s << " i=" << i << " h=" << h;
            ASSERT_NEAR(lse[int64_t{tok} * nqh + h], ref_lse, Tol(hd, kvl));
          }
        }
      }
    }
  }
}

TEST(FlashAttentionTest, ContiguousSourceEqualsPagedAndNonCausalAttendsAll) {
  const Config cfg{8, 2, 3, 32};
  const std::vector<int32_t> lens = {23, 9};
  const std::vector<int32_t> q_indptr = {0, 23, 27};  // seq 1: 4 queries after a 5-token prefix
  PagedFixture f(lens, cfg.block_size, cfg.num_kv_heads, cfg.head_dim, 11);
  const int32_t nqh = 6, hd = 32, nkv = 2;
  // Gather the same K/V contiguously: [num_kv_tokens, num_kv_heads, head_dim].
  std::vector<float> kc, vc;
  std::vector<int32_t> kv_indptr = {0};
  for (int32_t s = 0; s < 2; ++s) {
    for (int32_t t = 0; t < lens[s]; ++t)
      for (int32_t h = 0; h < nkv; ++h) {
        kc.insert(kc.end(), f.K(s, t, h), f.K(s, t, h) + hd);
        vc.insert(vc.end(), f.V(s, t, h), f.V(s, t, h) + hd);
      }
    kv_indptr.push_back(kv_indptr.back() + lens[s]);
  }
  const std::vector<float> q = RandomFloats(27 * nqh * hd, 5);
  for (bool causal : {true, false}) {
    std::vector<float> o_paged(q.size()), o_contig(q.size());
    PrefillParams p;
    p.dtype = ScalarType::kF32;
    p.q = q.data();
    p.kv = f.kv;
    p.batch = PagedBatch{2, q_indptr.data(), f.kv_lens.data(), f.block_indptr.data(), f.block_ids.data()};
    p.num_q_heads = nqh;
    p.sm_scale = 0.2f;
    p.causal = causal;
    p.k_cache = f.k.data();
    p.v_cache = f.v.data();
    p.o = o_paged.data();
    ASSERT_TRUE(FlashAttentionPrefill(p).ok());
    p.kv_source = KvSource::kContiguous;
    p.k = kc.data();
    p.v = vc.data();
    p.kv_indptr = kv_indptr.data();
    p.o = o_contig.data();
    ASSERT_TRUE(FlashAttentionPrefill(p).ok());
    for (size_t i = 0; i < q.size(); ++i) ASSERT_NEAR(o_paged[i], o_contig[i], 1e-5) << i;
    if (!causal) {  // the first query of sequence 0 sees all 23 keys
      std::vector<double> ref;
      double lse;
      RefAttend(f, 0, 0, q.data(), 23, 0.2, ref, lse);
      for (int d = 0; d < hd; ++d) EXPECT_NEAR(o_paged[d], ref[d], Tol(hd, 23));
    }
  }
}

TEST(FlashAttentionTest, RejectsUnsupportedDtype) {
  PrefillParams p;
  p.dtype = ScalarType::kBF16;
  EXPECT_EQ(FlashAttentionPrefill(p).code(), absl::StatusCode::kInvalidArgument);
}

DecodeParams MakeDecode(const PagedFixture& f, const std::vector<float>& q, std::vector<float>& o,
                        std::vector<float>& lse, int32_t nqh) {
  DecodeParams p;
  p.dtype = ScalarType::kF32;
  p.q = q.data();
  p.o = o.data();
  p.maybe_lse = lse.data();
  p.k_cache = f.k.data();
  p.v_cache = f.v.data();
  p.kv = f.kv;
  p.batch = PagedBatch{static_cast<int32_t>(f.kv_lens.size()), nullptr, f.kv_lens.data(), f.block_indptr.data(),
                       f.block_ids.data()};
  p.num_q_heads = nqh;
  p.sm_scale = 1.0f / std::sqrt(static_cast<float>(f.kv.head_dim));
  return p;
}

TEST(PagedAttentionTest, DecodeMatchesReferenceIncludingSplitContexts) {
  ThreadPool pool(3);
  for (CpuIsa isa : Isas()) {
    ScopedCpuIsa scoped(isa);
    for (const Config& cfg : kConfigs) {
      const std::vector<int32_t> lens = {1, 15, 16, 17, 33, 600, 0};  // 600: split into pieces
      PagedFixture f(lens, cfg.block_size, cfg.num_kv_heads, cfg.head_dim, 21);
      const int32_t nqh = cfg.num_kv_heads * cfg.group, hd = cfg.head_dim;
      const std::vector<float> q = RandomFloats(lens.size() * nqh * hd, 4);
      std::vector<float> o(q.size(), NAN), lse(lens.size() * nqh, NAN);
      ASSERT_TRUE(PagedAttentionDecode(MakeDecode(f, q, o, lse, nqh), &pool).ok());
      for (size_t s = 0; s < lens.size(); ++s) {
        for (int32_t h = 0; h < nqh; ++h) {
          std::vector<double> ref;
          double ref_lse;
          RefAttend(f, s, h / cfg.group, q.data() + (s * nqh + h) * hd, lens[s], 1.0 / std::sqrt(double(hd)), ref,
                    ref_lse);
          for (int d = 0; d < hd; ++d)
            ASSERT_NEAR(o[(s * nqh + h) * hd + d], ref[d], Tol(hd, lens[s]))
                << "isa=" << CpuIsaName(isa) << " bs=" << cfg.block_size << " s=" << s << " h=" << h;
          if (lens[s] == 0) {
            EXPECT_EQ(lse[s * nqh + h], -INFINITY);
          } else {
            ASSERT_NEAR(lse[s * nqh + h], ref_lse, Tol(hd, lens[s]));
          }
        }
      }
    }
  }
}

// Sequences in groups sharing a prefix: the cascade kernel must equal plain paged decode
// over prefix + suffix for every sequence.
TEST(RadixAttentionTest, CascadeEqualsPagedDecodeOverConcatenation) {
  ThreadPool pool(2);
  for (const Config& cfg : kConfigs) {
    const int32_t bs = cfg.block_size, nqh = cfg.num_kv_heads * cfg.group, hd = cfg.head_dim;
    // Groups: prefix 3 blocks shared by 3 seqs; prefix 0 (one seq); prefix 1 block shared by 2.
    const std::vector<int32_t> prefix_lens = {3 * bs, 0, bs};
    const std::vector<int32_t> group_indptr = {0, 3, 4, 6};
    const std::vector<int32_t> suffix_lens = {1, 17, 5, 9, 0, 33};
    // Full sequences as a fixture; prefix blocks are then shared by pointing at the
    // first sequence of each group.
    std::vector<int32_t> full_lens;
    std::vector<int32_t> group_of;
    for (int32_t g = 0; g < 3; ++g)
      for (int32_t s = group_indptr[g]; s < group_indptr[g + 1]; ++s) {
        full_lens.push_back(prefix_lens[g] + suffix_lens[s]);
        group_of.push_back(g);
      }
    PagedFixture f(full_lens, bs, cfg.num_kv_heads, hd, 31);
    // Make the prefix blocks of later group members identical to the first member's
    // by pointing their tables at the same physical blocks.
    std::vector<int32_t> prefix_block_indptr = {0}, prefix_block_ids, sfx_indptr = {0}, sfx_ids;
    for (int32_t g = 0; g < 3; ++g) {
      const int32_t first = group_indptr[g];
      const int32_t nb = prefix_lens[g] / bs;
      for (int32_t b = 0; b < nb; ++b) prefix_block_ids.push_back(f.block_ids[f.block_indptr[first] + b]);
      prefix_block_indptr.push_back(static_cast<int32_t>(prefix_block_ids.size()));
      for (int32_t s = first; s < group_indptr[g + 1]; ++s) {
        for (int32_t b = 0; b < nb; ++b) f.block_ids[f.block_indptr[s] + b] = prefix_block_ids[prefix_block_ids.size() - nb + b];
        for (int32_t b = f.block_indptr[s] + nb; b < f.block_indptr[s + 1]; ++b) sfx_ids.push_back(f.block_ids[b]);
        sfx_indptr.push_back(static_cast<int32_t>(sfx_ids.size()));
      }
    }
    const size_t nseq = suffix_lens.size();
    const std::vector<float> q = RandomFloats(nseq * nqh * hd, 8);
    std::vector<float> o_ref(q.size()), lse_ref(nseq * nqh), o(q.size(), NAN), lse(nseq * nqh, NAN);
    ASSERT_TRUE(PagedAttentionDecode(MakeDecode(f, q, o_ref, lse_ref, nqh), &pool).ok());

    CascadeDecodeParams p;
    p.dtype = ScalarType::kF32;
    p.q = q.data();
    p.o = o.data();
    p.maybe_lse = lse.data();
    p.k_cache = f.k.data();
    p.v_cache = f.v.data();
    p.kv = f.kv;
    p.num_groups = 3;
    p.group_indptr = group_indptr.data();
    p.prefix_lens = prefix_lens.data();
    p.prefix_block_indptr = prefix_block_indptr.data();
    p.prefix_block_ids = prefix_block_ids.data();
    p.suffix = PagedBatch{static_cast<int32_t>(nseq), nullptr, suffix_lens.data(), sfx_indptr.data(), sfx_ids.data()};
    p.num_q_heads = nqh;
    p.sm_scale = 1.0f / std::sqrt(static_cast<float>(hd));
    ASSERT_TRUE(RadixAttentionDecode(p, &pool).ok());
    for (size_t i = 0; i < o.size(); ++i) ASSERT_NEAR(o[i], o_ref[i], 2e-5) << "bs=" << bs << " i=" << i;
    for (size_t i = 0; i < lse.size(); ++i) ASSERT_NEAR(lse[i], lse_ref[i], 2e-5) << i;
  }
}

// Attention over keys [0, n) computed as two partials [0, a) and [a, n) and merged equals
// the unsplit result; an empty partial (lse = -inf) leaves the other unchanged.
TEST(MergeStateTest, MergedSplitPartialsEqualUnsplit) {
  const int32_t hd = 24, n = 41;
  PagedFixture f({n}, 4, 1, hd, 41);
  const std::vector<float> q = RandomFloats(hd, 2);
  for (int32_t a : {0, 1, 16, 40, 41}) {
    std::vector<double> full, pa, pb;
    double lf, la, lb;
    RefAttend(f, 0, 0, q.data(), n, 0.3, full, lf);
    RefAttend(f, 0, 0, q.data(), a, 0.3, pa, la);
    // Keys [a, n): build through a fixture-free reference.
    std::vector<double> sc;
    double mx = -INFINITY;
    for (int32_t j = a; j < n; ++j) {
      double d = 0;
      for (int i = 0; i < hd; ++i) d += double(q[i]) * f.K(0, j, 0)[i];
      sc.push_back(d * 0.3);
      mx = std::max(mx, sc.back());
    }
    double l = 0;
    pb.assign(hd, 0);
    for (int32_t j = a; j < n; ++j) {
      const double e = std::exp(sc[j - a] - mx);
      l += e;
      for (int i = 0; i < hd; ++i) pb[i] += e * f.V(0, j, 0)[i];
    }
    for (double& x : pb) x = a < n ? x / l : 0;
    lb = a < n ? mx + std::log(l) : -INFINITY;

    std::vector<float> oa(pa.begin(), pa.end()), ob(pb.begin(), pb.end());
    float lse_a = static_cast<float>(la), lse_b = static_cast<float>(lb);
    MergeStateParams mp;
    mp.dtype = ScalarType::kF32;
    mp.o_a = oa.data();
    mp.lse_a = &lse_a;
    mp.o_b = ob.data();
    mp.lse_b = &lse_b;
    mp.num_rows = 1;
    mp.num_heads = 1;
    mp.head_dim = hd;
    ASSERT_TRUE(MergeState(mp).ok());
    for (int i = 0; i < hd; ++i) EXPECT_NEAR(oa[i], full[i], 1e-6) << "a=" << a;
    EXPECT_NEAR(lse_a, lf, 1e-5);
  }
}

}  // namespace
}  // namespace radixserve::kernels::cpu
