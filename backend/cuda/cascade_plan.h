// Finds the decode sequences of a step that share a cached prefix (the same leading KV
// blocks, as the radix cache and forks leave them) and lays the batch out for cascade
// decode (kernels/attention_params.h, CascadeDecodeParams): the groups made contiguous,
// each group's common prefix read once, each sequence's suffix on its own. Pure host
// code: no CUDA, tested on the CPU.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "backend/step_packing.h"

namespace radixserve::backend::cuda {

struct CascadePlan {
  std::vector<int32_t> order;    // cascade row i is sequence order[i] of the step
  std::vector<int32_t> inverse;  // sequence s is cascade row inverse[s]
  std::vector<int32_t> group_indptr;         // [num_groups + 1] over cascade rows
  std::vector<int32_t> prefix_lens;          // [num_groups], multiples of the block size
  std::vector<int32_t> prefix_block_indptr;  // [num_groups + 1]
  std::vector<int32_t> prefix_block_ids;
  std::vector<int32_t> suffix_kv_lens;       // [num_seqs] in cascade order
  std::vector<int32_t> suffix_block_indptr;  // [num_seqs + 1]
  std::vector<int32_t> suffix_block_ids;
  int32_t max_group_size = 0;
  int32_t max_prefix_len = 0;
  int32_t max_suffix_len = 0;
};

// For a pure decode step (one new token per sequence). Returns nullopt when no two
// sequences share at least `min_shared_tokens` tokens of whole blocks (plain paged decode
// is then as good). Sequences that share nothing form groups of one with an empty prefix.
std::optional<CascadePlan> PlanCascade(const PackedStep& step, int32_t block_size, int32_t min_shared_tokens);

}  // namespace radixserve::backend::cuda
