#include "cache/radix_tree.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cache/test_util.h"

namespace radixserve::cache {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::Concat;
using testing::Seq;

constexpr int kBs = 4;

class RadixTreeTest : public ::testing::Test {
 protected:
  RadixTreeTest() : pool_("device", 64), tree_(kBs, &pool_) {}

  // Allocates blocks for the whole blocks of `tokens`, inserts them, then drops the
  // caller's references (the tree keeps its own), as a finished sequence would.
  RadixTree::InsertResult InsertFresh(const std::vector<TokenId>& tokens) {
    std::vector<BlockId> blocks;
    EXPECT_TRUE(pool_.Allocate(static_cast<int32_t>(tokens.size()) / kBs, &blocks));
    auto r = tree_.Insert(tokens, blocks);
    for (BlockId b : blocks) pool_.DecRef(b);
    return r;
  }
  void ExpectConsistent(const absl::flat_hash_map<const RadixNode*, int32_t>& locks = {}) {
    std::vector<int32_t> refs(pool_.num_blocks(), 0);
    absl::Status s = tree_.CheckConsistency(locks, &refs);
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_TRUE(pool_.CheckRefCounts(refs).ok()) << pool_.CheckRefCounts(refs);
  }

  BlockPool pool_;
  RadixTree tree_;
};

TEST_F(RadixTreeTest, EmptyTreeMatchesNothing) {
  auto r = tree_.Match(Seq(12));
  EXPECT_EQ(r.node, tree_.root());
  EXPECT_THAT(r.blocks, IsEmpty());
  EXPECT_EQ(tree_.stats().queries, 1);
  EXPECT_EQ(tree_.stats().hits, 0);
  EXPECT_EQ(tree_.stats().queried_tokens, 12);
  ExpectConsistent();
}

TEST_F(RadixTreeTest, InsertThenMatchWholeBlocksOnly) {
  auto ins = InsertFresh(Seq(10));  // 2 whole blocks, 2 tokens ignored
  EXPECT_EQ(ins.num_new_blocks, 2);
  EXPECT_THAT(ins.blocks, ElementsAre(0, 1));
  EXPECT_EQ(tree_.stats().cached_blocks, 2);
  EXPECT_EQ(tree_.stats().evictable_blocks, 2);
  EXPECT_EQ(tree_.stats().num_nodes, 1);

  auto r = tree_.Match(Seq(9));
  EXPECT_THAT(r.blocks, ElementsAre(0, 1));
  EXPECT_EQ(r.node->depth_blocks, 2);
  EXPECT_EQ(tree_.stats().hit_tokens, 8);
  EXPECT_EQ(tree_.PeekMatchBlocks(Seq(7)), 1);
  EXPECT_EQ(tree_.PeekMatchBlocks(Seq(3)), 0);
  ExpectConsistent();
}

TEST_F(RadixTreeTest, MatchEndingInsideANodeSplitsIt) {
  InsertFresh(Seq(12));
  auto r = tree_.Match(Concat(Seq(4), Seq(8, 100)));  // first block only
  EXPECT_THAT(r.blocks, ElementsAre(0));
  EXPECT_EQ(r.node->depth_blocks, 1);
  EXPECT_EQ(tree_.stats().num_nodes, 2);
  ASSERT_EQ(r.node->children.size(), 1u);
  EXPECT_THAT(r.node->children.begin()->second->blocks, ElementsAre(1, 2));
  // Peek does not split.
  EXPECT_EQ(tree_.PeekMatchBlocks(Seq(8)), 2);
  EXPECT_EQ(tree_.stats().num_nodes, 2);
  ExpectConsistent();
}

TEST_F(RadixTreeTest, DivergingInsertBranchesAndDedupsTheSharedPrefix) {
  InsertFresh(Seq(12));
  std::vector<TokenId> other = Concat(Seq(8), Seq(4, 500));
  std::vector<BlockId> mine;
  ASSERT_TRUE(pool_.Allocate(3, &mine));  // 3, 4, 5
  auto r = tree_.Insert(other, mine);
  // The first two blocks were cached already: the tree reports its own.
  EXPECT_THAT(r.blocks, ElementsAre(0, 1, 5));
  EXPECT_EQ(r.num_new_blocks, 1);
  EXPECT_EQ(tree_.stats().num_nodes, 3);
  EXPECT_EQ(pool_.RefCount(5), 2);  // caller + tree
  EXPECT_EQ(pool_.RefCount(3), 1);  // duplicate, caller only
  for (BlockId b : mine) pool_.DecRef(b);
  ExpectConsistent();
}

TEST_F(RadixTreeTest, InsertIsIdempotent) {
  InsertFresh(Seq(8));
  auto again = InsertFresh(Seq(8));
  EXPECT_EQ(again.num_new_blocks, 0);
  EXPECT_THAT(again.blocks, ElementsAre(0, 1));
  EXPECT_EQ(tree_.stats().cached_blocks, 2);
  ExpectConsistent();
}

TEST_F(RadixTreeTest, MatchFromANodeContinuesBelowIt) {
  InsertFresh(Seq(12));
  auto first = tree_.Match(Seq(4));
  auto rest = tree_.Match(Seq(8, 5), first.node);
  EXPECT_THAT(rest.blocks, ElementsAre(1, 2));
  EXPECT_EQ(rest.node->depth_blocks, 3);
}

TEST_F(RadixTreeTest, LockedNodesAreNotEvicted) {
  InsertFresh(Seq(8));
  auto r = tree_.Match(Seq(8));
  tree_.Lock(r.node);
  EXPECT_EQ(tree_.stats().evictable_blocks, 0);
  EXPECT_EQ(tree_.Evict(10), 0);
  ExpectConsistent({{r.node, 1}});
  tree_.Unlock(r.node);
  EXPECT_EQ(tree_.stats().evictable_blocks, 2);
  EXPECT_EQ(tree_.Evict(10), 2);
  EXPECT_EQ(pool_.num_free(), 64);
  EXPECT_EQ(tree_.stats().num_nodes, 0);
  EXPECT_EQ(tree_.stats().evicted_blocks, 2);
  ExpectConsistent();
}

TEST_F(RadixTreeTest, LockingALeafProtectsItsAncestors) {
  InsertFresh(Seq(8));
  InsertFresh(Concat(Seq(4), Seq(4, 50)));  // splits: [1..4] -> {[5..8], [50..53]}
  auto leaf = tree_.Match(Seq(8));
  tree_.Lock(leaf.node);
  EXPECT_EQ(tree_.stats().evictable_blocks, 1);  // only the other leaf
  EXPECT_EQ(tree_.Evict(10), 1);
  EXPECT_EQ(tree_.stats().num_nodes, 2);
  ExpectConsistent({{leaf.node, 1}});
  tree_.Unlock(leaf.node);
  EXPECT_EQ(tree_.EvictAll(), 2);  // the leaf, then its parent once it became a leaf
  EXPECT_EQ(tree_.stats().num_nodes, 0);
}

TEST_F(RadixTreeTest, LruEvictsTheLeastRecentlyUsedLeafFirst) {
  InsertFresh(Seq(4, 10));
  InsertFresh(Seq(4, 20));
  InsertFresh(Seq(4, 30));
  tree_.Match(Seq(4, 10));  // 10 is now the most recent
  EXPECT_EQ(tree_.Evict(1), 1);
  EXPECT_EQ(tree_.PeekMatchBlocks(Seq(4, 20)), 0);
  EXPECT_EQ(tree_.PeekMatchBlocks(Seq(4, 10)), 1);
  EXPECT_EQ(tree_.Evict(1), 1);
  EXPECT_EQ(tree_.PeekMatchBlocks(Seq(4, 30)), 0);
  EXPECT_EQ(tree_.PeekMatchBlocks(Seq(4, 10)), 1);
  ExpectConsistent();
}

TEST_F(RadixTreeTest, LfuKeepsTheHotPrefix) {
  BlockPool pool("device", 8);
  RadixTree tree(kBs, &pool, std::make_unique<LfuEvictionPolicy>());
  for (TokenId start : {10, 20}) {
    std::vector<BlockId> b;
    ASSERT_TRUE(pool.Allocate(1, &b));
    tree.Insert(Seq(4, start), b);
    pool.DecRef(b[0]);
  }
  tree.Match(Seq(4, 10));
  tree.Match(Seq(4, 10));
  tree.Match(Seq(4, 20));  // most recent, but hit once
  EXPECT_EQ(tree.Evict(1), 1);
  EXPECT_EQ(tree.PeekMatchBlocks(Seq(4, 10)), 1);
  EXPECT_EQ(tree.PeekMatchBlocks(Seq(4, 20)), 0);
  EXPECT_STREQ(tree.policy().name(), "lfu");
}

TEST_F(RadixTreeTest, AncestorAtDepthSplitsAtTheRequestedBlock) {
  InsertFresh(Seq(16));
  auto r = tree_.Match(Seq(16));
  RadixNode* mid = tree_.AncestorAtDepth(r.node, 3);
  EXPECT_EQ(mid->depth_blocks, 3);
  EXPECT_EQ(mid->blocks.back(), 2);
  EXPECT_EQ(tree_.AncestorAtDepth(r.node, 0), tree_.root());
  EXPECT_EQ(tree_.AncestorAtDepth(r.node, 4), r.node);
  EXPECT_EQ(tree_.AncestorAtDepth(r.node, 3), mid);
  ExpectConsistent();
}

TEST_F(RadixTreeTest, SplitKeepsLocksOnBothHalves) {
  InsertFresh(Seq(12));
  auto whole = tree_.Match(Seq(12));
  tree_.Lock(whole.node);
  auto part = tree_.Match(Seq(4));  // splits the locked node
  EXPECT_EQ(part.node->lock_ref, 1);
  EXPECT_EQ(tree_.stats().evictable_blocks, 0);
  ExpectConsistent({{whole.node, 1}});
  tree_.Unlock(whole.node);
  ExpectConsistent();
}

TEST_F(RadixTreeTest, WithoutAPoolBlocksAreNotCounted) {
  RadixTree tree(kBs, nullptr);
  tree.Insert(Seq(8), std::vector<BlockId>{7, 9});
  EXPECT_THAT(tree.Match(Seq(8)).blocks, ElementsAre(7, 9));
  EXPECT_EQ(tree.EvictAll(), 2);
}

TEST_F(RadixTreeTest, ConsistencyCheckCatchesAMissingLock) {
  InsertFresh(Seq(8));
  auto r = tree_.Match(Seq(8));
  tree_.Lock(r.node);
  std::vector<int32_t> refs(pool_.num_blocks(), 0);
  absl::Status s = tree_.CheckConsistency({}, &refs);  // caller claims no locks
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("lock_ref 1 but 0 direct locks"));
  tree_.Unlock(r.node);
}

TEST_F(RadixTreeTest, DeepChainIsDestroyedWithoutRecursion) {
  RadixTree tree(1, nullptr);
  std::vector<TokenId> tokens;
  std::vector<BlockId> blocks;
  for (int i = 0; i < 6000; ++i) {
    tokens.push_back(i);
    blocks.push_back(i);
  }
  // One long node, then a side branch every other token: a chain of ~3000 nodes.
  tree.Insert(tokens, blocks);
  for (int i = 1; i < 6000; i += 2) {
    tree.Insert(Concat(std::vector<TokenId>(tokens.begin(), tokens.begin() + i), {-7}),
                Concat(std::vector<BlockId>(blocks.begin(), blocks.begin() + i), {-7}));
  }
  EXPECT_GT(tree.stats().num_nodes, 5000);
}

}  // namespace
}  // namespace radixserve::cache
