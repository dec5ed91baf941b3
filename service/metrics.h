// Prometheus metrics (prometheus-cpp), served as text on their own HTTP port.
// Every metric name starts with radixserve_. Thread-safe: RPC threads record requests,
// the engine loop records steps and gauges (as the EngineObserver).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "service/engine_types.h"

namespace radixserve::service {

class Metrics final : public EngineObserver {
 public:
  Metrics();
  ~Metrics() override;

  // Starts the HTTP endpoint (/metrics) on `address` ("0.0.0.0:9090").
  absl::Status Serve(const std::string& address);
  int port() const;  // the HTTP port bound (after Serve), else 0
  void RecordRpc(std::string_view method, grpc::StatusCode code, double seconds);

  void OnStep(int32_t num_sequences, int32_t num_tokens, double seconds) override;
  void OnRequestDone(const GenerateOutcome& outcome) override;
  void OnGauges(int64_t queued, int64_t running, int32_t device_blocks, int32_t device_free,
                int32_t device_available, int32_t host_blocks,
                int32_t host_free, int64_t sessions) override;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* latency_;
  prometheus::Histogram* ttft_;
  prometheus::Histogram* tpot_;
  prometheus::Counter* prompt_tokens_;
  prometheus::Counter* cached_tokens_;
  prometheus::Counter* generated_tokens_;
  prometheus::Gauge* kv_total_;
  prometheus::Gauge* kv_used_;
  prometheus::Gauge* kv_host_total_;
  prometheus::Gauge* kv_host_used_;
  prometheus::Gauge* sessions_;
  prometheus::Gauge* queued_;
  prometheus::Gauge* running_;
  prometheus::Gauge* ready_;
  prometheus::Histogram* step_sequences_;
  prometheus::Histogram* step_tokens_;
  prometheus::Histogram* step_seconds_;
};

}  // namespace radixserve::service
