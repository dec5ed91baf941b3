// The engine in-process on the CPU backend and the tiny fixture model: sessions,
// continuous batching with preemption, cancellation, deadlines and limits.
#include <atomic>
#include <random>
#include <thread>

#include "absl/synchronization/notification.h"
#include "engine_test_util.h"

namespace radixserve::service {
namespace {

using testing::MakeEngine;
using testing::OnLoop;
using testing::RunRequest;

std::vector<int32_t> RandomPrompt(std::mt19937& rng, int len) {
  std::uniform_int_distribution<int32_t> dist(3, 250);
  std::vector<int32_t> out(len);
  for (int32_t& t : out) t = dist(rng);
  return out;
}

GenerateSpec Greedy(std::vector<int32_t> prompt, int max_tokens) {
  GenerateSpec spec;
  spec.input = std::move(prompt);
  spec.max_tokens = max_tokens;
  spec.ignore_eos = true;
  return spec;
}

// Every block is free once sessions are gone and the prefix cache is cleared.
void ExpectNoLeaks(Engine& engine) {
  EXPECT_TRUE(OnLoop(engine, [&] { return engine.CheckInvariantsOnLoop(); }).ok());
  auto stats = OnLoop(engine, [&] {
    engine.ClearPrefixCacheOnLoop();
    return engine.CacheStatsOnLoop();
  });
  EXPECT_EQ(stats.num_sessions, 0);
  EXPECT_EQ(stats.device_free, stats.device_blocks);
  EXPECT_EQ(stats.host_free, stats.host_blocks);
}

TEST(EngineTest, ConcurrentRequestsOnATinyPoolEqualTheirSoloRuns) {
  std::mt19937 rng(7);
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 12; ++i) prompts.push_back(RandomPrompt(rng, 5 + static_cast<int>(rng() % 40)));
  constexpr int kMaxTokens = 20;
  std::vector<std::vector<int32_t>> solo;
  {
    auto big = MakeEngine(128, 0);
    for (const auto& p : prompts) {
      auto r = RunRequest(*big.engine, Greedy(p, kMaxTokens));
      ASSERT_TRUE(r.outcome.status.ok()) << r.outcome.status;
      ASSERT_EQ(r.tokens.size(), static_cast<size_t>(kMaxTokens));
      solo.push_back(r.tokens);
    }
  }
  EngineOptions options;
  options.max_batch_tokens = 48;
  auto t = MakeEngine(/*device_blocks=*/10, /*host_blocks=*/6, options);
  std::vector<std::unique_ptr<testing::Collector>> collectors;
  std::vector<std::shared_ptr<RequestHandle>> handles;
  // The loop waits until all twelve are queued: admitted together they overflow the pool
  // whatever the thread timing, so preemption is certain (CI once saw none without this).
  absl::Notification all_submitted;
  ASSERT_TRUE(t.engine->Post([&] { all_submitted.WaitForNotification(); }));
  for (const auto& p : prompts) {
    collectors.push_back(std::make_unique<testing::Collector>());
    auto h = t.engine->Submit(Greedy(p, kMaxTokens), collectors.back()->Callbacks());
    ASSERT_TRUE(h.ok()) << h.status();
    handles.push_back(*h);
  }
  all_submitted.Notify();
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto r = collectors[i]->Wait();
    ASSERT_TRUE(r.outcome.status.ok()) << i << ": " << r.outcome.status;
    EXPECT_EQ(r.tokens, solo[i]) << "request " << i;
    EXPECT_EQ(r.outcome.finish, FinishReason::kLength);
  }
  EXPECT_GT(t.engine->counters().preemptions, 0);
  ExpectNoLeaks(*t.engine);
}

TEST(EngineTest, MultiTurnSessionReusesItsKvAndContinuesLikeOneRun) {
  std::mt19937 rng(1);
  const auto prompt = RandomPrompt(rng, 20);
  auto t = MakeEngine(64, 16);
  auto whole = RunRequest(*t.engine, Greedy(prompt, 16));
  ASSERT_TRUE(whole.outcome.status.ok());

  GenerateSpec first = Greedy(prompt, 8);
  first.keep_session = true;
  auto a = RunRequest(*t.engine, first);
  ASSERT_TRUE(a.outcome.status.ok()) << a.outcome.status;
  const std::string id = a.outcome.session_id;
  ASSERT_FALSE(id.empty());
  EXPECT_GT(a.outcome.cached_tokens, 0);  // the stateless run left the prompt's whole block cached

  // Offload, restore (compute-only request), then continue: same as one 16-token run.
  ASSERT_TRUE(OnLoop(*t.engine, [&] { return t.engine->OffloadSessionOnLoop(id).status(); }).ok());
  GenerateSpec restore;
  restore.session_id = id;
  restore.require_swapped = true;
  restore.operation = "RestoreSession";
  ASSERT_TRUE(RunRequest(*t.engine, restore).outcome.status.ok());
  GenerateSpec second = Greedy({}, 8);
  second.session_id = id;
  auto b = RunRequest(*t.engine, second);
  ASSERT_TRUE(b.outcome.status.ok()) << b.outcome.status;
  EXPECT_EQ(b.outcome.prompt_tokens, 1);  // the pending token of turn one
  std::vector<int32_t> joined = a.tokens;
  joined.insert(joined.end(), b.tokens.begin(), b.tokens.end());
  EXPECT_EQ(joined, whole.tokens);
  auto view = OnLoop(*t.engine, [&] { return t.engine->GetSessionOnLoop(id); });
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->info.num_tokens, 20 + 16);

  // Fork: both branches continue as the parent would.
  auto child = OnLoop(*t.engine, [&] { return t.engine->ForkSessionOnLoop(id); });
  ASSERT_TRUE(child.ok()) << child.status();
  GenerateSpec on_parent = Greedy({}, 4), on_child = Greedy({}, 4);
  on_parent.session_id = id;
  on_child.session_id = child->info.id;
  EXPECT_EQ(RunRequest(*t.engine, on_parent).tokens, RunRequest(*t.engine, on_child).tokens);

  EXPECT_TRUE(OnLoop(*t.engine, [&] { return t.engine->DeleteSessionOnLoop(id); }).ok());
  EXPECT_TRUE(OnLoop(*t.engine, [&] { return t.engine->DeleteSessionOnLoop(child->info.id); }).ok());
  ExpectNoLeaks(*t.engine);
}

TEST(EngineTest, SecondOperationOnABusySessionIsAborted) {
  auto t = MakeEngine(64, 0);
  GenerateSpec create = Greedy({5, 6, 7}, 1);
  create.keep_session = true;
  const std::string id = RunRequest(*t.engine, create).outcome.session_id;
  testing::Collector c1, c2;
  GenerateSpec long_run = Greedy({}, 60);
  long_run.session_id = id;
  auto h1 = t.engine->Submit(long_run, c1.Callbacks());
  auto h2 = t.engine->Submit(long_run, c2.Callbacks());
  ASSERT_TRUE(h1.ok() && h2.ok());
  auto r2 = c2.Wait();
  EXPECT_EQ(r2.outcome.status.code(), absl::StatusCode::kAborted);
  EXPECT_NE(r2.outcome.status.message().find("busy with Generate"), std::string::npos);
  auto busy = OnLoop(*t.engine, [&] { return t.engine->DeleteSessionOnLoop(id); });
  EXPECT_TRUE(busy.code() == absl::StatusCode::kAborted || busy.ok());
  c1.Wait();
}

TEST(EngineTest, CancelAndDeadlineKeepTheSessionConsistent) {
  auto t = MakeEngine(64, 0);
  GenerateSpec spec = Greedy({10, 11, 12, 13}, 200);
  spec.keep_session = true;
  testing::Collector c;
  auto h = t.engine->Submit(spec, c.Callbacks());
  ASSERT_TRUE(h.ok());
  while (c.NumTokens() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  (*h)->Cancel();
  auto r = c.Wait();
  EXPECT_EQ(r.outcome.status.code(), absl::StatusCode::kCancelled);
  EXPECT_GE(r.tokens.size(), 3u);
  auto view = OnLoop(*t.engine, [&] { return t.engine->GetSessionOnLoop(r.outcome.session_id); });
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->info.num_tokens, 4 + static_cast<int64_t>(r.tokens.size()));  // generated tokens kept

  GenerateSpec late = Greedy({10, 11}, 200);
  late.deadline = absl::Now() + absl::Milliseconds(2);
  EXPECT_EQ(RunRequest(*t.engine, late).outcome.status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(OnLoop(*t.engine, [&] { return t.engine->DeleteSessionOnLoop(r.outcome.session_id); }).ok());
  ExpectNoLeaks(*t.engine);
}

TEST(EngineTest, LimitsAndBadInputs) {
  auto t = MakeEngine(8, 0);
  EXPECT_EQ(RunRequest(*t.engine, Greedy({1, 5000}, 4)).outcome.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RunRequest(*t.engine, Greedy({1, 2}, -1)).outcome.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RunRequest(*t.engine, Greedy(std::vector<int32_t>(300, 5), 1)).outcome.status.code(),
            absl::StatusCode::kResourceExhausted);  // longer than the 256-token context
  EXPECT_EQ(RunRequest(*t.engine, Greedy({1, 2}, 200)).outcome.status.code(),
            absl::StatusCode::kResourceExhausted);  // 8 blocks of 16 can never hold it
  GenerateSpec missing = Greedy({1}, 1);
  missing.session_id = "nope";
  EXPECT_EQ(RunRequest(*t.engine, missing).outcome.status.code(), absl::StatusCode::kNotFound);
  GenerateSpec empty = Greedy({}, 1);
  EXPECT_EQ(RunRequest(*t.engine, empty).outcome.status.code(), absl::StatusCode::kInvalidArgument);
  ExpectNoLeaks(*t.engine);
}

TEST(EngineTest, StopStringsAndStopTokens) {
  auto t = MakeEngine(64, 0);
  auto free_run = RunRequest(*t.engine, Greedy({40, 41, 42}, 12));
  ASSERT_TRUE(free_run.outcome.status.ok());
  GenerateSpec stop_tok = Greedy({40, 41, 42}, 12);
  stop_tok.stop_token_ids = {free_run.tokens[3]};
  auto r = RunRequest(*t.engine, stop_tok);
  EXPECT_EQ(r.outcome.finish, FinishReason::kStopToken);
  EXPECT_LE(r.tokens.size(), 4u);
  if (free_run.text.size() >= 4) {
    GenerateSpec stop_str = Greedy({40, 41, 42}, 12);
    stop_str.stop_strings = {free_run.text.substr(2, 2)};
    auto s = RunRequest(*t.engine, stop_str);
    EXPECT_EQ(s.outcome.finish, FinishReason::kStopString);
    EXPECT_EQ(s.text, free_run.text.substr(0, free_run.text.find(stop_str.stop_strings[0])));
  }
}

}  // namespace
}  // namespace radixserve::service

namespace radixserve::service {
namespace {

TEST(EngineSessionsTest, MaxSessionsAndIdleExpiry) {
  EngineOptions options;
  options.max_sessions = 2;
  options.expiry_interval = absl::Milliseconds(10);
  auto t = testing::MakeEngine(32, 0, options);
  GenerateSpec keep;
  keep.keep_session = true;
  keep.input = {5, 6, 7};
  keep.session_options.idle_timeout = absl::Milliseconds(200);
  const auto a = testing::RunRequest(*t.engine, keep);
  ASSERT_TRUE(a.outcome.status.ok()) << a.outcome.status;
  keep.session_options.idle_timeout = absl::ZeroDuration();
  const auto b = testing::RunRequest(*t.engine, keep);
  ASSERT_TRUE(b.outcome.status.ok());
  EXPECT_EQ(testing::RunRequest(*t.engine, keep).outcome.status.code(), absl::StatusCode::kResourceExhausted);
  // The first session expires when idle for 200 ms; the second has no timeout.
  absl::SleepFor(absl::Milliseconds(400));
  const std::string first = a.outcome.session_id, second = b.outcome.session_id;
  EXPECT_EQ(testing::OnLoop(*t.engine, [&] { return t.engine->GetSessionOnLoop(first).status(); }).code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(testing::OnLoop(*t.engine, [&] { return t.engine->GetSessionOnLoop(second).status(); }).ok());
  EXPECT_TRUE(testing::OnLoop(*t.engine, [&] { return t.engine->DeleteSessionOnLoop(second); }).ok());
}

}  // namespace
}  // namespace radixserve::service
