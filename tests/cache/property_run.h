// PropertyRun: one seeded run of the cache property test (see kv_cache_property_test.cc).
//
// A reference model says what every call must answer; a fake backend executes every
// instruction the cache returns on simulated K/V memory where the value of position p
// is a hash of tokens [0, p], so a wrong block, a missed copy-on-write, a bad swap pair
// or a reused freed block reads a wrong value.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cache/kv_cache_manager.h"

namespace radixserve::cache::testing {

inline uint64_t Mix(uint64_t h, uint64_t x) {
  h ^= x + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h *= 0xff51afd7ed558ccdULL;
  return h ^ (h >> 33);
}

struct ModelSession {
  std::vector<TokenId> tokens;
  int64_t computed = 0;
  bool swapped = false;
  bool recompute = false;
  bool pinned = false;
  int quota = 0;
  int tmpl = 0;  // which shared template it continues (creates common prefixes)
};

struct Config {
  int block_size;
  int device_blocks;
  int host_blocks;
  int max_pinned;
};

class PropertyRun {
 public:
  PropertyRun(uint64_t seed, Config cfg) : seed_(seed), cfg_(cfg), rng_(seed) {
    KvCacheOptions o;
    o.block_size = cfg.block_size;
    o.num_device_blocks = cfg.device_blocks;
    o.num_host_blocks = cfg.host_blocks;
    o.max_pinned_blocks = cfg.max_pinned;
    o.clock = [this] { return now_; };
    o.id_generator = [this] { return absl::StrCat("id", next_id_++); };
    o.eviction_policy = seed % 2 ? EvictionPolicyKind::kLfu : EvictionPolicyKind::kLru;
    m_ = std::move(KvCacheManager::Create(o)).value();
    device_kv_.assign(static_cast<size_t>(cfg.device_blocks) * cfg.block_size, 0);
    host_kv_.assign(static_cast<size_t>(cfg.host_blocks) * cfg.block_size, 0);
    for (auto& t : templates_) {
      t.resize(96);
      for (auto& x : t) x = Uniform(0, 40);
    }
  }

  // Returns "" or a description of the first failure.
  std::string Run(int steps);

  int64_t ops_ok() const { return ok_; }
  std::string Summary() const {
    return absl::StrCat("seed ", seed_, " (block_size ", cfg_.block_size, "): ", ok_, " ok, ",
                        exhausted_, " resource-exhausted, ", hit_tokens_, " tokens from the prefix cache, ",
                        copies_, " copy-on-write, ", swapped_out_, "/", swapped_in_,
                        " blocks swapped out/in, ", evicted_, " blocks evicted");
  }

 private:
  std::string Where() const {
    return absl::StrCat("seed ", seed_, " step ", step_, " op [", op_, "]: ");
  }
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  int Blocks(int64_t n) const { return static_cast<int>((n + cfg_.block_size - 1) / cfg_.block_size); }

  std::vector<BlockId> Table(const std::string& id) const {
    auto t = m_->BlockTable(id);
    return t.ok() ? std::vector<BlockId>(t->begin(), t->end()) : std::vector<BlockId>{};
  }

  std::string PickId() {
    if (model_.empty() || Chance(0.02)) return "no-such-session";
    auto it = model_.begin();
    std::advance(it, Uniform(0, static_cast<int>(model_.size()) - 1));
    return it->first;
  }

  int ModelPinnedBlocks() const {
    int n = 0;
    for (auto& [id, s] : model_) n += s.pinned ? Blocks(s.tokens.size()) : 0;
    for (auto& [pin, b] : prefix_pins_) n += b;
    return n;
  }
  int ModelHostUsed() const {
    int n = 0;
    for (auto& [id, s] : model_) n += (s.swapped && !s.recompute) ? Blocks(s.tokens.size()) : 0;
    return n;
  }

  // Fake backend: the K/V of position p is the hash of tokens [0, p].
  std::vector<uint64_t> PrefixHashes(const std::vector<TokenId>& tokens) const {
    std::vector<uint64_t> h(tokens.size());
    uint64_t acc = 1;
    for (size_t i = 0; i < tokens.size(); ++i) h[i] = acc = Mix(acc, static_cast<uint64_t>(tokens[i]));
    return h;
  }
  void Execute(const std::vector<TokenId>& tokens, const WritePlan& plan) {
    const int bs = cfg_.block_size;
    copies_ += static_cast<int64_t>(plan.copies.size());
    hit_tokens_ += plan.cached_tokens;
    for (const CopyOp& c : plan.copies) {
      for (int t = 0; t < bs; ++t) device_kv_[c.dst * bs + t] = device_kv_[c.src * bs + t];
    }
    auto h = PrefixHashes(tokens);
    for (size_t i = 0; i < plan.slots.size(); ++i) device_kv_[plan.slots[i]] = h[plan.first_position + i];
  }
  void CopyBlocks(const std::vector<SwapPair>& pairs, bool to_host) {
    const int bs = cfg_.block_size;
    (to_host ? swapped_out_ : swapped_in_) += static_cast<int64_t>(pairs.size());
    for (const SwapPair& p : pairs) {
      for (int t = 0; t < bs; ++t) {
        if (to_host) {
          host_kv_[p.host * bs + t] = device_kv_[p.device * bs + t];
        } else {
          device_kv_[p.device * bs + t] = host_kv_[p.host * bs + t];
        }
      }
    }
  }

  // Checks an absl::Status code against the expected one.
  std::string Expect(const absl::Status& s, absl::StatusCode want) {
    if (s.code() == want) {
      exhausted_ += want == absl::StatusCode::kResourceExhausted ? 1 : 0;
      return "";
    }
    return absl::StrCat("expected ", absl::StatusCodeToString(want), ", got ", s.ToString());
  }

  std::vector<TokenId> NewTokens(const ModelSession& s, int k) {
    std::vector<TokenId> out;
    const bool follow = Chance(0.75);
    for (int i = 0; i < k; ++i) {
      const size_t pos = s.tokens.size() + i;
      out.push_back(follow && pos < templates_[s.tmpl].size() ? templates_[s.tmpl][pos]
                                                               : Uniform(0, 40));
    }
    return out;
  }

  std::string Step();
  std::string OpCreate();
  std::string OpAppend();
  std::string OpCommit();
  std::string OpFork();
  std::string OpTruncate();
  std::string OpDelete();
  std::string OpMatch();
  std::string OpEvict();
  std::string OpOffload();
  std::string OpRestore();
  std::string OpDrop();
  std::string OpPin();
  std::string OpPinPrefix();
  std::string OpPreempt();
  std::string OpExpireOrClear();
  std::string Verify();

  const uint64_t seed_;
  const Config cfg_;
  std::mt19937_64 rng_;
  std::unique_ptr<KvCacheManager> m_;
  std::map<std::string, ModelSession> model_;  // ordered: picks are reproducible
  std::map<PrefixPinId, int> prefix_pins_;     // pin -> blocks
  std::vector<TokenId> templates_[3];
  std::vector<uint64_t> device_kv_, host_kv_;
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
  int next_id_ = 0;
  int step_ = 0;
  std::string op_;
  int64_t ok_ = 0;
  int64_t exhausted_ = 0, hit_tokens_ = 0, copies_ = 0, swapped_out_ = 0, swapped_in_ = 0,
          evicted_ = 0;
};

}  // namespace radixserve::cache::testing
