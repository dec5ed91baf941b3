// ReadinessWatcher (service/readiness.h) in-process: the verdict for a sample, and the
// watcher over a real engine publishing to a recording health service: SERVING with
// headroom, NOT_SERVING while a session holds the blocks the headroom needs and SERVING
// again once it is deleted, NOT_SERVING for good once drained, and once the engine stopped.
#include "service/readiness.h"

#include <map>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/service/engine_test_util.h"

namespace radixserve::service {
namespace {

TEST(ReadinessTest, HeadroomBlocksRoundUpAndAreAtLeastOne) {
  ReadinessOptions o;
  o.kv_headroom = 0.05;
  EXPECT_EQ(RequiredHeadroomBlocks(o, 100), 5);
  EXPECT_EQ(RequiredHeadroomBlocks(o, 101), 6);
  EXPECT_EQ(RequiredHeadroomBlocks(o, 10), 1);
  o.kv_headroom = 0;
  EXPECT_EQ(RequiredHeadroomBlocks(o, 100), 1);
  o.kv_headroom = 2;  // clamped to the pool
  EXPECT_EQ(RequiredHeadroomBlocks(o, 100), 100);
}

TEST(ReadinessTest, Verdict) {
  ReadinessOptions o;
  o.kv_headroom = 0.25;
  ReadinessSample s;
  s.device_blocks = 100;
  s.available_blocks = 25;
  EXPECT_TRUE(IsReady(o, s));
  s.available_blocks = 24;
  EXPECT_FALSE(IsReady(o, s));
  s.available_blocks = 100;
  s.queued = 50;
  EXPECT_TRUE(IsReady(o, s)) << "queue depth is ignored by default";
  o.max_queue_depth = 4;
  EXPECT_FALSE(IsReady(o, s));
  s.queued = 4;
  EXPECT_TRUE(IsReady(o, s));
  s.engine_running = false;
  EXPECT_FALSE(IsReady(o, s));
}

// Records every status set, by service name.
class RecordingHealth : public grpc::HealthCheckServiceInterface {
 public:
  void SetServingStatus(const std::string& name, bool serving) override {
    absl::MutexLock lock(&mu_);
    history_[name].push_back(serving);
  }
  void SetServingStatus(bool serving) override { SetServingStatus("", serving); }
  std::vector<bool> History(const std::string& name) {
    absl::MutexLock lock(&mu_);
    return history_[name];
  }
  // Waits until the last status of `name` is `serving`.
  bool WaitFor(const std::string& name, bool serving, absl::Duration timeout = absl::Seconds(20)) {
    absl::MutexLock lock(&mu_);
    auto cond = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      const auto& h = history_[name];
      return !h.empty() && h.back() == serving;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&cond), timeout);
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::vector<bool>> history_ ABSL_GUARDED_BY(mu_);
};

TEST(ReadinessWatcherTest, PublishesHeadroomAndDrains) {
  auto t = testing::MakeEngine(/*device_blocks=*/16, /*host_blocks=*/0);
  RecordingHealth health;
  ReadinessOptions o;
  o.service_name = "radixserve.ready";
  o.interval = absl::Milliseconds(10);
  {
    ReadinessWatcher w(t.engine.get(), &health, o);
    EXPECT_EQ(health.History(o.service_name), std::vector<bool>{false}) << "NOT_SERVING before the first sample";
    w.Start();
    ASSERT_TRUE(health.WaitFor(o.service_name, true));
    EXPECT_TRUE(w.ready());
    absl::SleepFor(absl::Milliseconds(100));
    EXPECT_EQ(health.History(o.service_name), (std::vector<bool>{false, true})) << "only changes are published";
    w.Drain();
    EXPECT_FALSE(w.ready());
    EXPECT_EQ(health.History(o.service_name), (std::vector<bool>{false, true, false}));
    w.Start();  // a drained watcher stays drained
    absl::SleepFor(absl::Milliseconds(100));
    EXPECT_EQ(health.History(o.service_name), (std::vector<bool>{false, true, false}));
  }
  EXPECT_TRUE(health.History("").empty()) << "the overall status is the server's, not the watcher's";

  // Half the pool must be free or evictable: a kept session holding 10 of the 16 blocks
  // makes the replica not ready; deleted, its blocks stay cached but evictable: ready.
  o.service_name = "half";
  o.kv_headroom = 0.5;
  {
    ReadinessWatcher w(t.engine.get(), &health, o);
    w.Start();
    ASSERT_TRUE(health.WaitFor("half", true));
    GenerateSpec spec;
    spec.keep_session = true;
    for (int i = 0; i < 160; ++i) spec.input.push_back(10 + i % 50);
    testing::Collector c;
    ASSERT_TRUE(t.engine->Submit(std::move(spec), c.Callbacks()).ok());
    const testing::Result r = c.Wait();
    ASSERT_TRUE(r.outcome.status.ok()) << r.outcome.status;
    EXPECT_TRUE(health.WaitFor("half", false));
    const std::string id = r.outcome.session_id;
    t.engine->Post([&t, id] { EXPECT_TRUE(t.engine->DeleteSessionOnLoop(id).ok()); });
    EXPECT_TRUE(health.WaitFor("half", true));
  }

  // Once the engine stops, not ready.
  o.service_name = "stopping";
  o.kv_headroom = 0.05;
  ReadinessWatcher w(t.engine.get(), &health, o);
  w.Start();
  ASSERT_TRUE(health.WaitFor("stopping", true));
  t.engine->Stop();
  EXPECT_TRUE(health.WaitFor("stopping", false));
}

}  // namespace
}  // namespace radixserve::service
