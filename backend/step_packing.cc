#include "backend/step_packing.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace radixserve::backend {

absl::StatusOr<PackedStep> PackStep(const StepBatch& batch, const model::ModelConfig& config,
                                    int32_t block_size, int64_t num_blocks) {
  PackedStep p;
  p.q_indptr.push_back(0);
  p.block_indptr.push_back(0);
  for (size_t s = 0; s < batch.sequences.size(); ++s) {
    const SequenceStep& seq = batch.sequences[s];
    const int64_t n = static_cast<int64_t>(seq.tokens.size());
    if (n == 0) return absl::InvalidArgumentError(absl::StrCat("sequence ", s, " brings no tokens"));
    if (seq.start_position < 0) {
      return absl::InvalidArgumentError(absl::StrCat("sequence ", s, " has a negative start position"));
    }
    const int64_t kv_len = seq.start_position + n;
    if (config.max_position_embeddings > 0 && kv_len > config.max_position_embeddings) {
      return absl::InvalidArgumentError(absl::StrCat("sequence ", s, " reaches position ", kv_len,
                                                     ", past the model's context of ",
                                                     config.max_position_embeddings));
    }
    const int64_t blocks_needed = (kv_len + block_size - 1) / block_size;
    if (static_cast<int64_t>(seq.block_table.size()) < blocks_needed) {
      return absl::InvalidArgumentError(absl::StrCat("sequence ", s, " needs ", blocks_needed,
                                                     " blocks for ", kv_len, " tokens but its table has ",
                                                     seq.block_table.size()));
    }
    for (int64_t b = 0; b < blocks_needed; ++b) {
      const int32_t id = seq.block_table[b];
      if (id < 0 || id >= num_blocks) {
        return absl::InvalidArgumentError(absl::StrCat("sequence ", s, " block ", b, " is ", id,
                                                       ", outside the pool of ", num_blocks, " blocks"));
      }
      p.block_ids.push_back(id);
    }
    for (int64_t i = 0; i < n; ++i) {
      const int32_t token = seq.tokens[i];
      if (token < 0 || token >= config.vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat("sequence ", s, " token ", i, " is ", token,
                                                       ", outside the vocabulary of ", config.vocab_size));
      }
      const int64_t pos = seq.start_position + i;
      p.tokens.push_back(token);
      p.positions.push_back(static_cast<int32_t>(pos));
      p.slot_mapping.push_back(seq.block_table[pos / block_size] * block_size + pos % block_size);
    }
    if (seq.sample || seq.return_logits) {
      p.logit_rows.push_back(static_cast<int32_t>(p.tokens.size() - 1));
      p.logit_seqs.push_back(static_cast<int32_t>(s));
    }
    p.q_indptr.push_back(static_cast<int32_t>(p.tokens.size()));
    p.kv_lens.push_back(static_cast<int32_t>(kv_len));
    p.block_indptr.push_back(static_cast<int32_t>(p.block_ids.size()));
    p.max_q_len = std::max<int32_t>(p.max_q_len, static_cast<int32_t>(n));
    p.max_kv_len = std::max<int32_t>(p.max_kv_len, static_cast<int32_t>(kv_len));
  }
  return p;
}

absl::Status CheckBlockPairs(std::span<const BlockCopy> pairs, int64_t src_blocks, int64_t dst_blocks,
                             const char* what) {
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (pairs[i].src < 0 || pairs[i].src >= src_blocks || pairs[i].dst < 0 || pairs[i].dst >= dst_blocks) {
      return absl::InvalidArgumentError(absl::StrCat(what, " pair ", i, " (", pairs[i].src, " -> ",
                                                     pairs[i].dst, ") is outside the pools (", src_blocks,
                                                     " and ", dst_blocks, " blocks)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace radixserve::backend
