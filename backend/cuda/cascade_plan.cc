#include "backend/cuda/cascade_plan.h"

#include <algorithm>
#include <numeric>

namespace radixserve::backend::cuda {

std::optional<CascadePlan> PlanCascade(const PackedStep& step, int32_t block_size, int32_t min_shared_tokens) {
  const int32_t num_seqs = static_cast<int32_t>(step.kv_lens.size());
  if (num_seqs < 2 || step.max_q_len != 1) return std::nullopt;
  auto first_block = [&](int32_t s) { return step.block_ids[step.block_indptr[s]]; };
  std::vector<int32_t> by_first(num_seqs);
  std::iota(by_first.begin(), by_first.end(), 0);
  std::stable_sort(by_first.begin(), by_first.end(),
                   [&](int32_t a, int32_t b) { return first_block(a) < first_block(b); });

  CascadePlan plan;
  plan.group_indptr.push_back(0);
  plan.prefix_block_indptr.push_back(0);
  plan.suffix_block_indptr.push_back(0);
  bool shared_any = false;
  for (int32_t begin = 0; begin < num_seqs;) {
    int32_t end = begin + 1;
    while (end < num_seqs && first_block(by_first[end]) == first_block(by_first[begin])) ++end;
    // Leading blocks every member has in common, then whole blocks every member has filled.
    const int32_t lead = by_first[begin];
    int32_t common = step.block_indptr[lead + 1] - step.block_indptr[lead];
    int32_t min_len = step.kv_lens[lead];
    for (int32_t i = begin + 1; i < end; ++i) {
      const int32_t s = by_first[i];
      const int32_t n = std::min(common, step.block_indptr[s + 1] - step.block_indptr[s]);
      int32_t c = 0;
      while (c < n && step.block_ids[step.block_indptr[s] + c] == step.block_ids[step.block_indptr[lead] + c]) ++c;
      common = c;
      min_len = std::min(min_len, step.kv_lens[s]);
    }
    int32_t prefix = std::min(common * block_size, min_len) / block_size * block_size;
    if (end - begin < 2 || prefix < min_shared_tokens) {
      prefix = 0;
      // Not worth sharing: each member becomes a group of one.
      for (int32_t i = begin; i < end; ++i) {
        plan.order.push_back(by_first[i]);
        plan.group_indptr.push_back(static_cast<int32_t>(plan.order.size()));
        plan.prefix_lens.push_back(0);
        plan.prefix_block_indptr.push_back(static_cast<int32_t>(plan.prefix_block_ids.size()));
      }
    } else {
      shared_any = true;
      for (int32_t i = begin; i < end; ++i) plan.order.push_back(by_first[i]);
      plan.group_indptr.push_back(static_cast<int32_t>(plan.order.size()));
      plan.prefix_lens.push_back(prefix);
      for (int32_t b = 0; b < prefix / block_size; ++b) {
        plan.prefix_block_ids.push_back(step.block_ids[step.block_indptr[lead] + b]);
      }
      plan.prefix_block_indptr.push_back(static_cast<int32_t>(plan.prefix_block_ids.size()));
      plan.max_group_size = std::max(plan.max_group_size, end - begin);
      plan.max_prefix_len = std::max(plan.max_prefix_len, prefix);
    }
    // Suffixes, in the order just appended.
    for (int32_t i = begin; i < end; ++i) {
      const int32_t s = by_first[i];
      const int32_t suffix = step.kv_lens[s] - prefix;
      plan.suffix_kv_lens.push_back(suffix);
      const int32_t first = step.block_indptr[s] + prefix / block_size;
      plan.suffix_block_ids.insert(plan.suffix_block_ids.end(), step.block_ids.begin() + first,
                                   step.block_ids.begin() + step.block_indptr[s + 1]);
      plan.suffix_block_indptr.push_back(static_cast<int32_t>(plan.suffix_block_ids.size()));
      plan.max_suffix_len = std::max(plan.max_suffix_len, suffix);
    }
    begin = end;
  }
  if (!shared_any) return std::nullopt;
  plan.max_group_size = std::max(plan.max_group_size, 1);
  plan.inverse.assign(num_seqs, 0);
  for (int32_t i = 0; i < num_seqs; ++i) plan.inverse[plan.order[i]] = i;
  return plan;
}

}  // namespace radixserve::backend::cuda
