// Turns the step's logits rows into SequenceResults with the CPU sampling kernels:
// penalties, one batched SampleTokens over every sampling row, then logprobs
// (kernels/cpu/sampling.h: the log-softmax of the penalized logits at temperature 1).
#pragma once

#include <span>
#include <vector>

#include "backend/backend.h"
#include "kernels/cpu/thread_pool.h"

namespace radixserve::backend::cpu {

class CpuSampler {
 public:
  // logits: [seqs.size(), vocab], row i for sequence seqs[i] of `batch`.
  void Run(std::span<const float> logits, int32_t vocab, std::span<const int32_t> seqs, const StepBatch& batch,
           StepResult& result, kernels::cpu::ThreadPool* pool);

 private:
  std::vector<float> work_, temperature_, top_p_, min_p_;
  std::vector<int32_t> top_k_, tokens_;
  std::vector<uint64_t> seeds_, offsets_;
};

}  // namespace radixserve::backend::cpu
