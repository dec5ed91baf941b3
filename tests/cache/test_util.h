// Helpers shared by the cache tests: a manager with a fake clock and predictable ids.
#pragma once

#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cache/kv_cache_manager.h"
#include "gtest/gtest.h"

namespace radixserve::cache::testing {

// Tokens start, start+1, ... (distinct blocks for distinct starts).
inline std::vector<TokenId> Seq(int n, TokenId start = 1) {
  std::vector<TokenId> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

inline std::vector<TokenId> Concat(std::vector<TokenId> a, const std::vector<TokenId>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class CacheTest : public ::testing::Test {
 protected:
  std::unique_ptr<KvCacheManager> Make(KvCacheOptions o) {
    o.clock = [this] { return now_; };
    o.id_generator = [this] { return absl::StrCat("s", next_id_++); };
    auto m = KvCacheManager::Create(std::move(o));
    EXPECT_TRUE(m.ok()) << m.status();
    return std::move(m).value();
  }
  std::unique_ptr<KvCacheManager> Make(int device_blocks, int host_blocks = 0, int block_size = 4) {
    KvCacheOptions o;
    o.block_size = block_size;
    o.num_device_blocks = device_blocks;
    o.num_host_blocks = host_blocks;
    return Make(std::move(o));
  }
  // Create + Append + Commit: a session whose `tokens` are all computed.
  std::string Prefilled(KvCacheManager& m, const std::vector<TokenId>& tokens) {
    auto id = m.CreateSession();
    EXPECT_TRUE(id.ok()) << id.status();
    auto plan = m.Append(*id, tokens);
    EXPECT_TRUE(plan.ok()) << plan.status();
    EXPECT_TRUE(m.Commit(*id, static_cast<int64_t>(tokens.size()) - plan->cached_tokens).ok());
    EXPECT_TRUE(m.CheckInvariants().ok()) << m.CheckInvariants();
    return *id;
  }

  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
  int next_id_ = 0;
};

#define EXPECT_INVARIANTS(m) EXPECT_TRUE((m).CheckInvariants().ok()) << (m).CheckInvariants()

}  // namespace radixserve::cache::testing
