// One engine step of a Llama-family model on the CPU: embeddings, then per layer
// RMSNorm -> Q/K/V -> RoPE -> K/V written into their blocks -> paged attention ->
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
#include "backend/cpu/cpu_kv_pool.h"
#include "backend/cpu/cpu_weights.h"
#include "kernels/cpu/rope.h"
#include "kernels/cpu/thread_pool.h"
#include "model/model_config.h"

namespace radixserve::backend::cpu {

// The step's batch, flattened into the index arrays the kernels read (kernels/paged_kv.h).
struct PackedStep {
  std::vector<int32_t> tokens;        // [num_tokens]
  std::vector<int32_t> positions;     // [num_tokens]
  std::vector<int32_t> slot_mapping;  // [num_tokens] block * block_size + slot
  std::vector<int32_t> q_indptr;      // [num_seqs + 1]
  std::vector<int32_t> kv_lens;       // [num_seqs]
  std::vector<int32_t> block_indptr;  // [num_seqs + 1]
  std::vector<int32_t> block_ids;
  std::vector<int32_t> logit_rows;    // token rows whose logits are computed
  std::vector<int32_t> logit_seqs;    // the sequence of each of those rows
  int32_t max_q_len = 0;
  int32_t max_kv_len = 0;
};

// Validates the batch against the model and the pool and packs it. InvalidArgument names
// the sequence and what is wrong (token id out of range, block table too short, block id
// outside the pool, position past the model's context, empty sequence).
absl::StatusOr<PackedStep> PackStep(const StepBatch& batch, const model::ModelConfig& config,
                                    int32_t block_size, int64_t num_blocks);

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
};

}  // namespace radixserve::backend::cpu
