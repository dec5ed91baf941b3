// One engine step of a Llama-family model on the CPU: embeddings, then per layer
// RMSNorm -> Q/K/V -> RoPE -> K/V written into their blocks (f32 or f16) -> paged attention ->
// output projection (+ residual) -> RMSNorm -> gate/up -> SiLU-and-mul -> down (+ residual),
// then the final norm and the output head for the rows that sample.
//
// Every sequence's tokens are packed into one [num_tokens, hidden] batch so each matmul
// runs once per layer for the whole step (prefill chunks and decode tokens alike).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "backend/step_packing.h"
#include "backend/cpu/cpu_kv_pool.h"
#include "backend/cpu/cpu_weights.h"
#include "kernels/cpu/rope.h"
#include "kernels/cpu/thread_pool.h"
#include "model/model_config.h"

namespace radixserve::backend::cpu {

class CpuForward {
 public:
  CpuForward(const model::ModelConfig& config, const CpuWeights& weights, CpuKvPool& kv,
             int32_t block_size, kernels::cpu::ThreadPool& pool);

  // Runs the step and returns logits for `step.logit_rows`: [logit_rows.size(), vocab],
  // valid until the next Run. Errors only on a batch the kernels refuse (PackStep has
  // validated everything a caller controls).
  absl::StatusOr<std::span<const float>> Run(const PackedStep& step);

 private:
  absl::Status Attention(int32_t layer, const PackedStep& step);

  const model::ModelConfig& config_;
  const CpuWeights& weights_;
  CpuKvPool& kv_;
  kernels::PagedKvView view_;
  kernels::cpu::ThreadPool& pool_;
  kernels::RopeParams rope_base_;  // the model's frequency fields; per-step fields unset
  std::unique_ptr<kernels::cpu::RopeTable> rope_table_;
  // Scratch reused across steps, sized for the largest step seen.
  std::vector<float> x_, xn_, q_, kv_new_, attn_, tmp_, gate_up_, act_, rows_, logits_;
  std::vector<uint16_t> kv_half_;  // kv_new_ rounded to fp16, for an F16 cache
};

}  // namespace radixserve::backend::cpu
