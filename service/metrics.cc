#include "service/metrics.h"

#include <exception>

#include "absl/strings/str_cat.h"

namespace radixserve::service {
namespace {

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* b = new prometheus::Histogram::BucketBoundaries{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return *b;
}

const char* CodeName(grpc::StatusCode code) {
  static const char* kNames[] = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
                                 "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
                                 "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
                                 "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
  const int i = static_cast<int>(code);
  return i >= 0 && i < 17 ? kNames[i] : "UNKNOWN";
}

prometheus::Histogram* NewHistogram(prometheus::Registry& r, const char* name, const char* help,
                                    const prometheus::Histogram::BucketBoundaries& buckets) {
  return &prometheus::BuildHistogram().Name(name).Help(help).Register(r).Add({}, buckets);
}
prometheus::Counter* NewCounter(prometheus::Registry& r, const char* name, const char* help) {
  return &prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}
prometheus::Gauge* NewGauge(prometheus::Registry& r, const char* name, const char* help) {
  return &prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  prometheus::Registry& r = *registry_;
  requests_ = &prometheus::BuildCounter()
                   .Name("radixserve_requests_total")
                   .Help("RPCs completed, by method and gRPC status code")
                   .Register(r);
  latency_ = &prometheus::BuildHistogram()
                  .Name("radixserve_request_duration_seconds")
                  .Help("RPC latency from arrival to completion, by method")
                  .Register(r);
  ttft_ = NewHistogram(r, "radixserve_time_to_first_token_seconds", "Time from arrival to the first generated token",
                       LatencyBuckets());
  tpot_ = NewHistogram(r, "radixserve_time_per_output_token_seconds",
                       "Mean time per generated token after the first, per request",
                       {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1});
  prompt_tokens_ = NewCounter(r, "radixserve_prompt_tokens_total", "Tokens appended to sessions by requests");
  cached_tokens_ = NewCounter(r, "radixserve_cached_tokens_total",
                              "Prompt tokens served from the prefix cache (hit ratio = this / prompt tokens)");
  generated_tokens_ = NewCounter(r, "radixserve_generated_tokens_total", "Tokens generated");
  kv_total_ = NewGauge(r, "radixserve_kv_device_blocks", "KV blocks in the device pool");
  kv_used_ = NewGauge(r, "radixserve_kv_device_blocks_used", "Device KV blocks held by sessions or the prefix cache");
  kv_host_total_ = NewGauge(r, "radixserve_kv_host_blocks", "KV blocks in the host swap pool");
  kv_host_used_ = NewGauge(r, "radixserve_kv_host_blocks_used", "Host KV blocks holding swapped sessions");
  sessions_ = NewGauge(r, "radixserve_sessions", "Live sessions");
  queued_ = NewGauge(r, "radixserve_queue_depth", "Requests waiting for admission or preempted");
  running_ = NewGauge(r, "radixserve_running_requests", "Requests in the running batch");
  ready_ = NewGauge(r, "radixserve_ready",
                    "1 when a new request can be admitted now (nothing queued, free or evictable device KV blocks), else 0");
  step_sequences_ = NewHistogram(r, "radixserve_step_batch_sequences", "Sequences per engine step",
                                 {1, 2, 4, 8, 16, 32, 64, 128, 256});
  step_tokens_ = NewHistogram(r, "radixserve_step_batch_tokens", "Tokens per engine step",
                              {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048});
  step_seconds_ = NewHistogram(r, "radixserve_step_duration_seconds", "Duration of one engine step",
                               {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
}

Metrics::~Metrics() = default;

absl::Status Metrics::Serve(const std::string& address) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(address);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("metrics endpoint on ", address, ": ", e.what()));
  }
  exposer_->RegisterCollectable(registry_);
  return absl::OkStatus();
}

int Metrics::port() const {
  if (exposer_ == nullptr) return 0;
  const std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

void Metrics::RecordRpc(std::string_view method, grpc::StatusCode code, double seconds) {
  const std::string m(method);
  requests_->Add({{"method", m}, {"code", CodeName(code)}}).Increment();
  latency_->Add({{"method", m}}, LatencyBuckets()).Observe(seconds);
}

void Metrics::OnStep(int32_t num_sequences, int32_t num_tokens, double seconds) {
  step_sequences_->Observe(num_sequences);
  step_tokens_->Observe(num_tokens);
  step_seconds_->Observe(seconds);
}

void Metrics::OnRequestDone(const GenerateOutcome& o) {
  prompt_tokens_->Increment(static_cast<double>(o.prompt_tokens));
  cached_tokens_->Increment(static_cast<double>(o.cached_tokens));
  generated_tokens_->Increment(static_cast<double>(o.generated_tokens));
  if (o.generated_tokens > 0) ttft_->Observe(o.ttft_ms / 1e3);
  if (o.generated_tokens > 1) tpot_->Observe((o.total_ms - o.ttft_ms) / 1e3 / static_cast<double>(o.generated_tokens - 1));
}

void Metrics::OnGauges(int64_t queued, int64_t running, int32_t device_blocks, int32_t device_free,
                       int32_t device_available, int32_t host_blocks, int32_t host_free, int64_t sessions) {
  kv_total_->Set(device_blocks);
  kv_used_->Set(device_blocks - device_free);
  kv_host_total_->Set(host_blocks);
  kv_host_used_->Set(host_blocks - host_free);
  sessions_->Set(static_cast<double>(sessions));
  queued_->Set(static_cast<double>(queued));
  running_->Set(static_cast<double>(running));
  ready_->Set(queued == 0 && device_available > 0 ? 1 : 0);
}

}  // namespace radixserve::service
