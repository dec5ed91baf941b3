// Server: the gRPC server around one Engine: Inference, Cache and Model services, the
// standard grpc.health.v1 Health service and server reflection; graceful shutdown.
//
// Threading: Start/Shutdown/Wait from the owning (main) thread; services run on gRPC's
// callback threads and talk to the engine only through Submit/Post.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "service/cache_service.h"
#include "service/inference_service.h"
#include "service/readiness.h"
#include "service/rpc_context.h"

namespace radixserve::service {

class Server {
 public:
  // Listens on `address` ("0.0.0.0:50051"; port 0 picks a free one). `engine` must be
  // started and outlive the server; `metrics` may be null; `credentials` null = insecure
  // (service/tls_credentials.h builds TLS ones).
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      Engine* engine, Metrics* metrics, const std::string& address, int max_message_bytes,
      std::shared_ptr<grpc::ServerCredentials> credentials = nullptr);
  ~Server();

  int port() const { return port_; }
  // Health goes NOT_SERVING and new calls are refused (UNAVAILABLE); running calls get
  // `grace` to finish, then are cancelled (their engine requests end between steps).
  // Returns when every call has completed.
  void Shutdown(absl::Duration grace);
  // Publishes readiness as the named health service `options.service_name` (NOT_SERVING
  // while draining or short of KV headroom; service/readiness.h). Call once after Start.
  void EnableReadiness(ReadinessOptions options);

 private:
  Server() = default;

  RpcContext ctx_;
  std::unique_ptr<InferenceService> inference_;
  std::unique_ptr<CacheService> cache_;
  std::unique_ptr<ModelService> model_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<ReadinessWatcher> readiness_;  // destroyed (stopped) before server_
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace radixserve::service
