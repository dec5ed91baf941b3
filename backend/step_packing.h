// The step's batch flattened into the index arrays the attention kernels read
// (kernels/paged_kv.h), with every caller-controlled field validated, and the same check
// for block moves. Shared by the CPU backend and the CUDA plugin so both refuse the same
// batches and block pairs with the same messages.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/backend.h"
#include "model/model_config.h"

namespace radixserve::backend {

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

// Checks that every pair indexes its pools: InvalidArgument naming the bad pair.
absl::Status CheckBlockPairs(std::span<const BlockCopy> pairs, int64_t src_blocks, int64_t dst_blocks,
                             const char* what);

}  // namespace radixserve::backend
