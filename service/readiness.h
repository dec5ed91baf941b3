// Readiness: a named grpc.health.v1 service ("radixserve.ready" by default) that says
// whether this replica should take NEW work, separate from the overall health ("")
// that says whether the process is alive and serving at all.
//
//   ""                  SERVING from start until shutdown      -> liveness probes
//   "radixserve.ready"  SERVING while not draining, and the     -> readiness probes,
//                       device KV pool has headroom (free +        load balancer
//                       evictable blocks >= the headroom), and     health checks
//                       (optionally) the queue is short
//
// A small watcher thread samples the engine every `interval` (a task Post()ed to the
// engine loop reads the cache stats; the thread never touches loop state) and updates
// the health service when the verdict changes. Drain() (graceful shutdown) sets
// NOT_SERVING for good and stops the thread.
//
// THREADING: Start/Drain/destructor from the owning thread; ready() from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/health_check_service_interface.h"
#include "service/engine.h"

namespace radixserve::service {

struct ReadinessOptions {
  std::string service_name = "radixserve.ready";
  // Fraction of the device KV blocks that must be free or evictable to be ready.
  double kv_headroom = 0.05;
  // Queued requests (waiting or preempted) above which the replica is not ready
  // (negative: ignored).
  int64_t max_queue_depth = -1;
  absl::Duration interval = absl::Milliseconds(500);
};

// One observation of the engine.
struct ReadinessSample {
  bool engine_running = true;   // false once the engine refuses work (stopped)
  int32_t device_blocks = 0;    // device KV pool size
  int32_t available_blocks = 0; // free + evictable (prefix-cache blocks no session holds)
  int64_t queued = 0;           // requests waiting for admission or preempted
};

// Blocks that must be available: ceil(kv_headroom * device_blocks), at least 1.
int32_t RequiredHeadroomBlocks(const ReadinessOptions& options, int32_t device_blocks);
// The verdict for one sample (draining is handled by the watcher).
bool IsReady(const ReadinessOptions& options, const ReadinessSample& sample);

class ReadinessWatcher {
 public:
  // `engine` and `health` must outlive the watcher. Sets the named service
  // NOT_SERVING until the first sample says otherwise.
  ReadinessWatcher(Engine* engine, grpc::HealthCheckServiceInterface* health, ReadinessOptions options);
  ~ReadinessWatcher();  // Drain()s

  ReadinessWatcher(const ReadinessWatcher&) = delete;
  ReadinessWatcher& operator=(const ReadinessWatcher&) = delete;

  void Start();
  // NOT_SERVING from now on; stops the watcher thread. Idempotent.
  void Drain();
  bool ready() const;
  const ReadinessOptions& options() const { return options_; }

 private:
  void Run();
  // Samples the engine through its loop; false when no answer came within `timeout`.
  bool Sample(ReadinessSample* out, absl::Duration timeout);
  void Update(bool ready);

  Engine* engine_;
  grpc::HealthCheckServiceInterface* health_;
  const ReadinessOptions options_;

  mutable absl::Mutex mu_;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool ready_ ABSL_GUARDED_BY(mu_) = false;
  bool published_ ABSL_GUARDED_BY(mu_) = false;  // a status was set at least once
  std::thread thread_;
};

}  // namespace radixserve::service
