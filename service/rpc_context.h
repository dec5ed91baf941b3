// What every service handler needs: the engine, metrics, and the server's
// accepting-calls switch (off during graceful shutdown).
#pragma once

#include <atomic>
#include <chrono>
#include <string_view>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/server_context.h"
#include "service/engine.h"
#include "service/metrics.h"

namespace radixserve::service {

struct RpcContext {
  Engine* engine = nullptr;
  Metrics* metrics = nullptr;  // may be null (tests)
  std::atomic<bool> accepting{true};

  void Record(std::string_view method, const grpc::Status& status, absl::Time start) const {
    if (metrics != nullptr) metrics->RecordRpc(method, status.error_code(), absl::ToDoubleSeconds(absl::Now() - start));
  }
};

// The call's deadline as absl::Time (InfiniteFuture when none).
inline absl::Time DeadlineOf(const grpc::CallbackServerContext* ctx) {
  const auto deadline = ctx->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

}  // namespace radixserve::service
