// Host swap (offload / restore), drop-for-recompute, admission and preemption helpers.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "cache/kv_cache_manager.h"
#include "tests/cache/test_util.h"

namespace radixserve::cache {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::CacheTest;
using testing::Concat;
using testing::Seq;

using KvCacheSwapTest = CacheTest;

MATCHER_P2(StatusIs, code, substr, "") {
  return arg.code() == code && std::string(arg.message()).find(substr) != std::string::npos;
}

TEST_F(KvCacheSwapTest, OffloadCopiesEveryBlockOutAndFreesTheDevice) {
  auto m = Make(8, 8);
  const std::string a = Prefilled(*m, Seq(6, 100));
  const auto table = std::vector<BlockId>((*m->BlockTable(a)).begin(), (*m->BlockTable(a)).end());
  auto pairs = m->Offload(a);
  ASSERT_TRUE(pairs.ok()) << pairs.status();
  ASSERT_EQ(pairs->size(), 2u);
  EXPECT_EQ((*pairs)[0].device, table[0]);
  EXPECT_EQ((*pairs)[1].device, table[1]);
  auto info = *m->GetSession(a);
  EXPECT_EQ(info.state, SessionState::kSwapped);
  EXPECT_EQ(info.device_blocks, 0);
  EXPECT_EQ(info.host_blocks, 2);
  EXPECT_EQ(info.num_tokens, 6);
  EXPECT_EQ(m->Stats().host_free, 6);
  EXPECT_EQ(m->Stats().swapped_sessions, 1);
  EXPECT_INVARIANTS(*m);
  // The whole block stays cached in the tree; only the partial one was freed.
  EXPECT_EQ(m->Stats().device_free, 7);
  EXPECT_THAT(m->Append(a, {1}).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, "swapped out; restore it first"));
}

TEST_F(KvCacheSwapTest, RestoreReusesCachedBlocksAndSwapsInTheRest) {
  auto m = Make(8, 8);
  const std::string a = Prefilled(*m, Seq(6, 100));
  auto out = *m->Offload(a);
  auto restored = m->Restore(a);
  ASSERT_TRUE(restored.ok()) << restored.status();
  // Block 0 was still cached: no copy needed. Block 1 comes back from the host.
  EXPECT_EQ(restored->cached_tokens, 4);
  ASSERT_EQ(restored->swap_in.size(), 1u);
  EXPECT_EQ(restored->swap_in[0].host, out[1].host);
  EXPECT_THAT(restored->recompute.slots, IsEmpty());
  auto info = *m->GetSession(a);
  EXPECT_EQ(info.state, SessionState::kIdle);
  EXPECT_EQ(info.host_blocks, 0);
  EXPECT_EQ(info.device_blocks, 2);
  EXPECT_EQ(m->Stats().host_free, 8);
  EXPECT_THAT(*m->Tokens(a), ElementsAre(100, 101, 102, 103, 104, 105));
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCacheSwapTest, RestoreAfterEvictionSwapsEverythingIn) {
  auto m = Make(4, 8);
  const std::string a = Prefilled(*m, Seq(8, 100));
  ASSERT_TRUE(m->Offload(a).ok());
  EXPECT_EQ(m->ClearPrefixCache(), 2);
  auto restored = m->Restore(a);
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(restored->cached_tokens, 0);
  EXPECT_EQ(restored->swap_in.size(), 2u);
  EXPECT_EQ(m->Stats().tree.cached_blocks, 2);  // swapped-in whole blocks are cached again
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCacheSwapTest, HostPoolExhaustedChangesNothing) {
  auto m = Make(8, 1);
  const std::string a = Prefilled(*m, Seq(6));
  EXPECT_THAT(m->Offload(a).status(),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "host swap pool exhausted: offloading session 's0' needs 2 blocks, 1 free of 1"));
  EXPECT_EQ(m->GetSession(a)->state, SessionState::kIdle);
  EXPECT_EQ(m->GetSession(a)->device_blocks, 2);
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCacheSwapTest, RestoreWithoutDeviceRoomChangesNothing) {
  auto m = Make(2, 4);
  const std::string a = Prefilled(*m, Seq(8, 100));
  ASSERT_TRUE(m->Offload(a).ok());
  const std::string b = Prefilled(*m, Seq(8, 200));  // evicts a's cached blocks
  EXPECT_THAT(m->Restore(a).status(),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "restoring session 's0' needs 2 blocks, 0 free + 0 evictable"));
  EXPECT_EQ(m->GetSession(a)->state, SessionState::kSwapped);
  EXPECT_EQ(m->GetSession(a)->host_blocks, 2);
  EXPECT_INVARIANTS(*m);
  ASSERT_TRUE(m->DeleteSession(b).ok());
  EXPECT_TRUE(m->Restore(a).ok());  // b's cached blocks are evicted to make room
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCacheSwapTest, OffloadAndRestoreStateErrors) {
  auto m = Make(8, 8);
  const std::string a = Prefilled(*m, Seq(6));
  EXPECT_THAT(m->Restore(a).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, "it is not swapped out"));
  ASSERT_TRUE(m->Append(a, {9}).ok());
  EXPECT_THAT(m->Offload(a).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, "1 of its tokens have no committed KV"));
  ASSERT_TRUE(m->Commit(a, 1).ok());
  ASSERT_TRUE(m->PinSession(a).ok());
  EXPECT_THAT(m->Offload(a).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, "it is pinned; unpin it first"));
  EXPECT_THAT(m->DropForRecompute(a),
              StatusIs(absl::StatusCode::kFailedPrecondition, "it is pinned; unpin it first"));
  ASSERT_TRUE(m->UnpinSession(a).ok());
  ASSERT_TRUE(m->Offload(a).ok());
  EXPECT_THAT(m->Offload(a).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, "already swapped out"));
  EXPECT_THAT(m->DropForRecompute(a),
              StatusIs(absl::StatusCode::kFailedPrecondition, "already swapped out"));
  EXPECT_THAT(m->PinSession(a),
              StatusIs(absl::StatusCode::kFailedPrecondition, "swapped out; restore it first"));
  EXPECT_THAT(m->Commit(a, 0),
              StatusIs(absl::StatusCode::kFailedPrecondition, "cannot commit to session 's0'"));
  EXPECT_THAT(m->BlocksNeededForAppend(a, 1).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, "swapped out"));
}

TEST_F(KvCacheSwapTest, TruncateAndDeleteOfASwappedSessionReleaseHostBlocks) {
  auto m = Make(8, 8);
  const std::string a = Prefilled(*m, Seq(10));
  ASSERT_TRUE(m->Offload(a).ok());
  ASSERT_TRUE(m->Truncate(a, 4).ok());
  EXPECT_EQ(m->GetSession(a)->host_blocks, 1);
  EXPECT_EQ(m->Stats().host_free, 7);
  EXPECT_INVARIANTS(*m);
  ASSERT_TRUE(m->DeleteSession(a).ok());
  EXPECT_EQ(m->Stats().host_free, 8);
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCacheSwapTest, DropForRecomputeThenRestorePlansTheRecompute) {
  auto m = Make(8, 0);
  const std::string a = Prefilled(*m, Seq(10));
  ASSERT_TRUE(m->DropForRecompute(a).ok());
  auto info = *m->GetSession(a);
  EXPECT_EQ(info.state, SessionState::kSwapped);
  EXPECT_EQ(info.num_tokens, 10);
  EXPECT_EQ(info.host_blocks, 0);
  EXPECT_EQ(m->Stats().device_free, 6);  // the 2 whole blocks stay cached
  EXPECT_INVARIANTS(*m);
  EXPECT_EQ(*m->BlocksNeededForRestore(a), 3);

  auto r = m->Restore(a);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->swap_in, IsEmpty());
  EXPECT_EQ(r->cached_tokens, 8);
  EXPECT_EQ(r->recompute.first_position, 8);
  EXPECT_EQ(r->recompute.slots.size(), 2u);
  EXPECT_EQ(m->GetSession(a)->state, SessionState::kRunning);
  ASSERT_TRUE(m->Commit(a, 2).ok());
  EXPECT_EQ(m->GetSession(a)->state, SessionState::kIdle);
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCacheSwapTest, DropOfARunningSessionDiscardsPendingWork) {
  auto m = Make(8, 0);
  auto id = *m->CreateSession();
  ASSERT_TRUE(m->Append(id, Seq(7)).ok());
  ASSERT_TRUE(m->DropForRecompute(id).ok());
  EXPECT_EQ(m->Stats().device_free, 8);
  auto r = m->Restore(id);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->recompute.first_position, 0);
  EXPECT_EQ(r->recompute.slots.size(), 7u);
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCacheSwapTest, AdmissionHelpers) {
  auto m = Make(8, 8);
  const std::string a = Prefilled(*m, Seq(6));
  EXPECT_EQ(*m->BlocksNeededForAppend(a, 1), 0);
  EXPECT_EQ(*m->BlocksNeededForAppend(a, 3), 1);
  EXPECT_EQ(*m->BlocksNeededForAppend(a, 0), 0);
  auto b = *m->ForkSession(a);
  EXPECT_EQ(*m->BlocksNeededForAppend(b, 1), 1);  // the shared partial block is copied
  EXPECT_EQ(m->BlocksNeededForPrompt(Seq(6)), 1);  // first block cached
  EXPECT_EQ(m->BlocksNeededForPrompt(Seq(6, 50)), 2);
  EXPECT_EQ(m->BlocksNeededForPrompt({}), 0);
  EXPECT_EQ(m->AvailableBlocks(), 6);
  EXPECT_TRUE(m->FitsAfterEviction(6));
  EXPECT_FALSE(m->FitsAfterEviction(7));
}

TEST_F(KvCacheSwapTest, PlanPreemptionPicksLeastRecentlyUsedAndSwapsWhenHostHasRoom) {
  auto m = Make(8, 2);
  const std::string old_one = Prefilled(*m, Seq(8, 100));   // 2 blocks
  now_ += absl::Seconds(1);
  const std::string newer = Prefilled(*m, Seq(8, 200));     // 2 blocks
  now_ += absl::Seconds(1);
  const std::string newest = Prefilled(*m, Seq(8, 300));    // 2 blocks
  EXPECT_EQ(m->AvailableBlocks(), 2);
  auto none = m->PlanPreemption(2, {});
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(*none, IsEmpty());

  auto plan = m->PlanPreemption(5, {});
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->size(), 2u);
  EXPECT_EQ((*plan)[0].session_id, old_one);
  EXPECT_EQ((*plan)[0].action, PreemptAction::kSwap);
  EXPECT_EQ((*plan)[0].blocks_released, 2);
  EXPECT_EQ((*plan)[1].session_id, newer);
  EXPECT_EQ((*plan)[1].action, PreemptAction::kRecompute);  // host is full by then

  std::vector<std::string> keep = {old_one};
  auto plan2 = m->PlanPreemption(4, keep);
  ASSERT_TRUE(plan2.ok());
  EXPECT_EQ((*plan2)[0].session_id, newer);

  ASSERT_TRUE(m->PinSession(newer).ok());
  ASSERT_TRUE(m->PinSession(newest).ok());
  EXPECT_THAT(m->PlanPreemption(5, keep).status(),
              StatusIs(absl::StatusCode::kResourceExhausted, "cannot make room for 5 blocks"));
}

TEST_F(KvCacheSwapTest, PreemptionDoesNotCountBlocksOthersStillUse) {
  auto m = Make(8, 8);
  const std::string a = Prefilled(*m, Seq(8));
  const std::string b = *m->ForkSession(a);
  auto plan = m->PlanPreemption(9, {});
  EXPECT_FALSE(plan.ok());  // preempting either frees nothing the other does not hold
  EXPECT_EQ(m->AvailableBlocks(), 6);
  (void)b;
}

TEST_F(KvCacheSwapTest, FollowingThePlanMakesRoom) {
  auto m = Make(6, 6);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(Prefilled(*m, Seq(8, 100 * (i + 1))));
    now_ += absl::Seconds(1);
  }
  auto plan = m->PlanPreemption(4, {});
  ASSERT_TRUE(plan.ok());
  for (const Preemption& p : *plan) {
    if (p.action == PreemptAction::kSwap) {
      ASSERT_TRUE(m->Offload(p.session_id).ok());
    } else {
      ASSERT_TRUE(m->DropForRecompute(p.session_id).ok());
    }
  }
  EXPECT_GE(m->AvailableBlocks(), 4);
  auto c = *m->CreateSession();
  EXPECT_TRUE(m->Append(c, Seq(16, 900)).ok());
  EXPECT_INVARIANTS(*m);
}

}  // namespace
}  // namespace radixserve::cache
