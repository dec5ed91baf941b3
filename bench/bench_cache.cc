// Cache bookkeeping microbenchmarks (Google Benchmark).
//
// The tree benchmarks run on a radix tree holding ~1M cached tokens (block size 16):
// 320 conversations of 4,096 tokens, in 16 groups that share a 1,024-token system
// prompt. Target (issue 3): a prefix match of a 4,096-token prompt under 20 us.
//
//   cmake -S . -B build/h-cache-rel -G Ninja -DCMAKE_BUILD_TYPE=Release
//   cmake --build build/h-cache-rel --target bench_cache && build/h-cache-rel/bench/bench_cache
#include <memory>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "cache/block_pool.h"
#include "cache/kv_cache_manager.h"
#include "cache/radix_tree.h"

namespace radixserve::cache {
namespace {

constexpr int kBlockSize = 16;
constexpr int kPromptTokens = 4096;
constexpr int kSharedTokens = 1024;
constexpr int kGroups = 16;
constexpr int kConversations = 320;

// Deterministic corpus: conversations[i] = system_prompt[i % kGroups] + unique tail.
const std::vector<std::vector<TokenId>>& Corpus() {
  static const auto* corpus = [] {
    std::mt19937 rng(42);
    std::uniform_int_distribution<TokenId> vocab(0, 49151);
    std::vector<std::vector<TokenId>> prompts(kGroups);
    for (auto& p : prompts) {
      p.resize(kSharedTokens);
      for (auto& t : p) t = vocab(rng);
    }
    auto* out = new std::vector<std::vector<TokenId>>();
    for (int i = 0; i < kConversations; ++i) {
      std::vector<TokenId> c = prompts[i % kGroups];
      while (c.size() < kPromptTokens) c.push_back(vocab(rng));
      out->push_back(std::move(c));
    }
    return out;
  }();
  return *corpus;
}

// A tree (without a pool: block ids are just numbers here) holding the corpus.
RadixTree& FullTree() {
  static RadixTree* tree = [] {
    auto* t = new RadixTree(kBlockSize, nullptr);
    BlockId next = 0;
    for (const auto& c : Corpus()) {
      std::vector<BlockId> blocks(c.size() / kBlockSize);
      for (auto& b : blocks) b = next++;
      t->Insert(c, blocks);
    }
    return t;
  }();
  return *tree;
}

void AddTreeCounters(benchmark::State& state, const RadixTree& tree) {
  state.counters["cached_tokens"] =
      static_cast<double>(tree.stats().cached_blocks) * tree.block_size();
  state.counters["nodes"] = static_cast<double>(tree.stats().num_nodes);
}

// Full hit: every block of a 4,096-token prompt is cached.
void BM_TreeMatchHit4096(benchmark::State& state) {
  RadixTree& tree = FullTree();
  const auto& corpus = Corpus();
  size_t i = 0;
  for (auto _ : state) {
    auto r = tree.Match(corpus[i++ % corpus.size()]);
    benchmark::DoNotOptimize(r.blocks.data());
  }
  AddTreeCounters(state, tree);
}
BENCHMARK(BM_TreeMatchHit4096);

// A branchier tree of ~1.1M tokens: 32 conversations of 4,096 tokens, each with 15
// edits that share its first k * 256 tokens (k = 1..15) and then diverge, like a chat
// UI where users regenerate and edit turns. Matching a base conversation crosses 16
// nodes instead of 2.
void BM_TreeMatchHit4096Branchy(benchmark::State& state) {
  static std::vector<std::vector<TokenId>>* bases = new std::vector<std::vector<TokenId>>();
  static RadixTree* tree = [] {
    auto* t = new RadixTree(kBlockSize, nullptr);
    std::mt19937 rng(7);
    std::uniform_int_distribution<TokenId> vocab(0, 49151);
    std::vector<BlockId> blocks(kPromptTokens / kBlockSize, 0);
    for (int i = 0; i < 32; ++i) {
      std::vector<TokenId> base(kPromptTokens);
      for (auto& x : base) x = vocab(rng);
      t->Insert(base, blocks);
      for (int k = 1; k < 16; ++k) {
        std::vector<TokenId> edit = base;
        for (size_t j = k * 256; j < edit.size(); ++j) edit[j] = vocab(rng);
        t->Insert(edit, blocks);
      }
      bases->push_back(std::move(base));
    }
    return t;
  }();
  size_t i = 0;
  for (auto _ : state) {
    auto r = tree->Match((*bases)[i++ % bases->size()]);
    benchmark::DoNotOptimize(r.blocks.data());
  }
  AddTreeCounters(state, *tree);
}
BENCHMARK(BM_TreeMatchHit4096Branchy);

// Shares only the system prompt: 64 blocks hit, then a miss.
void BM_TreeMatchSystemPrompt4096(benchmark::State& state) {
  RadixTree& tree = FullTree();
  std::vector<TokenId> q = Corpus()[3];
  for (size_t j = kSharedTokens; j < q.size(); ++j) q[j] = 50000 + static_cast<TokenId>(j);
  for (auto _ : state) {
    auto r = tree.Match(q);
    benchmark::DoNotOptimize(r.blocks.data());
  }
  AddTreeCounters(state, tree);
}
BENCHMARK(BM_TreeMatchSystemPrompt4096);

// Read-only length query used by admission (no split, no LRU touch).
void BM_TreePeek4096(benchmark::State& state) {
  const RadixTree& tree = FullTree();
  const auto& corpus = Corpus();
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(tree.PeekMatchBlocks(corpus[i++ % corpus.size()]));
}
BENCHMARK(BM_TreePeek4096);

// Re-inserting a cached conversation: the path a commit takes when every block is
// already there (compare and dedup only).
void BM_TreeInsertExisting4096(benchmark::State& state) {
  RadixTree& tree = FullTree();
  const auto& corpus = Corpus();
  std::vector<BlockId> blocks(kPromptTokens / kBlockSize, 0);
  size_t i = 0;
  for (auto _ : state) {
    auto r = tree.Insert(corpus[i++ % corpus.size()], blocks);
    benchmark::DoNotOptimize(r.node);
  }
  AddTreeCounters(state, tree);
}
BENCHMARK(BM_TreeInsertExisting4096);

// Inserting a new 4,096-token conversation (system prompt cached, 192 new blocks)
// into a 1M-token tree, then evicting it again so the tree keeps its size. The tree
// uses LFU and every cached conversation was hit once, so the new, never-hit branch
// is exactly what Evict() takes.
void BM_TreeInsertNewThenEvict4096(benchmark::State& state) {
  static RadixTree* tree = [] {
    auto* t = new RadixTree(kBlockSize, nullptr, std::make_unique<LfuEvictionPolicy>());
    std::vector<BlockId> blocks(kPromptTokens / kBlockSize, 0);
    for (const auto& c : Corpus()) t->Insert(c, blocks);
    for (const auto& c : Corpus()) t->Match(c);
    return t;
  }();
  std::vector<TokenId> q = Corpus()[5];
  std::vector<BlockId> blocks(kPromptTokens / kBlockSize, 0);
  const int32_t fresh = (kPromptTokens - kSharedTokens) / kBlockSize;
  TokenId salt = 60000;
  for (auto _ : state) {
    q[kSharedTokens] = salt++;  // a new branch every time
    auto r = tree->Insert(q, blocks);
    benchmark::DoNotOptimize(r.node);
    if (tree->Evict(fresh) != fresh) state.SkipWithError("evicted the wrong branch");
  }
  AddTreeCounters(state, *tree);
}
BENCHMARK(BM_TreeInsertNewThenEvict4096);

// Manager: a full request on the 1M-token cache: create a session, append a
// 4,096-token cached prompt (255 blocks reused, the last one computed), commit, delete.
void BM_ManagerPrefillCachedPrompt(benchmark::State& state) {
  KvCacheOptions o;
  o.block_size = kBlockSize;
  o.num_device_blocks = 70000;
  auto m = std::move(KvCacheManager::Create(o)).value();
  for (const auto& c : Corpus()) {
    auto id = *m->CreateSession();
    auto plan = m->Append(id, c);
    (void)m->Commit(id, static_cast<int64_t>(c.size()) - plan->cached_tokens);
    (void)m->DeleteSession(id);
  }
  const auto& corpus = Corpus();
  size_t i = 0;
  for (auto _ : state) {
    auto id = *m->CreateSession();
    auto plan = m->Append(id, corpus[i++ % corpus.size()]);
    (void)m->Commit(id, static_cast<int64_t>(plan->slots.size()));
    (void)m->DeleteSession(id);
  }
  state.counters["cached_tokens"] = static_cast<double>(m->Stats().tree.cached_blocks) * kBlockSize;
  state.counters["hit_ratio"] = static_cast<double>(m->Stats().tree.hit_tokens) /
                                static_cast<double>(m->Stats().tree.queried_tokens);
}
BENCHMARK(BM_ManagerPrefillCachedPrompt);

// Manager: one decode step of one session (append 1 token, commit it); every 16th
// step fills a block and indexes it in the tree.
void BM_ManagerDecodeStep(benchmark::State& state) {
  KvCacheOptions o;
  o.block_size = kBlockSize;
  o.num_device_blocks = 1 << 16;
  auto m = std::move(KvCacheManager::Create(o)).value();
  auto id = *m->CreateSession();
  TokenId t = 0;
  int64_t length = 0;
  for (auto _ : state) {
    if (++length > 8192) {
      length = 1;
      state.PauseTiming();
      (void)m->DeleteSession(id);
      m->ClearPrefixCache();
      id = *m->CreateSession();
      state.ResumeTiming();
    }
    const TokenId tok = t++;
    auto plan = m->Append(id, absl::MakeConstSpan(&tok, 1));
    (void)m->Commit(id, 1);
    benchmark::DoNotOptimize(plan->slots.data());
  }
}
BENCHMARK(BM_ManagerDecodeStep);

void BM_PoolAllocateFree(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  BlockPool pool("device", 1 << 16);
  std::vector<BlockId> got;
  got.reserve(n);
  for (auto _ : state) {
    got.clear();
    pool.Allocate(n, &got);
    for (BlockId b : got) pool.DecRef(b);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_PoolAllocateFree)->Arg(1)->Arg(256);

// Fork + copy-on-write of the partial block + delete.
void BM_ManagerForkWriteDelete(benchmark::State& state) {
  KvCacheOptions o;
  o.block_size = kBlockSize;
  o.num_device_blocks = 4096;
  auto m = std::move(KvCacheManager::Create(o)).value();
  auto parent = *m->CreateSession();
  std::vector<TokenId> prompt(kPromptTokens + 5, 7);
  for (size_t j = 0; j < prompt.size(); ++j) prompt[j] = static_cast<TokenId>(j);
  auto plan = m->Append(parent, prompt);
  (void)m->Commit(parent, static_cast<int64_t>(plan->slots.size()));
  const TokenId tok = 1;
  for (auto _ : state) {
    auto child = *m->ForkSession(parent);
    auto p = m->Append(child, absl::MakeConstSpan(&tok, 1));
    benchmark::DoNotOptimize(p->copies.data());
    (void)m->DeleteSession(child);
  }
}
BENCHMARK(BM_ManagerForkWriteDelete);

}  // namespace
}  // namespace radixserve::cache

BENCHMARK_MAIN();
