// radixserve.v1.Inference over the engine (gRPC callback API; never blocks a gRPC
// thread on the engine: replies are finished from engine callbacks).
#pragma once

#include "radixserve/v1/inference.grpc.pb.h"
#include "service/rpc_context.h"

namespace radixserve::service {

class InferenceService final : public v1::Inference::CallbackService {
 public:
  explicit InferenceService(RpcContext* context) : ctx_(context) {}

  grpc::ServerUnaryReactor* Prefill(grpc::CallbackServerContext* call, const v1::PrefillRequest* request,
                                    v1::PrefillResponse* response) override;
  grpc::ServerUnaryReactor* Decode(grpc::CallbackServerContext* call, const v1::DecodeRequest* request,
                                   v1::DecodeResponse* response) override;
  grpc::ServerWriteReactor<v1::GenerateResponse>* Generate(grpc::CallbackServerContext* call,
                                                           const v1::GenerateRequest* request) override;
  grpc::ServerUnaryReactor* Tokenize(grpc::CallbackServerContext* call, const v1::TokenizeRequest* request,
                                     v1::TokenizeResponse* response) override;
  grpc::ServerUnaryReactor* Detokenize(grpc::CallbackServerContext* call, const v1::DetokenizeRequest* request,
                                       v1::DetokenizeResponse* response) override;

 private:
  RpcContext* ctx_;
};

}  // namespace radixserve::service
