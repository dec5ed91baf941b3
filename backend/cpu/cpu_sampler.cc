#include "backend/cpu/cpu_sampler.h"

#include <algorithm>

#include "kernels/cpu/sampling.h"

namespace radixserve::backend::cpu {

void CpuSampler::Run(std::span<const float> logits, int32_t vocab, std::span<const int32_t> seqs,
                     const StepBatch& batch, StepResult& result, kernels::cpu::ThreadPool* pool) {
  work_.assign(logits.begin(), logits.end());
  temperature_.clear();
  top_p_.clear();
  min_p_.clear();
  top_k_.clear();
  seeds_.clear();
  offsets_.clear();
  std::vector<int32_t> sampling_rows;  // rows of work_ that sample, in order
  for (size_t i = 0; i < seqs.size(); ++i) {
    const SequenceStep& seq = batch.sequences[seqs[i]];
    SequenceResult& out = result.sequences[seqs[i]];
    float* row = work_.data() + i * vocab;
    if (seq.return_logits) out.logits.assign(logits.begin() + i * vocab, logits.begin() + (i + 1) * vocab);
    if (!seq.sample) continue;
    const SamplingOptions& o = seq.sampling;
    kernels::cpu::ApplyPenalties(row, vocab, seq.penalty_history.data(),
                                 static_cast<int64_t>(seq.penalty_history.size()),
                                 {o.repetition_penalty, o.presence_penalty, o.frequency_penalty});
    sampling_rows.push_back(static_cast<int32_t>(i));
    temperature_.push_back(o.temperature);
    top_k_.push_back(o.top_k);
    top_p_.push_back(o.top_p);
    min_p_.push_back(o.min_p);
    seeds_.push_back(o.seed);
    offsets_.push_back(seq.sample_index);
  }
  if (sampling_rows.empty()) return;
  // SampleTokens reads rows at a fixed stride: compact the sampling rows to the front.
  for (size_t j = 0; j < sampling_rows.size(); ++j) {
    if (sampling_rows[j] != static_cast<int32_t>(j)) {
      std::copy_n(work_.data() + sampling_rows[j] * vocab, vocab, work_.data() + j * vocab);
    }
  }
  tokens_.assign(sampling_rows.size(), -1);
  kernels::SamplingParams p;
  p.logits = work_.data();
  p.batch = static_cast<int32_t>(sampling_rows.size());
  p.vocab = vocab;
  p.temperature = temperature_.data();
  p.maybe_top_k = top_k_.data();
  p.maybe_top_p = top_p_.data();
  p.maybe_min_p = min_p_.data();
  p.seeds = seeds_.data();
  p.offsets = offsets_.data();
  p.out_tokens = tokens_.data();
  kernels::cpu::SampleTokens(p, pool);

  for (size_t j = 0; j < sampling_rows.size(); ++j) {
    const SequenceStep& seq = batch.sequences[seqs[sampling_rows[j]]];
    SequenceResult& out = result.sequences[seqs[sampling_rows[j]]];
    kernels::cpu::TokenLogprob chosen;
    std::vector<kernels::cpu::TokenLogprob> top;
    kernels::cpu::ComputeLogprobs(work_.data() + j * vocab, vocab, tokens_[j],
                                  std::clamp(seq.num_top_logprobs, 0, vocab), &chosen, &top);
    out.token = tokens_[j];
    out.logprob = chosen.logprob;
    out.top_logprobs.clear();
    for (const auto& t : top) out.top_logprobs.push_back({t.token, t.logprob});
  }
}

}  // namespace radixserve::backend::cpu
