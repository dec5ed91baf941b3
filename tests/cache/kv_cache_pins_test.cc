// Pins (sessions and prefixes), the pin cap, expiry, cache clearing.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "cache/kv_cache_manager.h"
#include "tests/cache/test_util.h"

namespace radixserve::cache {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::CacheTest;
using testing::Seq;

using KvCachePinsTest = CacheTest;

MATCHER_P2(StatusIs, code, substr, "") {
  return arg.code() == code && std::string(arg.message()).find(substr) != std::string::npos;
}


TEST_F(KvCachePinsTest, PinnedSessionsCountAgainstTheCap) {
  KvCacheOptions o;
  o.block_size = 4;
  o.num_device_blocks = 16;
  o.max_pinned_blocks = 3;
  auto m = Make(o);
  const std::string a = Prefilled(*m, Seq(8));
  const std::string b = Prefilled(*m, Seq(8, 50));
  ASSERT_TRUE(m->PinSession(a).ok());
  EXPECT_TRUE(m->PinSession(a).ok());  // idempotent
  EXPECT_EQ(m->PinnedBlocks(), 2);
  EXPECT_TRUE(m->GetSession(a)->pinned);
  EXPECT_THAT(m->PinSession(b), StatusIs(absl::StatusCode::kResourceExhausted,
                                         "pinning session 's1' (2 blocks) would pin 4 blocks; "
                                         "the pin cap is 3"));
  ASSERT_TRUE(m->Append(a, {1}).ok());  // 3 blocks: at the cap
  EXPECT_THAT(m->Append(a, Seq(4)).status(),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "pinned session 's0' would grow the pinned blocks to 4; the pin cap is 3"));
  ASSERT_TRUE(m->UnpinSession(a).ok());
  EXPECT_THAT(m->UnpinSession(a), StatusIs(absl::StatusCode::kFailedPrecondition, "is not pinned"));
  EXPECT_EQ(m->PinnedBlocks(), 0);
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCachePinsTest, PinnedPrefixSurvivesClearAndEviction) {
  auto m = Make(8);
  const std::string a = Prefilled(*m, Seq(12));
  ASSERT_TRUE(m->DeleteSession(a).ok());
  auto pin = m->PinPrefix(Seq(10));  // 2 whole blocks
  ASSERT_TRUE(pin.ok()) << pin.status();
  EXPECT_EQ(m->PinnedBlocks(), 2);
  EXPECT_EQ(m->Stats().pinned_prefixes, 1);
  EXPECT_INVARIANTS(*m);
  EXPECT_EQ(m->ClearPrefixCache(), 1);  // only the unpinned third block
  EXPECT_EQ(m->PeekCachedTokens(Seq(12)), 8);
  auto other = *m->CreateSession();
  EXPECT_THAT(m->Append(other, Seq(32, 500)).status(),
              StatusIs(absl::StatusCode::kResourceExhausted, "device KV pool exhausted"));
  ASSERT_TRUE(m->UnpinPrefix(*pin).ok());
  EXPECT_THAT(m->UnpinPrefix(*pin), StatusIs(absl::StatusCode::kNotFound, "prefix pin 1 not found"));
  EXPECT_TRUE(m->Append(other, Seq(32, 500)).ok());
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCachePinsTest, PinPrefixErrors) {
  KvCacheOptions o;
  o.block_size = 4;
  o.num_device_blocks = 16;
  o.max_pinned_blocks = 1;
  auto m = Make(o);
  Prefilled(*m, Seq(12));
  EXPECT_THAT(m->PinPrefix(Seq(3)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "at least one whole block (4 tokens)"));
  EXPECT_THAT(m->PinPrefix(Seq(16)).status(),
              StatusIs(absl::StatusCode::kNotFound, "only 12 of the 16 prefix tokens are cached"));
  EXPECT_THAT(m->PinPrefix(Seq(8)).status(),
              StatusIs(absl::StatusCode::kResourceExhausted, "the pin cap is 1"));
  EXPECT_TRUE(m->PinPrefix(Seq(4)).ok());
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCachePinsTest, IdleTimeoutAndTtlExpireSessions) {
  auto m = Make(16);
  SessionOptions idle;
  idle.idle_timeout = absl::Seconds(10);
  SessionOptions ttl;
  ttl.ttl = absl::Seconds(30);
  auto a = *m->CreateSession(idle);
  auto b = *m->CreateSession(ttl);
  auto c = *m->CreateSession();
  ASSERT_TRUE(m->Append(a, Seq(6)).ok());
  ASSERT_TRUE(m->Commit(a, 6).ok());
  now_ += absl::Seconds(9);
  EXPECT_THAT(m->ExpireSessions(), IsEmpty());
  now_ += absl::Seconds(1);
  EXPECT_THAT(m->ExpireSessions(), ElementsAre(a));
  EXPECT_EQ(m->Stats().tree.cached_blocks, 1);  // its whole block stays cached
  now_ += absl::Seconds(20);
  ASSERT_TRUE(m->Append(b, Seq(2)).ok());  // running: not expired mid-step
  EXPECT_THAT(m->ExpireSessions(), IsEmpty());
  ASSERT_TRUE(m->Commit(b, 2).ok());
  EXPECT_THAT(m->ExpireSessions(), ElementsAre(b));
  EXPECT_TRUE(m->GetSession(c).ok());
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCachePinsTest, PinnedSessionsDoNotIdleOut) {
  auto m = Make(16);
  SessionOptions idle;
  idle.idle_timeout = absl::Seconds(1);
  auto a = *m->CreateSession(idle);
  ASSERT_TRUE(m->PinSession(a).ok());
  now_ += absl::Hours(1);
  EXPECT_THAT(m->ExpireSessions(), IsEmpty());
  ASSERT_TRUE(m->UnpinSession(a).ok());
  now_ += absl::Seconds(1);
  EXPECT_THAT(m->ExpireSessions(), ElementsAre(a));
}

TEST_F(KvCachePinsTest, EvictCachedBlocksTakesLeafTailsFirst) {
  auto m = Make(16);
  const std::string a = Prefilled(*m, Seq(16));
  ASSERT_TRUE(m->DeleteSession(a).ok());
  EXPECT_EQ(m->EvictCachedBlocks(1), 1);
  EXPECT_EQ(m->PeekCachedTokens(Seq(17)), 12);
  EXPECT_EQ(m->Stats().tree.evicted_blocks, 1);
  EXPECT_INVARIANTS(*m);
}

TEST_F(KvCachePinsTest, DeletingAPinnedSessionUnpinsIt) {
  auto m = Make(16);
  const std::string a = Prefilled(*m, Seq(6));
  ASSERT_TRUE(m->PinSession(a).ok());
  ASSERT_TRUE(m->DeleteSession(a).ok());
  EXPECT_EQ(m->PinnedBlocks(), 0);
  EXPECT_INVARIANTS(*m);
}

}  // namespace
}  // namespace radixserve::cache
