#include "service/inference_service.h"

#include <deque>
#include <memory>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "service/convert.h"

namespace radixserve::service {
namespace {

grpc::Status Unavailable() { return grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is shutting down"); }

// Streams one Generate call. Engine callbacks (loop thread) queue chunks; gRPC's
// OnWriteDone pulls the next one; nothing blocks. Tokens that arrive while a write is
// in flight are merged into the next chunk.
//
// Lifetime: gRPC owns the reactor from Generate() until OnDone(), which deletes it.
// OnDone comes only after Finish(), and Finish() only after the engine's on_done (or a
// failed Submit), so no engine callback can reach a deleted reactor.
class GenerateReactor final : public grpc::ServerWriteReactor<v1::GenerateResponse> {
 public:
  GenerateReactor(RpcContext* ctx, grpc::CallbackServerContext* call, const v1::GenerateRequest& request)
      : ctx_(ctx), start_(absl::Now()) {
    if (!ctx_->accepting.load()) {
      FinishNow(Unavailable());
      return;
    }
    Engine& engine = *ctx_->engine;
    auto tokens = InputTokens(request.input(), engine.tokenizer());
    if (!tokens.ok()) {
      FinishNow(ToGrpc(tokens.status()));
      return;
    }
    GenerateSpec spec;
    spec.session_id = request.session_id();
    spec.keep_session = request.keep_session();
    spec.input = std::move(*tokens);
    ApplySampling(request.sampling(), &spec);
    ApplyStop(request.stop(), engine.options().default_max_tokens, &spec);
    if (spec.max_tokens == 0) spec.max_tokens = 1;
    spec.deadline = DeadlineOf(call);
    logprobs_ = spec.logprobs;
    GenerateCallbacks callbacks;
    callbacks.on_token = [this](const TokenEvent& e) { OnToken(e); };
    callbacks.on_done = [this](GenerateOutcome o) { OnEngineDone(std::move(o)); };
    auto handle = engine.Submit(std::move(spec), std::move(callbacks));
    if (!handle.ok()) {
      FinishNow(ToGrpc(handle.status()));
      return;
    }
    absl::MutexLock lock(&mu_);
    handle_ = *handle;
    if (cancelled_) handle_->Cancel();
  }

  void OnWriteDone(bool ok) override {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {
        // The client is gone: stop generating; Finish once the engine reports.
        queue_.clear();
        if (handle_ != nullptr) handle_->Cancel();
      }
      action = NextAction();
    }
    Run(action);
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (handle_ != nullptr) handle_->Cancel();
  }

  void OnDone() override { delete this; }

 private:
  enum class Action { kNone, kWrite, kFinish };

  void OnToken(const TokenEvent& e) {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      v1::GenerateResponse* chunk = Tail();
      ToProto(e, logprobs_, chunk->add_tokens());
      chunk->mutable_text()->append(e.text);
      action = NextAction();
    }
    Run(action);
  }

  void OnEngineDone(GenerateOutcome o) {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      status_ = ToGrpc(o.status);
      if (o.status.ok()) {
        v1::GenerateResponse* chunk = Tail();
        chunk->mutable_text()->append(o.text);
        chunk->set_finish_reason(ToProto(o.finish));
        ToProto(o, chunk->mutable_usage(), chunk->mutable_timings());
        chunk->set_session_id(o.session_id);
      }
      engine_done_ = true;
      action = NextAction();
    }
    Run(action);
  }

  // The chunk new data goes into: the last queued one (not yet being written).
  v1::GenerateResponse* Tail() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (queue_.empty()) queue_.emplace_back();
    return &queue_.back();
  }

  // Decides the next gRPC call under mu_; Run() makes it after the lock is released,
  // because Finish() may lead to OnDone() (delete this) on another thread at once, and
  // a reaction run inline must not find mu_ held.
  Action NextAction() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_) return Action::kNone;
    if (!queue_.empty()) {
      current_ = std::move(queue_.front());
      queue_.pop_front();
      writing_ = true;
      return Action::kWrite;
    }
    if (!engine_done_) return Action::kNone;
    finished_ = true;
    return Action::kFinish;
  }

  void Run(Action action) {
    if (action == Action::kWrite) {
      StartWrite(&current_);
    } else if (action == Action::kFinish) {
      grpc::Status status;
      {
        absl::MutexLock lock(&mu_);
        status = status_;
      }
      FinishNow(status);  // last touch of this object
    }
  }

  void FinishNow(const grpc::Status& status) {
    ctx_->Record("Generate", status, start_);
    Finish(status);
  }

  RpcContext* const ctx_;
  const absl::Time start_;
  bool logprobs_ = false;
  absl::Mutex mu_;
  std::shared_ptr<RequestHandle> handle_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::GenerateResponse> queue_ ABSL_GUARDED_BY(mu_);
  v1::GenerateResponse current_;  // being written; changed only while !writing_ (under mu_)
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool engine_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

// Collects the per-session results of one Decode call. Deleted by the last on_done.
struct DecodeCall {
  DecodeCall(grpc::ServerUnaryReactor* r, RpcContext* c, absl::Time t) : reactor(r), ctx(c), start(t) {}
  grpc::ServerUnaryReactor* const reactor;
  RpcContext* const ctx;
  const absl::Time start;
  absl::Mutex mu;
  int remaining ABSL_GUARDED_BY(mu) = 0;
  grpc::Status status ABSL_GUARDED_BY(mu);

  void Done(const grpc::Status& s) {
    grpc::Status final_status;
    {
      absl::MutexLock lock(&mu);
      if (!s.ok() && status.ok()) status = s;
      if (--remaining > 0) return;
      final_status = status;
    }
    ctx->Record("Decode", final_status, start);
    reactor->Finish(final_status);
    delete this;
  }
};

}  // namespace

grpc::ServerWriteReactor<v1::GenerateResponse>* InferenceService::Generate(grpc::CallbackServerContext* call,
                                                                           const v1::GenerateRequest* request) {
  return new GenerateReactor(ctx_, call, *request);
}

grpc::ServerUnaryReactor* InferenceService::Prefill(grpc::CallbackServerContext* call,
                                                    const v1::PrefillRequest* request,
                                                    v1::PrefillResponse* response) {
  grpc::ServerUnaryReactor* reactor = call->DefaultReactor();  // gRPC deletes it
  const absl::Time start = absl::Now();
  auto finish = [ctx = ctx_, reactor, start](const grpc::Status& s) {
    ctx->Record("Prefill", s, start);
    reactor->Finish(s);
  };
  if (!ctx_->accepting.load()) {
    finish(Unavailable());
    return reactor;
  }
  auto tokens = InputTokens(request->input(), ctx_->engine->tokenizer());
  if (!tokens.ok() || tokens->empty()) {
    finish(tokens.ok() ? grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "input is empty") : ToGrpc(tokens.status()));
    return reactor;
  }
  GenerateSpec spec;
  spec.session_id = request->session_id();
  spec.keep_session = true;
  spec.input = std::move(*tokens);
  ApplySampling(request->sampling(), &spec);
  spec.max_tokens = 1;
  spec.deadline = DeadlineOf(call);
  spec.operation = "Prefill";
  const bool logprobs = spec.logprobs;
  GenerateCallbacks callbacks;
  callbacks.on_token = [response, logprobs](const TokenEvent& e) {
    ToProto(e, logprobs, response->mutable_next_token());
    response->set_text(e.text);
  };
  callbacks.on_done = [response, finish](GenerateOutcome o) {
    if (o.status.ok()) {
      response->set_session_id(o.session_id);
      response->mutable_text()->append(o.text);
      response->set_finish_reason(o.finish == FinishReason::kLength ? v1::FINISH_REASON_UNSPECIFIED : ToProto(o.finish));
      ToProto(o, response->mutable_usage(), response->mutable_timings());
    }
    finish(ToGrpc(o.status));
  };
  auto handle = ctx_->engine->Submit(std::move(spec), std::move(callbacks));
  if (!handle.ok()) finish(ToGrpc(handle.status()));
  return reactor;
}

grpc::ServerUnaryReactor* InferenceService::Decode(grpc::CallbackServerContext* call, const v1::DecodeRequest* request,
                                                   v1::DecodeResponse* response) {
  grpc::ServerUnaryReactor* reactor = call->DefaultReactor();
  const absl::Time start = absl::Now();
  auto fail = [&](const grpc::Status& s) {
    ctx_->Record("Decode", s, start);
    reactor->Finish(s);
    return reactor;
  };
  if (!ctx_->accepting.load()) return fail(Unavailable());
  if (request->session_ids().empty()) {
    return fail(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "session_ids is empty"));
  }
  if (request->num_tokens() < 1) {
    return fail(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "num_tokens must be >= 1"));
  }
  absl::flat_hash_set<std::string> seen;
  for (const std::string& id : request->session_ids()) {
    if (!seen.insert(id).second) {
      return fail(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "session " + id + " is listed twice"));
    }
  }
  auto* state = new DecodeCall(reactor, ctx_, start);
  {
    absl::MutexLock lock(&state->mu);
    state->remaining = request->session_ids_size();
  }
  for (const std::string& id : request->session_ids()) response->add_results()->set_session_id(id);
  for (int i = 0; i < request->session_ids_size(); ++i) {
    GenerateSpec spec;
    spec.session_id = request->session_ids(i);
    ApplySampling(request->sampling(), &spec);
    ApplyStop(request->stop(), request->num_tokens(), &spec);
    spec.max_tokens = std::min(spec.max_tokens, request->num_tokens());
    spec.deadline = DeadlineOf(call);
    spec.operation = "Decode";
    v1::DecodeResult* result = response->mutable_results(i);
    const bool logprobs = spec.logprobs;
    GenerateCallbacks callbacks;
    callbacks.on_token = [result, logprobs](const TokenEvent& e) {
      ToProto(e, logprobs, result->add_tokens());
      result->mutable_text()->append(e.text);
    };
    callbacks.on_done = [result, state](GenerateOutcome o) {
      result->mutable_text()->append(o.text);
      result->set_finish_reason(ToProto(o.finish));
      v1::Timings unused;
      ToProto(o, result->mutable_usage(), &unused);
      state->Done(ToGrpc(o.status));
    };
    auto handle = ctx_->engine->Submit(std::move(spec), std::move(callbacks));
    if (!handle.ok()) state->Done(ToGrpc(handle.status()));
  }
  return reactor;
}

grpc::ServerUnaryReactor* InferenceService::Tokenize(grpc::CallbackServerContext* call,
                                                     const v1::TokenizeRequest* request,
                                                     v1::TokenizeResponse* response) {
  grpc::ServerUnaryReactor* reactor = call->DefaultReactor();
  const absl::Time start = absl::Now();
  model::EncodeOptions options;
  options.add_special = request->add_special_tokens();
  auto ids = ctx_->engine->tokenizer().Encode(request->text(), options);
  grpc::Status status = ToGrpc(ids.status());
  if (ids.ok()) response->mutable_tokens()->Add(ids->begin(), ids->end());
  ctx_->Record("Tokenize", status, start);
  reactor->Finish(status);
  return reactor;
}

grpc::ServerUnaryReactor* InferenceService::Detokenize(grpc::CallbackServerContext* call,
                                                       const v1::DetokenizeRequest* request,
                                                       v1::DetokenizeResponse* response) {
  grpc::ServerUnaryReactor* reactor = call->DefaultReactor();
  const absl::Time start = absl::Now();
  model::DecodeOptions options;
  options.skip_special = request->skip_special_tokens();
  std::vector<int32_t> ids(request->tokens().begin(), request->tokens().end());
  auto text = ctx_->engine->tokenizer().Decode(ids, options);
  grpc::Status status = ToGrpc(text.status());
  if (text.ok()) response->set_text(*text);
  ctx_->Record("Detokenize", status, start);
  reactor->Finish(status);
  return reactor;
}

}  // namespace radixserve::service
