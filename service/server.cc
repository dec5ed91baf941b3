#include "service/server.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace radixserve::service {

absl::StatusOr<std::unique_ptr<Server>> Server::Start(Engine* engine, Metrics* metrics, const std::string& address,
                                                      int max_message_bytes,
                                                      std::shared_ptr<grpc::ServerCredentials> credentials) {
  std::unique_ptr<Server> s(new Server());
  s->ctx_.engine = engine;
  s->ctx_.metrics = metrics;
  s->inference_ = std::make_unique<InferenceService>(&s->ctx_);
  s->cache_ = std::make_unique<CacheService>(&s->ctx_);
  s->model_ = std::make_unique<ModelService>(&s->ctx_);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, credentials != nullptr ? credentials : grpc::InsecureServerCredentials(),
                           &s->port_);
  builder.SetMaxReceiveMessageSize(max_message_bytes);
  builder.SetMaxSendMessageSize(max_message_bytes);
  builder.RegisterService(s->inference_.get());
  builder.RegisterService(s->cache_.get());
  builder.RegisterService(s->model_.get());
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || s->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address));
  }
  if (auto* health = s->server_->GetHealthCheckService(); health != nullptr) health->SetServingStatus(true);
  return s;
}

Server::~Server() { Shutdown(absl::ZeroDuration()); }

void Server::EnableReadiness(ReadinessOptions options) {
  if (readiness_ != nullptr || shut_down_) return;
  readiness_ = std::make_unique<ReadinessWatcher>(ctx_.engine, server_->GetHealthCheckService(), std::move(options));
  readiness_->Start();
}

void Server::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  if (readiness_ != nullptr) readiness_->Drain();
  ctx_.accepting.store(false);
  if (auto* health = server_->GetHealthCheckService(); health != nullptr) health->SetServingStatus(false);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
}

}  // namespace radixserve::service
