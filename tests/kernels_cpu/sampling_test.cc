#include "kernels/cpu/sampling.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

#include "tests/kernels_cpu/test_util.h"

namespace radixserve::kernels::cpu {
namespace {

// One-row sampling call with every knob.
struct Row {
  std::vector<float> logits;
  float temperature = 1.0f;
  int32_t top_k = 0;
  float top_p = 1.0f;
  float min_p = 0.0f;
  uint64_t seed = 1, offset = 0;
};

int32_t Sample(const Row& r, std::vector<float>* probs = nullptr) {
  int32_t out = -1;
  SamplingParams p;
  p.logits = r.logits.data();
  p.batch = 1;
  p.vocab = static_cast<int32_t>(r.logits.size());
  p.temperature = &r.temperature;
  p.maybe_top_k = &r.top_k;
  p.maybe_top_p = &r.top_p;
  p.maybe_min_p = &r.min_p;
  p.seeds = &r.seed;
  p.offsets = &r.offset;
  p.out_tokens = &out;
  if (probs) {
    probs->assign(r.logits.size(), -1.0f);
    p.maybe_probs = probs->data();
  }
  SampleTokens(p);
  return out;
}

// probabilities 0.4 0.25 0.15 0.1 0.05 0.03 0.02 (as logits = log p).
Row SevenTokens() {
  Row r;
  for (double q : {0.05, 0.4, 0.02, 0.25, 0.1, 0.15, 0.03}) r.logits.push_back(static_cast<float>(std::log(q)));
  return r;
}

std::set<int32_t> Kept(const std::vector<float>& probs) {
  std::set<int32_t> s;
  for (size_t i = 0; i < probs.size(); ++i)
    if (probs[i] > 0) s.insert(static_cast<int32_t>(i));
  return s;
}

TEST(SamplingTest, GreedyPicksLowestIndexArgmax) {
  Row r;
  r.logits = {0.1f, 3.0f, -1.0f, 3.0f};
  r.temperature = 0.0f;
  std::vector<float> probs;
  EXPECT_EQ(Sample(r, &probs), 1);
  EXPECT_EQ(probs, (std::vector<float>{0, 1, 0, 0}));
  r.temperature = 0.7f;
  r.top_k = 1;
  EXPECT_EQ(Sample(r), 1);
}

TEST(SamplingTest, TopKTopPMinPMasksAreExact) {
  std::vector<float> probs;
  Row r = SevenTokens();  // ids by prob: 1 (.4), 3 (.25), 5 (.15), 4 (.1), 0 (.05), 6 (.03), 2 (.02)
  r.top_k = 3;
  Sample(r, &probs);
  EXPECT_EQ(Kept(probs), (std::set<int32_t>{1, 3, 5}));
  EXPECT_NEAR(probs[1], 0.4 / 0.8, 1e-6);

  r = SevenTokens();
  r.top_p = 0.65f;  // mass strictly above: 1:0, 3:.4, 5:.65 -> keep 1 and 3 only
  Sample(r, &probs);
  EXPECT_EQ(Kept(probs), (std::set<int32_t>{1, 3}));
  r.top_p = 0.66f;  // 5 has .65 above it < .66 -> kept
  Sample(r, &probs);
  EXPECT_EQ(Kept(probs), (std::set<int32_t>{1, 3, 5}));

  r = SevenTokens();
  r.min_p = 0.25f;  // floor 0.1: keeps .4 .25 .15 .1
  Sample(r, &probs);
  EXPECT_EQ(Kept(probs), (std::set<int32_t>{1, 3, 5, 4}));

  r = SevenTokens();  // combined: top-k 5 then top-p relative to the top-5 mass (.95)
  r.top_k = 5;
  r.top_p = 0.7f;  // limit .665: 1 (0), 3 (.4), 5 (.65) kept; 4 (.8) dropped
  Sample(r, &probs);
  EXPECT_EQ(Kept(probs), (std::set<int32_t>{1, 3, 5}));
}

TEST(SamplingTest, TopKKeepsTiesAtTheEdge) {
  Row r;
  r.logits = {1.0f, 2.0f, 2.0f, 2.0f, 0.0f};
  r.top_k = 2;
  std::vector<float> probs;
  Sample(r, &probs);
  EXPECT_EQ(Kept(probs), (std::set<int32_t>{1, 2, 3}));
}

TEST(SamplingTest, SeededRunsReproduceAndOffsetsVary) {
  Row r;
  r.logits = testing::RandomFloats(1000, 3, -2.0f, 2.0f);
  r.seed = 1234;
  std::vector<int32_t> a, b;
  for (uint64_t step = 0; step < 50; ++step) {
    r.offset = step;
    a.push_back(Sample(r));
  }
  for (uint64_t step = 0; step < 50; ++step) {
    r.offset = step;
    b.push_back(Sample(r));
  }
  EXPECT_EQ(a, b);
  EXPECT_GT(std::set<int32_t>(a.begin(), a.end()).size(), 20u);
}

// Frequencies over 20000 seeded draws follow the (filtered, renormalized) distribution:
// chi-square with 3 degrees of freedom stays below 16.27 (p = 0.001) for this fixed seed.
TEST(SamplingTest, FrequenciesMatchDistribution) {
  Row r = SevenTokens();
  r.top_k = 4;  // kept: 1 (.4/.9), 3, 5, 4
  r.temperature = 1.0f;
  const int kDraws = 20000;
  std::vector<int> counts(7, 0);
  r.seed = 99;
  for (int i = 0; i < kDraws; ++i) {
    r.offset = static_cast<uint64_t>(i);
    ++counts[Sample(r)];
  }
  const double expected[7] = {0, .4 / .9, 0, .25 / .9, .1 / .9, .15 / .9, 0};
  double chi2 = 0;
  for (int i = 0; i < 7; ++i) {
    if (expected[i] == 0) {
      EXPECT_EQ(counts[i], 0);
      continue;
    }
    const double e = expected[i] * kDraws;
    chi2 += (counts[i] - e) * (counts[i] - e) / e;
  }
  EXPECT_LT(chi2, 16.27);
}

TEST(SamplingTest, TemperatureSharpens) {
  Row r = SevenTokens();
  r.temperature = 0.5f;  // p ~ q^2: .16/.2584 for the top token
  std::vector<float> probs;
  Sample(r, &probs);
  double z = 0;
  for (double q : {0.05, 0.4, 0.02, 0.25, 0.1, 0.15, 0.03}) z += q * q;
  EXPECT_NEAR(probs[1], 0.16 / z, 1e-5);
}

TEST(SamplingTest, BatchRowsAreIndependent) {
  ThreadPool pool(2);
  const int32_t vocab = 300, batch = 5;
  std::vector<float> logits = testing::RandomFloats(vocab * batch, 5, -3, 3);
  std::vector<float> temp = {0, 0.8f, 1.0f, 1.2f, 0.5f};
  std::vector<int32_t> top_k = {0, 10, 0, 50, 3};
  std::vector<float> top_p = {1, 0.9f, 0.5f, 1, 1};
  std::vector<float> min_p = {0, 0, 0.1f, 0, 0};
  std::vector<uint64_t> seeds = {1, 2, 3, 4, 5}, offsets = {7, 7, 7, 7, 7};
  std::vector<int32_t> out(batch);
  SamplingParams p;
  p.logits = logits.data();
  p.batch = batch;
  p.vocab = vocab;
  p.temperature = temp.data();
  p.maybe_top_k = top_k.data();
  p.maybe_top_p = top_p.data();
  p.maybe_min_p = min_p.data();
  p.seeds = seeds.data();
  p.offsets = offsets.data();
  p.out_tokens = out.data();
  SampleTokens(p, &pool);
  for (int32_t b = 0; b < batch; ++b) {
    Row r;
    r.logits.assign(logits.begin() + b * vocab, logits.begin() + (b + 1) * vocab);
    r.temperature = temp[b];
    r.top_k = top_k[b];
    r.top_p = top_p[b];
    r.min_p = min_p[b];
    r.seed = seeds[b];
    r.offset = offsets[b];
    EXPECT_EQ(out[b], Sample(r)) << b;
  }
}

TEST(PenaltiesTest, RepetitionPresenceFrequency) {
  std::vector<float> l = {2.0f, -2.0f, 1.0f, 0.5f};
  const std::vector<int32_t> seen = {0, 1, 0, 0, 3, 99, -1};  // 99 / -1 ignored
  ApplyPenalties(l.data(), 4, seen.data(), static_cast<int64_t>(seen.size()), {2.0f, 0.5f, 0.25f});
  EXPECT_FLOAT_EQ(l[0], 2.0f / 2 - 0.5f - 3 * 0.25f);
  EXPECT_FLOAT_EQ(l[1], -2.0f * 2 - 0.5f - 0.25f);
  EXPECT_FLOAT_EQ(l[2], 1.0f);
  EXPECT_FLOAT_EQ(l[3], 0.5f / 2 - 0.5f - 0.25f);
}

TEST(LogprobsTest, LogSoftmaxOfChosenAndTopN) {
  const std::vector<float> l = {1.0f, 3.0f, 3.0f, -1.0f, 0.0f};
  double z = 0;
  for (float x : l) z += std::exp(static_cast<double>(x));
  TokenLogprob chosen;
  std::vector<TokenLogprob> top;
  ComputeLogprobs(l.data(), 5, 4, 3, &chosen, &top);
  EXPECT_EQ(chosen.token, 4);
  EXPECT_NEAR(chosen.logprob, 0.0 - std::log(z), 1e-6);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].token, 1);
  EXPECT_EQ(top[1].token, 2);
  EXPECT_EQ(top[2].token, 0);
  EXPECT_NEAR(top[0].logprob, 3.0 - std::log(z), 1e-6);
}

}  // namespace
}  // namespace radixserve::kernels::cpu
