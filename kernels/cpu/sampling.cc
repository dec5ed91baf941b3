#include "kernels/cpu/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace radixserve::kernels::cpu {
namespace {

int32_t Argmax(const float* x, int32_t n) {
  int32_t best = 0;
  for (int32_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;  // strict: lowest index wins ties
  return best;
}

// Descending by probability, then ascending by index: a total order, so partial sorts
// are deterministic.
struct ByProbDesc {
  const float* p;
  bool operator()(int32_t a, int32_t b) const { return p[a] > p[b] || (p[a] == p[b] && a < b); }
};

// Marks survivors of top-p (sampling_params.h step 4) among those with keep[i] set:
// keep i iff the kept mass with probability strictly greater than p_i is < top_p * Z.
// Sorts only as deep as needed: the first 64 candidates, then 4x more each round.
void ApplyTopP(const float* p, int32_t vocab, float top_p, std::vector<uint8_t>& keep, std::vector<int32_t>& idx) {
  idx.clear();
  float z = 0.0f;
  for (int32_t i = 0; i < vocab; ++i) {
    if (keep[i]) {
      idx.push_back(i);
      z += p[i];
    }
  }
  const float limit = top_p * z;
  const ByProbDesc cmp{p};
  size_t sorted = 0, want = 64;
  float cum = 0.0f;        // mass of candidates before the current equal-probability group
  float group_cum = 0.0f;  // mass including the current group
  size_t cut = idx.size();
  for (size_t i = 0; i < idx.size(); ++i) {
    if (i == sorted) {
      const size_t end = std::min(idx.size(), std::max(want, sorted + 1));
      std::partial_sort(idx.begin() + sorted, idx.begin() + end, idx.end(), cmp);
      sorted = end;
      want *= 4;
    }
    if (i > 0 && p[idx[i]] != p[idx[i - 1]]) cum = group_cum;
    if (i > 0 && cum >= limit) {  // the most likely token always survives (top_p <= 0)
      cut = i;
      break;
    }
    group_cum += p[idx[i]];
  }
  for (size_t i = cut; i < idx.size(); ++i) keep[idx[i]] = 0;
}

void SampleRow(const SamplingParams& sp, int32_t row, std::vector<float>& prob, std::vector<uint8_t>& keep,
               std::vector<int32_t>& idx) {
  const int32_t vocab = sp.vocab;
  const float* logits = sp.logits + row * (sp.logits_stride > 0 ? sp.logits_stride : int64_t{vocab});
  float* probs_out = sp.maybe_probs ? sp.maybe_probs + int64_t{row} * vocab : nullptr;
  const float temperature = sp.temperature[row];
  const int32_t top_k = sp.maybe_top_k ? sp.maybe_top_k[row] : 0;
  // 1. Greedy.
  if (temperature <= 0.0f || top_k == 1) {
    const int32_t best = Argmax(logits, vocab);
    sp.out_tokens[row] = best;
    if (probs_out) {
      std::fill(probs_out, probs_out + vocab, 0.0f);
      probs_out[best] = 1.0f;
    }
    return;
  }
  // 2. Softmax at temperature.
  prob.resize(vocab);
  const float inv_t = 1.0f / temperature;
  const float mx = logits[Argmax(logits, vocab)] * inv_t;
  float sum = 0.0f;
  for (int32_t i = 0; i < vocab; ++i) {
    prob[i] = std::exp(logits[i] * inv_t - mx);
    sum += prob[i];
  }
  float pmax = 0.0f;
  for (int32_t i = 0; i < vocab; ++i) {
    prob[i] /= sum;
    pmax = std::max(pmax, prob[i]);
  }
  keep.assign(vocab, 1);
  // 3. Top-k: keep p_i >= the k-th largest (ties at the edge kept).
  if (top_k > 0 && top_k < vocab) {
    idx.resize(vocab);
    std::iota(idx.begin(), idx.end(), 0);
    std::nth_element(idx.begin(), idx.begin() + (top_k - 1), idx.end(), ByProbDesc{prob.data()});
    const float kth = prob[idx[top_k - 1]];
    for (int32_t i = 0; i < vocab; ++i) keep[i] = prob[i] >= kth;
  }
  // 4. Top-p over the top-k survivors.
  const float top_p = sp.maybe_top_p ? sp.maybe_top_p[row] : 1.0f;
  if (top_p < 1.0f) ApplyTopP(prob.data(), vocab, top_p, keep, idx);
  // 5. Min-p relative to the most likely token.
  const float min_p = sp.maybe_min_p ? sp.maybe_min_p[row] : 0.0f;
  if (min_p > 0.0f) {
    const float floor = min_p * pmax;
    for (int32_t i = 0; i < vocab; ++i)
      if (prob[i] < floor) keep[i] = 0;
  }
  // 6. Inverse-CDF draw over the kept tokens in index order.
  float kept = 0.0f;
  int32_t last = -1;
  for (int32_t i = 0; i < vocab; ++i) {
    if (keep[i]) {
      kept += prob[i];
      last = i;
    }
  }
  const float target = SampleUniform(sp.seeds[row], sp.offsets[row]) * kept;
  int32_t chosen = last;
  float run = 0.0f;
  for (int32_t i = 0; i < vocab; ++i) {
    if (!keep[i]) continue;
    run += prob[i];
    if (run > target) {
      chosen = i;
      break;
    }
  }
  sp.out_tokens[row] = chosen;
  if (probs_out) {
    const float inv = kept > 0.0f ? 1.0f / kept : 0.0f;
    for (int32_t i = 0; i < vocab; ++i) probs_out[i] = keep[i] ? prob[i] * inv : 0.0f;
  }
}

}  // namespace

void ApplyPenalties(float* logits, int32_t vocab, const int32_t* seen_tokens, int64_t num_seen,
                    const PenaltyParams& p) {
  if (num_seen <= 0 || (p.repetition == 1.0f && p.presence == 0.0f && p.frequency == 0.0f)) return;
  std::vector<int32_t> toks;
  toks.reserve(num_seen);
  for (int64_t i = 0; i < num_seen; ++i)
    if (seen_tokens[i] >= 0 && seen_tokens[i] < vocab) toks.push_back(seen_tokens[i]);
  std::sort(toks.begin(), toks.end());
  for (size_t i = 0; i < toks.size();) {
    size_t j = i;
    while (j < toks.size() && toks[j] == toks[i]) ++j;
    float& l = logits[toks[i]];
    if (p.repetition != 1.0f) l = l > 0.0f ? l / p.repetition : l * p.repetition;
    l -= p.presence + static_cast<float>(j - i) * p.frequency;
    i = j;
  }
}

void SampleTokens(const SamplingParams& p, ThreadPool* pool) {
  MaybeParallelFor(p.batch >= 2 ? pool : nullptr, p.batch, 1, [&](int64_t b, int64_t e) {
    thread_local std::vector<float> prob;
    thread_local std::vector<uint8_t> keep;
    thread_local std::vector<int32_t> idx;
    for (int64_t r = b; r < e; ++r) SampleRow(p, static_cast<int32_t>(r), prob, keep, idx);
  });
}

void ComputeLogprobs(const float* logits, int32_t vocab, int32_t chosen, int32_t top_n, TokenLogprob* chosen_out,
                     std::vector<TokenLogprob>* top_out) {
  // log_softmax in double so the normalizer is exact to float precision at any vocab.
  const float mx = logits[Argmax(logits, vocab)];
  double sum = 0.0;
  for (int32_t i = 0; i < vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - mx);
  const double log_z = mx + std::log(sum);
  if (chosen_out != nullptr) {
    *chosen_out = {chosen, static_cast<float>(static_cast<double>(logits[chosen]) - log_z)};
  }
  if (top_out == nullptr) return;
  top_out->clear();
  const int32_t n = std::clamp(top_n, 0, vocab);
  if (n == 0) return;
  std::vector<int32_t> idx(vocab);
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + n, idx.end(), ByProbDesc{logits});
  for (int32_t i = 0; i < n; ++i) {
    top_out->push_back({idx[i], static_cast<float>(static_cast<double>(logits[idx[i]]) - log_z)});
  }
}

}  // namespace radixserve::kernels::cpu
