#include "cache/block_pool.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace radixserve::cache {
namespace {

using ::testing::ElementsAre;

TEST(BlockPoolTest, AllocatesInOrderAndCountsFree) {
  BlockPool pool("device", 4);
  EXPECT_EQ(pool.num_free(), 4);
  std::vector<BlockId> got;
  ASSERT_TRUE(pool.Allocate(3, &got));
  EXPECT_THAT(got, ElementsAre(0, 1, 2));
  EXPECT_EQ(pool.num_free(), 1);
  EXPECT_EQ(pool.num_used(), 3);
  for (BlockId b : got) EXPECT_EQ(pool.RefCount(b), 1);
  EXPECT_TRUE(pool.CheckConsistency().ok());
}

TEST(BlockPoolTest, NotEnoughBlocksIsANormalAnswerAndChangesNothing) {
  BlockPool pool("device", 2);
  std::vector<BlockId> got;
  EXPECT_FALSE(pool.Allocate(3, &got));
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(pool.num_free(), 2);
  EXPECT_FALSE(pool.Allocate(-1, &got));
  EXPECT_TRUE(pool.Allocate(0, &got));
  EXPECT_TRUE(pool.CheckConsistency().ok());
}

TEST(BlockPoolTest, FreeListIsLeastRecentlyFreedFirst) {
  BlockPool pool("device", 4);
  std::vector<BlockId> got;
  ASSERT_TRUE(pool.Allocate(4, &got));
  EXPECT_TRUE(pool.DecRef(2));
  EXPECT_TRUE(pool.DecRef(0));
  EXPECT_TRUE(pool.DecRef(3));
  EXPECT_THAT(pool.FreeListForTesting(), ElementsAre(2, 0, 3));
  std::vector<BlockId> again;
  ASSERT_TRUE(pool.Allocate(2, &again));
  EXPECT_THAT(again, ElementsAre(2, 0));
  EXPECT_THAT(pool.FreeListForTesting(), ElementsAre(3));
  EXPECT_TRUE(pool.CheckConsistency().ok());
}

TEST(BlockPoolTest, SharedBlockIsFreedByTheLastReference) {
  BlockPool pool("device", 2);
  std::vector<BlockId> got;
  ASSERT_TRUE(pool.Allocate(1, &got));
  pool.IncRef(got[0]);
  pool.IncRef(got[0]);
  EXPECT_EQ(pool.RefCount(got[0]), 3);
  EXPECT_FALSE(pool.DecRef(got[0]));
  EXPECT_FALSE(pool.DecRef(got[0]));
  EXPECT_FALSE(pool.IsFree(got[0]));
  EXPECT_TRUE(pool.DecRef(got[0]));
  EXPECT_TRUE(pool.IsFree(got[0]));
  EXPECT_EQ(pool.num_free(), 2);
}

TEST(BlockPoolTest, CheckRefCountsNamesTheBlock) {
  BlockPool pool("host", 3);
  std::vector<BlockId> got;
  ASSERT_TRUE(pool.Allocate(2, &got));
  EXPECT_TRUE(pool.CheckRefCounts({1, 1, 0}).ok());
  absl::Status s = pool.CheckRefCounts({1, 2, 0});
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("host block 1 has refcount 1 but 2"));
}

TEST(BlockPoolTest, EmptyPool) {
  BlockPool pool("host", 0);
  std::vector<BlockId> got;
  EXPECT_FALSE(pool.Allocate(1, &got));
  EXPECT_TRUE(pool.Allocate(0, &got));
  EXPECT_TRUE(pool.CheckConsistency().ok());
}

TEST(BlockPoolDeathTest, DecRefOfAFreeBlockIsAnInternalBug) {
  BlockPool pool("device", 1);
  EXPECT_DEATH(pool.DecRef(0), "cache invariant failed");
}

}  // namespace
}  // namespace radixserve::cache
