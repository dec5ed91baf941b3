#include "service/cache_service.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "service/convert.h"

namespace radixserve::service {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

// Runs `work` (returning absl::Status) on the engine loop and finishes the call with
// its status. The DefaultReactor is owned and deleted by gRPC after Finish.
template <typename Work>
grpc::ServerUnaryReactor* OnLoop(RpcContext* ctx, grpc::CallbackServerContext* call, const char* method, Work work) {
  grpc::ServerUnaryReactor* reactor = call->DefaultReactor();
  const absl::Time start = absl::Now();
  auto finish = [ctx, reactor, start, method](const absl::Status& s) {
    const grpc::Status status = ToGrpc(s);
    ctx->Record(method, status, start);
    reactor->Finish(status);
  };
  if (!ctx->accepting.load() ||
      !ctx->engine->Post([work = std::move(work), finish]() mutable { finish(work()); })) {
    finish(absl::UnavailableError("server is shutting down"));
  }
  return reactor;
}

absl::Status Fill(absl::StatusOr<SessionView> view, v1::Session* out) {
  if (view.ok()) ToProto(*view, out);
  return view.status();
}

}  // namespace

grpc::ServerUnaryReactor* CacheService::CreateSession(grpc::CallbackServerContext* call,
                                                      const v1::CreateSessionRequest* request, v1::Session* response) {
  grpc::ServerUnaryReactor* reactor = call->DefaultReactor();
  const absl::Time start = absl::Now();
  RpcContext* ctx = ctx_;
  auto finish = [ctx, reactor, start](const absl::Status& s) {
    const grpc::Status status = ToGrpc(s);
    ctx->Record("CreateSession", status, start);
    reactor->Finish(status);
  };
  auto tokens = InputTokens(request->input(), ctx_->engine->tokenizer());
  if (!tokens.ok()) {
    finish(tokens.status());
    return reactor;
  }
  if (request->ttl_seconds() < 0 || request->idle_timeout_seconds() < 0 || request->max_blocks() < 0) {
    finish(absl::InvalidArgumentError("ttl_seconds, idle_timeout_seconds and max_blocks must be >= 0"));
    return reactor;
  }
  // A compute-only request on a new kept session: its input's KV is computed (prefix
  // cache reused) and nothing is sampled.
  GenerateSpec spec;
  spec.keep_session = true;
  spec.input = std::move(*tokens);
  spec.session_options.ttl = absl::Seconds(request->ttl_seconds());
  spec.session_options.idle_timeout = absl::Seconds(request->idle_timeout_seconds());
  spec.session_options.max_blocks = request->max_blocks();
  spec.deadline = DeadlineOf(call);
  spec.operation = "CreateSession";
  Engine* engine = ctx_->engine;
  GenerateCallbacks callbacks;
  callbacks.on_done = [engine, response, finish](GenerateOutcome o) {  // loop thread
    finish(o.status.ok() ? Fill(engine->GetSessionOnLoop(o.session_id), response) : o.status);
  };
  if (!ctx_->accepting.load()) {
    finish(absl::UnavailableError("server is shutting down"));
    return reactor;
  }
  auto handle = engine->Submit(std::move(spec), std::move(callbacks));
  if (!handle.ok()) finish(handle.status());
  return reactor;
}

grpc::ServerUnaryReactor* CacheService::RestoreSession(grpc::CallbackServerContext* call,
                                                       const v1::RestoreSessionRequest* request, v1::Session* response) {
  grpc::ServerUnaryReactor* reactor = call->DefaultReactor();
  const absl::Time start = absl::Now();
  RpcContext* ctx = ctx_;
  auto finish = [ctx, reactor, start](const absl::Status& s) {
    const grpc::Status status = ToGrpc(s);
    ctx->Record("RestoreSession", status, start);
    reactor->Finish(status);
  };
  if (request->session_id().empty()) {
    finish(absl::InvalidArgumentError("session_id is empty"));
    return reactor;
  }
  // Restoring may mean recomputing dropped KV: a compute-only engine request does both.
  GenerateSpec spec;
  spec.session_id = request->session_id();
  spec.require_swapped = true;
  spec.deadline = DeadlineOf(call);
  spec.operation = "RestoreSession";
  Engine* engine = ctx_->engine;
  GenerateCallbacks callbacks;
  const std::string id = request->session_id();
  callbacks.on_done = [engine, response, finish, id](GenerateOutcome o) {
    finish(o.status.ok() ? Fill(engine->GetSessionOnLoop(id), response) : o.status);
  };
  if (!ctx_->accepting.load()) {
    finish(absl::UnavailableError("server is shutting down"));
    return reactor;
  }
  auto handle = engine->Submit(std::move(spec), std::move(callbacks));
  if (!handle.ok()) finish(handle.status());
  return reactor;
}

grpc::ServerUnaryReactor* CacheService::GetSession(grpc::CallbackServerContext* call,
                                                   const v1::GetSessionRequest* request, v1::Session* response) {
  Engine* e = ctx_->engine;
  return OnLoop(ctx_, call, "GetSession", [e, id = request->session_id(), response] {
    return Fill(e->GetSessionOnLoop(id), response);
  });
}

grpc::ServerUnaryReactor* CacheService::ListSessions(grpc::CallbackServerContext* call,
                                                     const v1::ListSessionsRequest* request,
                                                     v1::ListSessionsResponse* response) {
  Engine* e = ctx_->engine;
  const int page = request->page_size();
  if (page < 0 || page > kMaxPageSize) {
    return OnLoop(ctx_, call, "ListSessions",
                  [] { return absl::InvalidArgumentError("page_size must be in [0, 1000]"); });
  }
  return OnLoop(ctx_, call, "ListSessions",
                [e, size = page == 0 ? kDefaultPageSize : page, after = request->page_token(), response] {
                  // Sessions sorted by id; the page token is the last id of the previous page.
                  std::vector<SessionView> all = e->ListSessionsOnLoop();
                  response->set_total_sessions(static_cast<int64_t>(all.size()));
                  auto it = std::upper_bound(all.begin(), all.end(), after, [](const std::string& a, const SessionView& v) {
                    return a < v.info.id;
                  });
                  if (after.empty()) it = all.begin();
                  for (int n = 0; it != all.end() && n < size; ++it, ++n) ToProto(*it, response->add_sessions());
                  if (it != all.end()) response->set_next_page_token(response->sessions().rbegin()->session_id());
                  return absl::OkStatus();
                });
}

grpc::ServerUnaryReactor* CacheService::ForkSession(grpc::CallbackServerContext* call,
                                                    const v1::ForkSessionRequest* request, v1::Session* response) {
  Engine* e = ctx_->engine;
  return OnLoop(ctx_, call, "ForkSession", [e, id = request->session_id(), response] {
    return Fill(e->ForkSessionOnLoop(id), response);
  });
}

grpc::ServerUnaryReactor* CacheService::TruncateSession(grpc::CallbackServerContext* call,
                                                        const v1::TruncateSessionRequest* request,
                                                        v1::Session* response) {
  Engine* e = ctx_->engine;
  return OnLoop(ctx_, call, "TruncateSession", [e, id = request->session_id(), n = request->num_tokens(), response] {
    return Fill(e->TruncateSessionOnLoop(id, n), response);
  });
}

grpc::ServerUnaryReactor* CacheService::DeleteSession(grpc::CallbackServerContext* call,
                                                      const v1::DeleteSessionRequest* request,
                                                      v1::DeleteSessionResponse* response) {
  Engine* e = ctx_->engine;
  return OnLoop(ctx_, call, "DeleteSession", [e, id = request->session_id()] { return e->DeleteSessionOnLoop(id); });
}

grpc::ServerUnaryReactor* CacheService::PinSession(grpc::CallbackServerContext* call,
                                                   const v1::PinSessionRequest* request, v1::Session* response) {
  Engine* e = ctx_->engine;
  return OnLoop(ctx_, call, "PinSession", [e, id = request->session_id(), response] {
    return Fill(e->PinSessionOnLoop(id, true), response);
  });
}

grpc::ServerUnaryReactor* CacheService::UnpinSession(grpc::CallbackServerContext* call,
                                                     const v1::UnpinSessionRequest* request, v1::Session* response) {
  Engine* e = ctx_->engine;
  return OnLoop(ctx_, call, "UnpinSession", [e, id = request->session_id(), response] {
    return Fill(e->PinSessionOnLoop(id, false), response);
  });
}

grpc::ServerUnaryReactor* CacheService::OffloadSession(grpc::CallbackServerContext* call,
                                                       const v1::OffloadSessionRequest* request, v1::Session* response) {
  Engine* e = ctx_->engine;
  return OnLoop(ctx_, call, "OffloadSession", [e, id = request->session_id(), response] {
    return Fill(e->OffloadSessionOnLoop(id), response);
  });
}

grpc::ServerUnaryReactor* CacheService::GetCacheStats(grpc::CallbackServerContext* call,
                                                      const v1::GetCacheStatsRequest* request,
                                                      v1::CacheStats* response) {
  Engine* e = ctx_->engine;
  return OnLoop(ctx_, call, "GetCacheStats", [e, all = request->include_sessions(), response] {
    const cache::CacheStats s = e->CacheStatsOnLoop();
    const EngineCounters c = e->counters();
    response->set_block_size(s.block_size);
    response->set_device_blocks(s.device_blocks);
    response->set_device_free_blocks(s.device_free);
    response->set_host_blocks(s.host_blocks);
    response->set_host_free_blocks(s.host_free);
    response->set_pinned_blocks(s.pinned_blocks);
    response->set_max_pinned_blocks(s.max_pinned_blocks);
    response->set_num_sessions(s.num_sessions);
    response->set_swapped_sessions(s.swapped_sessions);
    response->set_tree_nodes(s.tree.num_nodes);
    response->set_tree_blocks(s.tree.cached_blocks);
    response->set_evictable_blocks(s.tree.evictable_blocks);
    response->set_prefix_query_tokens(s.tree.queried_tokens);
    response->set_prefix_hit_tokens(s.tree.hit_tokens);
    response->set_preemptions(c.preemptions);
    response->set_queued_requests(c.queued);
    response->set_running_requests(c.running);
    if (all) {
      for (const SessionView& v : e->ListSessionsOnLoop()) ToProto(v, response->add_sessions());
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* CacheService::ClearPrefixCache(grpc::CallbackServerContext* call,
                                                         const v1::ClearPrefixCacheRequest* request,
                                                         v1::ClearPrefixCacheResponse* response) {
  Engine* e = ctx_->engine;
  return OnLoop(ctx_, call, "ClearPrefixCache", [e, response] {
    response->set_blocks_freed(e->ClearPrefixCacheOnLoop());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ModelService::GetModelInfo(grpc::CallbackServerContext* call,
                                                     const v1::GetModelInfoRequest* request, v1::ModelInfo* response) {
  grpc::ServerUnaryReactor* reactor = call->DefaultReactor();
  const absl::Time start = absl::Now();
  const Engine& e = *ctx_->engine;
  const backend::ModelInfo& m = e.model_info();
  const model::ModelConfig& c = m.config;
  response->set_name(m.name);
  response->set_architecture(std::string(model::ArchName(c.arch)));
  response->set_format(m.format);
  response->set_weight_type(m.weight_type);
  response->set_num_parameters(m.num_parameters);
  response->set_vocab_size(static_cast<int32_t>(c.vocab_size));
  response->set_context_length(e.options().context_length);
  response->set_num_layers(static_cast<int32_t>(c.num_layers));
  response->set_hidden_size(static_cast<int32_t>(c.hidden_size));
  response->set_num_heads(static_cast<int32_t>(c.num_heads));
  response->set_num_kv_heads(static_cast<int32_t>(c.num_kv_heads));
  response->set_head_dim(static_cast<int32_t>(c.head_dim));
  response->set_bos_token_id(c.bos_token_id.value_or(-1));
  response->mutable_eos_token_ids()->Add(c.eos_token_ids.begin(), c.eos_token_ids.end());
  response->set_backend(std::string(e.backend_name()));
  response->set_block_size(e.kv_layout().block_size);
  response->set_kv_device_blocks(e.kv_layout().num_device_blocks);
  response->set_kv_host_blocks(e.kv_layout().num_host_blocks);
  response->set_kv_capacity_tokens(e.kv_layout().num_device_blocks * e.kv_layout().block_size);
  response->set_max_prompt_tokens(e.options().max_prompt_tokens);
  response->set_max_tokens_per_request(e.options().max_tokens_per_request);
  response->set_max_sessions(e.options().max_sessions);
  ctx_->Record("GetModelInfo", grpc::Status::OK, start);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace radixserve::service
