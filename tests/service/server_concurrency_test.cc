// 64 concurrent Generate streams against the real binary with a KV pool small enough to
// force preemption, a quarter of them cancelled at random points: every stream that was
// not cancelled returns exactly its solo greedy output, and afterwards no block leaked.
#include <random>
#include <thread>

#include "server_process.h"

namespace radixserve::service {
namespace {

struct Outcome {
  grpc::Status status;
  std::vector<int32_t> tokens;
};

Outcome Stream(v1::Inference::Stub& stub, const std::vector<int32_t>& prompt, int max_tokens, int cancel_after) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  v1::GenerateRequest req;
  req.mutable_input()->mutable_tokens()->mutable_ids()->Add(prompt.begin(), prompt.end());
  req.mutable_stop()->set_max_tokens(max_tokens);
  req.mutable_stop()->set_ignore_eos(true);
  auto reader = stub.Generate(&ctx, req);
  Outcome out;
  v1::GenerateResponse chunk;
  bool cancelled = false;
  while (reader->Read(&chunk)) {
    for (const auto& t : chunk.tokens()) out.tokens.push_back(t.id());
    if (!cancelled && cancel_after >= 0 && static_cast<int>(out.tokens.size()) >= cancel_after) {
      ctx.TryCancel();
      cancelled = true;
    }
  }
  out.status = reader->Finish();
  return out;
}

TEST(ServerConcurrencyTest, SixtyFourStreamsWithCancellationsAndPreemption) {
  // 24 blocks of 16 tokens: far less than 64 requests of up to 64 tokens each need.
  testing::ServerProcess server({"--kv_blocks=24", "--host_kv_blocks=16", "--max_batch_tokens=64"});
  ASSERT_TRUE(server.ok());
  constexpr int kStreams = 64;
  constexpr int kMaxTokens = 16;
  std::mt19937 rng(2024);
  std::vector<std::vector<int32_t>> prompts;
  std::vector<int> cancel_after;
  for (int i = 0; i < kStreams; ++i) {
    std::vector<int32_t> p(4 + rng() % 36);
    for (int32_t& t : p) t = 3 + static_cast<int32_t>(rng() % 250);
    prompts.push_back(p);
    cancel_after.push_back(i % 4 == 1 ? static_cast<int>(rng() % kMaxTokens) : -1);
  }
  std::vector<std::vector<int32_t>> solo;
  for (const auto& p : prompts) {
    Outcome o = Stream(*server.inference, p, kMaxTokens, -1);
    ASSERT_TRUE(o.status.ok()) << o.status.error_message();
    solo.push_back(o.tokens);
  }
  // Idle chat sessions holding 16 of the 24 blocks: admitting the streams must preempt
  // them (swap to host, or drop when the host is full).
  std::vector<std::string> idle;
  for (int i = 0; i < 8; ++i) {
    grpc::ClientContext ctx;
    v1::CreateSessionRequest req;
    for (int k = 0; k < 30; ++k) req.mutable_input()->mutable_tokens()->add_ids(7 + (i * 31 + k) % 200);
    v1::Session s;
    ASSERT_TRUE(server.cache->CreateSession(&ctx, req, &s).ok());
    idle.push_back(s.session_id());
  }
  std::vector<Outcome> results(kStreams);
  std::vector<std::thread> threads;
  for (int i = 0; i < kStreams; ++i) {
    threads.emplace_back([&, i] { results[i] = Stream(*server.inference, prompts[i], kMaxTokens, cancel_after[i]); });
  }
  for (auto& t : threads) t.join();
  int cancelled = 0;
  for (int i = 0; i < kStreams; ++i) {
    if (cancel_after[i] >= 0 && !results[i].status.ok()) {
      EXPECT_EQ(results[i].status.error_code(), grpc::StatusCode::CANCELLED) << i;
      ++cancelled;
      continue;
    }
    ASSERT_TRUE(results[i].status.ok()) << i << ": " << results[i].status.error_message();
    EXPECT_EQ(results[i].tokens, solo[i]) << "stream " << i;
  }
  EXPECT_GT(cancelled, 0);
  for (const std::string& id : idle) {
    grpc::ClientContext ctx;
    v1::DeleteSessionRequest req;
    req.set_session_id(id);
    v1::DeleteSessionResponse resp;
    EXPECT_TRUE(server.cache->DeleteSession(&ctx, req, &resp).ok());
  }

  // Let the engine end the cancelled requests, then every block must be free again.
  v1::CacheStats stats;
  for (int i = 0; i < 200; ++i) {
    grpc::ClientContext c1, c2;
    v1::ClearPrefixCacheResponse cleared;
    ASSERT_TRUE(server.cache->ClearPrefixCache(&c1, v1::ClearPrefixCacheRequest(), &cleared).ok());
    ASSERT_TRUE(server.cache->GetCacheStats(&c2, v1::GetCacheStatsRequest(), &stats).ok());
    if (stats.running_requests() == 0 && stats.queued_requests() == 0 && stats.num_sessions() == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT(stats.preemptions(), 0);
  EXPECT_EQ(stats.num_sessions(), 0);
  EXPECT_EQ(stats.device_free_blocks(), stats.device_blocks());
  EXPECT_EQ(stats.host_free_blocks(), stats.host_blocks());
  EXPECT_EQ(server.Stop(), 0);
}

}  // namespace
}  // namespace radixserve::service
