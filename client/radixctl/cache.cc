// radixctl cache stats | clear.
#include <cstdio>

#include "client/json.h"
#include "client/radixctl/common.h"

namespace radixctl {
namespace {

int Stats(bool include_sessions, const Globals& g) {
  int rc = kExitOk;
  auto client = Connect(g, &rc);
  if (client == nullptr) return rc;
  auto s = client->GetCacheStats(include_sessions);
  if (!s.ok()) return Fail(s.status(), "GetCacheStats", g);
  const double hit = s->prefix_query_tokens() > 0 ? static_cast<double>(s->prefix_hit_tokens()) /
                                                        static_cast<double>(s->prefix_query_tokens())
                                                  : 0.0;
  if (g.json) {
    nlohmann::json j = radixserve::client::ToJson(*s);
    j["prefix_hit_ratio"] = hit;
    if (!include_sessions) j.erase("sessions");
    PrintJson(j);
    return kExitOk;
  }
  std::printf("device blocks     %d total, %d free (%d tokens per block)\n", s->device_blocks(),
              s->device_free_blocks(), s->block_size());
  std::printf("host blocks       %d total, %d free\n", s->host_blocks(), s->host_free_blocks());
  std::printf("pinned blocks     %d (cap %d)\n", s->pinned_blocks(), s->max_pinned_blocks());
  std::printf("sessions          %lld (%lld swapped)\n", static_cast<long long>(s->num_sessions()),
              static_cast<long long>(s->swapped_sessions()));
  std::printf("prefix tree       %lld nodes, %lld blocks (%lld evictable)\n", static_cast<long long>(s->tree_nodes()),
              static_cast<long long>(s->tree_blocks()), static_cast<long long>(s->evictable_blocks()));
  std::printf("prefix hit ratio  %.3f (%lld of %lld prefill tokens)\n", hit,
              static_cast<long long>(s->prefix_hit_tokens()), static_cast<long long>(s->prefix_query_tokens()));
  std::printf("requests          %lld running, %lld queued, %lld preemptions\n",
              static_cast<long long>(s->running_requests()), static_cast<long long>(s->queued_requests()),
              static_cast<long long>(s->preemptions()));
  for (const auto& x : s->sessions()) {
    std::printf("  %s  %lld tokens, %d blocks (%d shared), %d host\n", x.session_id().c_str(),
                static_cast<long long>(x.num_tokens()), x.device_blocks(), x.shared_blocks(), x.host_blocks());
  }
  return kExitOk;
}

int Clear(const Globals& g) {
  int rc = kExitOk;
  auto client = Connect(g, &rc);
  if (client == nullptr) return rc;
  auto freed = client->ClearPrefixCache();
  if (!freed.ok()) return Fail(freed.status(), "ClearPrefixCache", g);
  if (g.json) {
    PrintJson({{"blocks_freed", *freed}});
  } else {
    std::printf("freed %d blocks\n", *freed);
  }
  return kExitOk;
}

}  // namespace

void AddCache(CLI::App& app, Globals& g, int* rc) {
  auto include_sessions = std::make_shared<bool>(false);
  CLI::App* cache = app.add_subcommand("cache", "KV cache statistics and the prefix cache");
  cache->require_subcommand(1);
  CLI::App* stats = cache->add_subcommand("stats", "blocks, prefix-cache hit ratio, tree size, queue");
  stats->add_flag("--sessions", *include_sessions, "also list every session");
  stats->callback([include_sessions, &g, rc] { *rc = Stats(*include_sessions, g); });
  CLI::App* clear = cache->add_subcommand("clear", "evict every cached prefix no session or pin holds");
  clear->callback([&g, rc] { *rc = Clear(g); });
}

}  // namespace radixctl
