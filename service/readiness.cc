#include "service/readiness.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace radixserve::service {

int32_t RequiredHeadroomBlocks(const ReadinessOptions& options, int32_t device_blocks) {
  const double fraction = std::clamp(options.kv_headroom, 0.0, 1.0);
  const auto blocks = static_cast<int32_t>(std::ceil(fraction * static_cast<double>(device_blocks)));
  return std::max<int32_t>(1, blocks);
}

bool IsReady(const ReadinessOptions& options, const ReadinessSample& sample) {
  if (!sample.engine_running) return false;
  if (sample.available_blocks < RequiredHeadroomBlocks(options, sample.device_blocks)) return false;
  if (options.max_queue_depth >= 0 && sample.queued > options.max_queue_depth) return false;
  return true;
}

ReadinessWatcher::ReadinessWatcher(Engine* engine, grpc::HealthCheckServiceInterface* health,
                                   ReadinessOptions options)
    : engine_(engine), health_(health), options_(std::move(options)) {
  Update(false);
}

ReadinessWatcher::~ReadinessWatcher() { Drain(); }

void ReadinessWatcher::Start() {
  if (thread_.joinable()) return;
  {
    absl::MutexLock lock(&mu_);
    if (draining_) return;
  }
  thread_ = std::thread([this] { Run(); });
}

void ReadinessWatcher::Drain() {
  {
    absl::MutexLock lock(&mu_);
    if (!draining_) {
      draining_ = true;
      ready_ = false;
      if (health_ != nullptr) health_->SetServingStatus(options_.service_name, false);
      published_ = true;
    }
  }
  if (thread_.joinable()) thread_.join();
}

bool ReadinessWatcher::ready() const {
  absl::MutexLock lock(&mu_);
  return ready_;
}

namespace {

// Where the loop-side task leaves its answer; shared so that a late answer (the loop
// was busy with a long step) lands somewhere valid after the watcher stopped waiting.
struct SampleSlot {
  absl::Mutex mu;
  bool done ABSL_GUARDED_BY(mu) = false;
  int32_t device_blocks ABSL_GUARDED_BY(mu) = 0;
  int32_t available_blocks ABSL_GUARDED_BY(mu) = 0;
};

}  // namespace

bool ReadinessWatcher::Sample(ReadinessSample* out, absl::Duration timeout) {
  auto slot = std::make_shared<SampleSlot>();
  Engine* engine = engine_;
  const bool posted = engine->Post([engine, slot] {
    const cache::CacheStats stats = engine->CacheStatsOnLoop();
    absl::MutexLock lock(&slot->mu);
    slot->device_blocks = stats.device_blocks;
    slot->available_blocks = stats.device_free + static_cast<int32_t>(stats.tree.evictable_blocks);
    slot->done = true;
  });
  if (!posted) {
    out->engine_running = false;
    return true;
  }
  absl::MutexLock lock(&slot->mu);
  auto done = [&slot]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(slot->mu) { return slot->done; };
  if (!slot->mu.AwaitWithTimeout(absl::Condition(&done), timeout)) return false;
  out->engine_running = true;
  out->device_blocks = slot->device_blocks;
  out->available_blocks = slot->available_blocks;
  out->queued = engine_->counters().queued;
  return true;
}

void ReadinessWatcher::Update(bool ready) {
  absl::MutexLock lock(&mu_);
  if (draining_) return;  // Drain() has the last word
  if (published_ && ready == ready_) return;
  ready_ = ready;
  published_ = true;
  if (health_ != nullptr) health_->SetServingStatus(options_.service_name, ready);
}

void ReadinessWatcher::Run() {
  const absl::Duration interval = std::max(options_.interval, absl::Milliseconds(10));
  // A loop stuck in one step longer than this keeps the last verdict.
  const absl::Duration answer_timeout = std::max(interval * 4, absl::Seconds(2));
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (draining_) return;
    }
    ReadinessSample sample;
    if (Sample(&sample, answer_timeout)) Update(IsReady(options_, sample));
    absl::MutexLock lock(&mu_);
    auto draining = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return draining_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&draining), interval)) return;
  }
}

}  // namespace radixserve::service
