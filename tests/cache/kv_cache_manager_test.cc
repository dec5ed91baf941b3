// Session lifecycle, append/commit, prefix reuse, fork, truncate, delete.
#include "cache/kv_cache_manager.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cache/test_util.h"

namespace radixserve::cache {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::CacheTest;
using testing::Concat;
using testing::Seq;

using KvCacheManagerTest = CacheTest;

MATCHER_P2(StatusIs, code, substr, "") {
  return arg.code() == code && std::string(arg.message()).find(substr) != std::string::npos;
}

TEST_F(KvCacheManagerTest, CreateValidatesOptions) {
  KvCacheOptions o;
  o.num_device_blocks = 0;
  EXPECT_THAT(KvCacheManager::Create(o).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "num_device_blocks must be positive"));
  o.num_device_blocks = 8;
  o.block_size = 0;
  EXPECT_THAT(KvCacheManager::Create(o).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "block_size must be positive"));
  o.block_size = 16;
  o.num_host_blocks = -1;
  EXPECT_THAT(KvCacheManager::Create(o).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "num_host_blocks"));
  o.num_host_blocks = 0;
  o.max_pinned_blocks = 9;
  EXPECT_THAT(KvCacheManager::Create(o).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "max_pinned_blocks"));
  o.max_pinned_blocks = -1;
  auto m = KvCacheManager::Create(o);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->Stats().max_pinned_blocks, 4);
  EXPECT_EQ((*m)->block_size(), 16);
}

TEST_F(KvCacheManagerTest, DefaultIdsAre128RandomBitsInHex) {
  KvCacheOptions o;
  o.num_device_blocks = 4;
  auto m = KvCacheManager::Create(o);
  ASSERT_TRUE(m.ok());
  auto a = (*m)->CreateSession();
  auto b = (*m)->CreateSession();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_EQ(a->find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(*a, *b);
}

TEST_F(KvCacheManagerTest, CreateRejectsNegativeOptions) {
  auto m = Make(4);
  SessionOptions so;
  so.ttl = absl::Seconds(-1);
  EXPECT_THAT(m->CreateSession(so).status(), StatusIs(absl::StatusCode::kInvalidArgument, "ttl"));
}

TEST_F(KvCacheManagerTest, UnknownSessionIsNotFoundEverywhere) {
  auto m = Make(4, 4);
  const auto nf = StatusIs(absl::StatusCode::kNotFound, "session 'nope' not found");
  EXPECT_THAT(m->Append("nope", Seq(3)).status(), nf);
  EXPECT_THAT(m->Commit("nope", 1), nf);
  EXPECT_THAT(m->ForkSession("nope").status(), nf);
  EXPECT_THAT(m->Truncate("nope", 0), nf);
  EXPECT_THAT(m->DeleteSession("nope"), nf);
  EXPECT_THAT(m->Offload("nope").status(), nf);
  EXPECT_THAT(m->Restore("nope").status(), nf);
  EXPECT_THAT(m->DropForRecompute("nope"), nf);
  EXPECT_THAT(m->PinSession("nope"), nf);
  EXPECT_THAT(m->UnpinSession("nope"), nf);
  EXPECT_THAT(m->GetSession("nope").status(), nf);
  EXPECT_THAT(m->BlockTable("nope").status(), nf);
  EXPECT_THAT(m->Tokens("nope").status(), nf);
  EXPECT_THAT(m->BlocksNeededForAppend("nope", 1).status(), nf);
  EXPECT_THAT(m->BlocksNeededForRestore("nope").status(), nf);
}

TEST_F(KvCacheManagerTest, AppendPlansSlotsAndCommitMakesItIdle) {
  auto m = Make(8);
  auto id = m->CreateSession();
  ASSERT_TRUE(id.ok());
  auto plan = m->Append(*id, Seq(6));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->first_position, 0);
  EXPECT_EQ(plan->cached_tokens, 0);
  EXPECT_THAT(plan->copies, IsEmpty());
  auto table = m->BlockTable(*id);
  ASSERT_TRUE(table.ok());
  ASSERT_EQ(table->size(), 2u);
  const int64_t b0 = (*table)[0], b1 = (*table)[1];
  EXPECT_THAT(plan->slots, ElementsAre(b0 * 4, b0 * 4 + 1, b0 * 4 + 2, b0 * 4 + 3, b1 * 4, b1 * 4 + 1));
  EXPECT_EQ(m->GetSession(*id)->state, SessionState::kRunning);
  EXPECT_INVARIANTS(*m);

  ASSERT_TRUE(m->Commit(*id, 6).ok());
  auto info = m->GetSession(*id);
  EXPECT_EQ(info->state, SessionState::kIdle);
  EXPECT_EQ(info->num_tokens, 6);
  EXPECT_EQ(info->device_blocks, 2);
  EXPECT_EQ(info->shared_blocks, 1);  // the whole block is in the tree now
  EXPECT_EQ(m->Stats().tree.cached_blocks, 1);
  EXPECT_INVARIANTS(*m);

  // Decode: one token at a time continues the partial block.
  auto step = m->Append(*id, {42});
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(step->first_position, 6);
  EXPECT_THAT(step->slots, ElementsAre(b1 * 4 + 2));
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCacheManagerTest, CommitInChunksAndPastTheEnd) {
  auto m = Make(8);
  auto id = *m->CreateSession();
  ASSERT_TRUE(m->Append(id, Seq(10)).ok());
  ASSERT_TRUE(m->Commit(id, 3).ok());
  EXPECT_EQ(m->Stats().tree.cached_blocks, 0);
  ASSERT_TRUE(m->Commit(id, 5).ok());
  EXPECT_EQ(m->Stats().tree.cached_blocks, 2);
  EXPECT_THAT(m->Commit(id, 3), StatusIs(absl::StatusCode::kOutOfRange, "2 are pending"));
  EXPECT_THAT(m->Commit(id, -1), StatusIs(absl::StatusCode::kOutOfRange, "cannot commit -1"));
  EXPECT_TRUE(m->Commit(id, 0).ok());
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCacheManagerTest, AppendRejectsNegativeTokens) {
  auto m = Make(8);
  auto id = *m->CreateSession();
  EXPECT_THAT(m->Append(id, {1, -3}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "token id -3 at index 1"));
  EXPECT_EQ(m->GetSession(id)->num_tokens, 0);
}

TEST_F(KvCacheManagerTest, EmptyAppendIsANoOp) {
  auto m = Make(8);
  auto id = *m->CreateSession();
  auto plan = m->Append(id, {});
  ASSERT_TRUE(plan.ok());
  EXPECT_THAT(plan->slots, IsEmpty());
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCacheManagerTest, PrefixIsReusedButTheLastTokenIsAlwaysComputed) {
  auto m = Make(16);
  const auto prompt = Seq(12);
  const std::string a = Prefilled(*m, prompt);
  // Same 12 tokens: 3 whole blocks are cached, but only 2 are reused so that the
  // last token is recomputed and yields logits.
  auto b = *m->CreateSession();
  auto plan = m->Append(b, prompt);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->cached_tokens, 8);
  EXPECT_EQ(plan->first_position, 8);
  EXPECT_EQ(plan->slots.size(), 4u);
  auto ta = *m->BlockTable(a);
  auto tb = *m->BlockTable(b);
  EXPECT_EQ(ta[0], tb[0]);
  EXPECT_EQ(ta[1], tb[1]);
  EXPECT_NE(ta[2], tb[2]);
  EXPECT_EQ(m->GetSession(b)->cached_tokens, 8);
  EXPECT_EQ(m->GetSession(b)->num_computed, 8);
  EXPECT_EQ(m->PeekCachedTokens(prompt), 8);
  EXPECT_EQ(m->PeekCachedTokens(Concat(prompt, {99})), 12);
  EXPECT_INVARIANTS(*m);
  // When b commits, its third block duplicates a's: b switches to the cached one.
  ASSERT_TRUE(m->Commit(b, 4).ok());
  EXPECT_EQ((*m->BlockTable(b))[2], ta[2]);
  EXPECT_EQ(m->Stats().device_free, 16 - 3);
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCacheManagerTest, MultiTurnContinuationHitsTheTree) {
  auto m = Make(16);
  const std::string a = Prefilled(*m, Seq(16));
  const std::string b = Prefilled(*m, Seq(8));  // reuses 1 block (the 2nd is recomputed)
  EXPECT_EQ(m->GetSession(b)->cached_tokens, 4);
  // b continues with a's tokens: from its locked node the tree still has them.
  auto plan = m->Append(b, Seq(8, 9));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->cached_tokens, 4);
  EXPECT_EQ(plan->first_position, 12);
  EXPECT_EQ(m->GetSession(b)->cached_tokens, 8);
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCacheManagerTest, DeviceExhaustedIsAnErrorThatChangesNothing) {
  auto m = Make(2);
  auto id = *m->CreateSession();
  EXPECT_THAT(m->Append(id, Seq(9)).status(),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "device KV pool exhausted: appending 9 tokens to session 's0' needs 3 blocks, "
                       "2 free + 0 evictable of 2"));
  EXPECT_EQ(m->GetSession(id)->num_tokens, 0);
  EXPECT_EQ(m->Stats().device_free, 2);
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCacheManagerTest, AppendEvictsCachedBlocksWhenShort) {
  auto m = Make(4);
  const std::string a = Prefilled(*m, Seq(16));
  ASSERT_TRUE(m->DeleteSession(a).ok());
  EXPECT_EQ(m->Stats().device_free, 0);
  EXPECT_EQ(m->Stats().tree.evictable_blocks, 4);
  EXPECT_EQ(m->AvailableBlocks(), 4);
  const std::string b = Prefilled(*m, Seq(8, 100));
  EXPECT_EQ(m->Stats().tree.evicted_blocks, 2);
  EXPECT_EQ(m->GetSession(b)->device_blocks, 2);
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCacheManagerTest, QuotaLimitsASession) {
  KvCacheOptions o;
  o.block_size = 4;
  o.num_device_blocks = 16;
  o.default_session_max_blocks = 2;
  auto m = Make(o);
  auto id = *m->CreateSession();
  ASSERT_TRUE(m->Append(id, Seq(8)).ok());
  EXPECT_THAT(m->Append(id, {1}).status(),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "session 's0' would hold 3 blocks (9 tokens); its quota is 2 blocks"));
  SessionOptions big;
  big.max_blocks = 3;
  auto other = *m->CreateSession(big);
  EXPECT_TRUE(m->Append(other, Seq(12)).ok());
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCacheManagerTest, ForkSharesBlocksAndCopiesThePartialOneOnWrite) {
  auto m = Make(16);
  const std::string a = Prefilled(*m, Seq(6));
  auto b = m->ForkSession(a);
  ASSERT_TRUE(b.ok());
  EXPECT_THAT(*m->Tokens(*b), ElementsAre(1, 2, 3, 4, 5, 6));
  auto ta = *m->BlockTable(a);
  EXPECT_THAT(*m->BlockTable(*b), ElementsAre(ta[0], ta[1]));
  EXPECT_EQ(m->GetSession(*b)->shared_blocks, 2);
  EXPECT_EQ(m->GetSession(*b)->state, SessionState::kIdle);
  EXPECT_INVARIANTS(*m);

  const BlockId partial = ta[1];
  auto plan = m->Append(*b, {7});
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->copies.size(), 1u);
  EXPECT_EQ(plan->copies[0].src, partial);
  const BlockId copy = plan->copies[0].dst;
  EXPECT_NE(copy, partial);
  EXPECT_THAT(*m->BlockTable(*b), ElementsAre(ta[0], copy));
  EXPECT_THAT(plan->slots, ElementsAre(static_cast<int64_t>(copy) * 4 + 2));
  // The parent's block is now private again: its next write needs no copy.
  auto plan_a = m->Append(a, {8});
  ASSERT_TRUE(plan_a.ok());
  EXPECT_THAT(plan_a->copies, IsEmpty());
  EXPECT_THAT(plan_a->slots, ElementsAre(static_cast<int64_t>(partial) * 4 + 2));
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCacheManagerTest, ForkOfABlockAlignedSessionNeedsNoCopy) {
  auto m = Make(16);
  const std::string a = Prefilled(*m, Seq(8));
  auto b = *m->ForkSession(a);
  auto plan = m->Append(b, {9});
  ASSERT_TRUE(plan.ok());
  EXPECT_THAT(plan->copies, IsEmpty());
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCacheManagerTest, ForkErrors) {
  auto m = Make(16, 16);
  auto running = *m->CreateSession();
  ASSERT_TRUE(m->Append(running, Seq(5)).ok());
  EXPECT_THAT(m->ForkSession(running).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "cannot fork session 's0': 5 of its tokens have no committed KV yet"));
  const std::string idle = Prefilled(*m, Seq(5, 50));
  ASSERT_TRUE(m->Offload(idle).ok());
  EXPECT_THAT(m->ForkSession(idle).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "it is swapped out to host memory; restore it first"));
}

TEST_F(KvCacheManagerTest, ForkOfAForkSharesThePrefix) {
  auto m = Make(32);
  const std::string a = Prefilled(*m, Seq(10));
  auto b = *m->ForkSession(a);
  auto c = *m->ForkSession(b);
  ASSERT_TRUE(m->Append(c, Seq(6, 100)).ok());
  ASSERT_TRUE(m->Commit(c, 6).ok());
  ASSERT_TRUE(m->DeleteSession(a).ok());
  ASSERT_TRUE(m->DeleteSession(b).ok());
  EXPECT_EQ(m->GetSession(c)->num_tokens, 16);
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCacheManagerTest, TruncateReleasesBlocks) {
  auto m = Make(16);
  const std::string a = Prefilled(*m, Seq(14));
  ASSERT_TRUE(m->Truncate(a, 5).ok());
  auto info = m->GetSession(a);
  EXPECT_EQ(info->num_tokens, 5);
  EXPECT_EQ(info->device_blocks, 2);
  EXPECT_EQ(info->num_computed, 5);
  EXPECT_THAT(*m->Tokens(a), ElementsAre(1, 2, 3, 4, 5));
  EXPECT_INVARIANTS(*m);
  // The kept partial block is a cached block: writing into it copies it first, so
  // the tree's copy of tokens 5..8 stays intact.
  auto plan = m->Append(a, {77});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->copies.size(), 1u);
  EXPECT_INVARIANTS(*m);
  ASSERT_TRUE(m->Commit(a, 1).ok());
  EXPECT_EQ(m->PeekCachedTokens(Concat(Seq(8), {0})), 8);
  ASSERT_TRUE(m->Truncate(a, 0).ok());
  EXPECT_EQ(m->GetSession(a)->device_blocks, 0);
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCacheManagerTest, TruncateRunningSessionDropsPendingTokens) {
  auto m = Make(16);
  const std::string a = Prefilled(*m, Seq(6));
  ASSERT_TRUE(m->Append(a, Seq(5, 10)).ok());
  ASSERT_TRUE(m->Truncate(a, 6).ok());  // e.g. a cancelled step
  EXPECT_EQ(m->GetSession(a)->state, SessionState::kIdle);
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCacheManagerTest, TruncatePastTheEndIsOutOfRange) {
  auto m = Make(16);
  const std::string a = Prefilled(*m, Seq(6));
  EXPECT_THAT(m->Truncate(a, 7), StatusIs(absl::StatusCode::kOutOfRange,
                                          "cannot truncate session 's0' to 7 tokens: it holds 6"));
  EXPECT_THAT(m->Truncate(a, -1), StatusIs(absl::StatusCode::kOutOfRange, "to -1 tokens"));
  EXPECT_TRUE(m->Truncate(a, 6).ok());
}

TEST_F(KvCacheManagerTest, DeleteLeavesWholeBlocksInTheTree) {
  auto m = Make(16);
  const std::string a = Prefilled(*m, Seq(10));
  ASSERT_TRUE(m->DeleteSession(a).ok());
  EXPECT_THAT(m->GetSession(a).status(), StatusIs(absl::StatusCode::kNotFound, "not found"));
  EXPECT_EQ(m->Stats().tree.cached_blocks, 2);
  EXPECT_EQ(m->Stats().tree.evictable_blocks, 2);
  EXPECT_EQ(m->Stats().device_free, 14);
  EXPECT_EQ(m->PeekCachedTokens(Seq(12)), 8);
  EXPECT_INVARIANTS(*m);
  EXPECT_EQ(m->ClearPrefixCache(), 2);
  EXPECT_EQ(m->Stats().device_free, 16);
}

TEST_F(KvCacheManagerTest, DeleteOfRunningSessionReleasesUncommittedBlocks) {
  auto m = Make(16);
  auto id = *m->CreateSession();
  ASSERT_TRUE(m->Append(id, Seq(10)).ok());
  ASSERT_TRUE(m->DeleteSession(id).ok());
  EXPECT_EQ(m->Stats().device_free, 16);
  EXPECT_EQ(m->Stats().tree.cached_blocks, 0);
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCacheManagerTest, ListSessionsIsSortedAndStatsAddUp) {
  auto m = Make(16);
  Prefilled(*m, Seq(4));
  now_ += absl::Seconds(5);
  Prefilled(*m, Seq(4));
  auto list = m->ListSessions();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].id, "s0");
  EXPECT_EQ(list[1].id, "s1");
  EXPECT_EQ(list[1].created - list[0].created, absl::Seconds(5));
  EXPECT_EQ(m->Stats().num_sessions, 2);
  EXPECT_EQ(m->Stats().tree.queries, 2);
}

}  // namespace
}  // namespace radixserve::cache

namespace radixserve::cache {
namespace {

TEST(SessionStateTest, Names) {
  EXPECT_STREQ(SessionStateName(SessionState::kIdle), "idle");
  EXPECT_STREQ(SessionStateName(SessionState::kRunning), "running");
  EXPECT_STREQ(SessionStateName(SessionState::kSwapped), "swapped");
}

TEST_F(KvCacheManagerTest, LfuPolicyIsSelectable) {
  KvCacheOptions o;
  o.block_size = 4;
  o.num_device_blocks = 8;
  o.eviction_policy = EvictionPolicyKind::kLfu;
  auto m = Make(o);
  EXPECT_STREQ(m->tree().policy().name(), "lfu");
  const std::string a = Prefilled(*m, Seq(8));
  EXPECT_INVARIANTS(*m);
  (void)a;
}

TEST_F(KvCacheManagerTest, TreeStatsCountQueriesAndHits) {
  auto m = Make(16);
  Prefilled(*m, Seq(12));
  Prefilled(*m, Seq(12));
  const RadixTreeStats st = m->Stats().tree;
  EXPECT_EQ(st.queries, 2);
  EXPECT_EQ(st.hits, 1);
  EXPECT_EQ(st.queried_tokens, 22);  // 11 + 11: the last token is never queried
  EXPECT_EQ(st.hit_tokens, 8);
  EXPECT_EQ(st.cached_blocks, 3);
  EXPECT_EQ(st.evictable_blocks, 0);
}

}  // namespace
}  // namespace radixserve::cache
