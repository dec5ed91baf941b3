// radixserve.v1.Cache and radixserve.v1.Model. Cache handlers post their work to the
// engine loop (which owns the KV bookkeeping) and finish from there.
#pragma once

#include "radixserve/v1/cache.grpc.pb.h"
#include "radixserve/v1/model.grpc.pb.h"
#include "service/rpc_context.h"

namespace radixserve::service {

class CacheService final : public v1::Cache::CallbackService {
 public:
  explicit CacheService(RpcContext* context) : ctx_(context) {}

  grpc::ServerUnaryReactor* CreateSession(grpc::CallbackServerContext* call, const v1::CreateSessionRequest* request,
                                          v1::Session* response) override;
  grpc::ServerUnaryReactor* GetSession(grpc::CallbackServerContext* call, const v1::GetSessionRequest* request,
                                       v1::Session* response) override;
  grpc::ServerUnaryReactor* ListSessions(grpc::CallbackServerContext* call, const v1::ListSessionsRequest* request,
                                         v1::ListSessionsResponse* response) override;
  grpc::ServerUnaryReactor* ForkSession(grpc::CallbackServerContext* call, const v1::ForkSessionRequest* request,
                                        v1::Session* response) override;
  grpc::ServerUnaryReactor* TruncateSession(grpc::CallbackServerContext* call,
                                            const v1::TruncateSessionRequest* request, v1::Session* response) override;
  grpc::ServerUnaryReactor* DeleteSession(grpc::CallbackServerContext* call, const v1::DeleteSessionRequest* request,
                                          v1::DeleteSessionResponse* response) override;
  grpc::ServerUnaryReactor* PinSession(grpc::CallbackServerContext* call, const v1::PinSessionRequest* request,
                                       v1::Session* response) override;
  grpc::ServerUnaryReactor* UnpinSession(grpc::CallbackServerContext* call, const v1::UnpinSessionRequest* request,
                                         v1::Session* response) override;
  grpc::ServerUnaryReactor* OffloadSession(grpc::CallbackServerContext* call, const v1::OffloadSessionRequest* request,
                                           v1::Session* response) override;
  grpc::ServerUnaryReactor* RestoreSession(grpc::CallbackServerContext* call, const v1::RestoreSessionRequest* request,
                                           v1::Session* response) override;
  grpc::ServerUnaryReactor* GetCacheStats(grpc::CallbackServerContext* call, const v1::GetCacheStatsRequest* request,
                                          v1::CacheStats* response) override;
  grpc::ServerUnaryReactor* ClearPrefixCache(grpc::CallbackServerContext* call,
                                             const v1::ClearPrefixCacheRequest* request,
                                             v1::ClearPrefixCacheResponse* response) override;

 private:
  RpcContext* ctx_;
};

class ModelService final : public v1::Model::CallbackService {
 public:
  explicit ModelService(RpcContext* context) : ctx_(context) {}
  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* call, const v1::GetModelInfoRequest* request,
                                         v1::ModelInfo* response) override;

 private:
  RpcContext* ctx_;
};

}  // namespace radixserve::service
