// The CUDA backend's host-side grouping for cascade decode (backend/cuda/cascade_plan.h):
// which sequences share a prefix, how long it is, and the suffix tables that remain.
#include "backend/cuda/cascade_plan.h"

#include <vector>

#include "gtest/gtest.h"

namespace radixserve::backend::cuda {
namespace {

constexpr int32_t kBs = 4;

// A decode step (one new token each) over sequences given by block table and length.
PackedStep Decode(const std::vector<std::vector<int32_t>>& tables, const std::vector<int32_t>& lens) {
  PackedStep p;
  p.q_indptr.push_back(0);
  p.block_indptr.push_back(0);
  for (size_t s = 0; s < tables.size(); ++s) {
    p.block_ids.insert(p.block_ids.end(), tables[s].begin(), tables[s].end());
    p.block_indptr.push_back(static_cast<int32_t>(p.block_ids.size()));
    p.kv_lens.push_back(lens[s]);
    p.q_indptr.push_back(static_cast<int32_t>(s + 1));
    p.max_kv_len = std::max(p.max_kv_len, lens[s]);
  }
  p.max_q_len = 1;
  return p;
}

// Every sequence's prefix blocks + suffix blocks must be its original table, in order.
void ExpectTablesPreserved(const PackedStep& step, const CascadePlan& plan) {
  const int32_t num_groups = static_cast<int32_t>(plan.prefix_lens.size());
  for (int32_t g = 0; g < num_groups; ++g) {
    for (int32_t row = plan.group_indptr[g]; row < plan.group_indptr[g + 1]; ++row) {
      const int32_t s = plan.order[row];
      EXPECT_EQ(plan.inverse[s], row);
      std::vector<int32_t> table(plan.prefix_block_ids.begin() + plan.prefix_block_indptr[g],
                                 plan.prefix_block_ids.begin() + plan.prefix_block_indptr[g + 1]);
      table.insert(table.end(), plan.suffix_block_ids.begin() + plan.suffix_block_indptr[row],
                   plan.suffix_block_ids.begin() + plan.suffix_block_indptr[row + 1]);
      const std::vector<int32_t> want(step.block_ids.begin() + step.block_indptr[s],
                                      step.block_ids.begin() + step.block_indptr[s + 1]);
      EXPECT_EQ(table, want) << "sequence " << s;
      EXPECT_EQ(plan.prefix_lens[g] + plan.suffix_kv_lens[row], step.kv_lens[s]) << "sequence " << s;
      EXPECT_EQ(plan.prefix_lens[g] % kBs, 0);
    }
  }
}

TEST(CascadePlanTest, GroupsSequencesThatShareLeadingBlocks) {
  // 0 and 2 share blocks 10, 11 (8 tokens); 1 shares nothing; 3 shares block 10 only with them.
  const PackedStep step = Decode({{10, 11, 12}, {20, 21}, {10, 11, 13, 14}, {10, 15}}, {10, 7, 15, 6});
  auto plan = PlanCascade(step, kBs, /*min_shared_tokens=*/4);
  ASSERT_TRUE(plan.has_value());
  ExpectTablesPreserved(step, *plan);
  // Groups: {0, 2, 3} sharing block 10 (4 tokens: 3 stops after it), {1} alone.
  ASSERT_EQ(plan->prefix_lens.size(), 2u);
  EXPECT_EQ(plan->prefix_lens[0], 4);
  EXPECT_EQ(plan->group_indptr[1] - plan->group_indptr[0], 3);
  EXPECT_EQ(plan->prefix_lens[1], 0);
  EXPECT_EQ(plan->max_group_size, 3);
  EXPECT_EQ(plan->max_prefix_len, 4);
  EXPECT_EQ(plan->max_suffix_len, 11);
}

TEST(CascadePlanTest, PrefixStopsAtTheShortestMembersWholeBlocks) {
  // Both tables hold the same three blocks, but one sequence has filled only 9 tokens:
  // the prefix is the 8 tokens of whole blocks both have, never a partly filled block.
  const PackedStep step = Decode({{1, 2, 3}, {1, 2, 3, 4}}, {9, 14});
  auto plan = PlanCascade(step, kBs, 4);
  ASSERT_TRUE(plan.has_value());
  ExpectTablesPreserved(step, *plan);
  EXPECT_EQ(plan->prefix_lens[0], 8);
  EXPECT_EQ(plan->suffix_kv_lens[0] + plan->suffix_kv_lens[1], 1 + 6);
}

TEST(CascadePlanTest, NoPlanWithoutEnoughSharing) {
  EXPECT_FALSE(PlanCascade(Decode({{1, 2}, {3, 4}}, {8, 8}), kBs, 4).has_value());       // nothing shared
  EXPECT_FALSE(PlanCascade(Decode({{1, 2}, {1, 4}}, {8, 8}), kBs, 8).has_value());       // 4 < 8 tokens
  EXPECT_FALSE(PlanCascade(Decode({{1, 2}}, {8}), kBs, 4).has_value());                  // one sequence
  PackedStep prefill = Decode({{1, 2}, {1, 2}}, {8, 8});
  prefill.max_q_len = 2;
  EXPECT_FALSE(PlanCascade(prefill, kBs, 4).has_value());  // not a decode step
}

}  // namespace
}  // namespace radixserve::backend::cuda
