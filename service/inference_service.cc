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
// OnDone comes only after Finish(), which is called once, by whichever thread sees the
// engine done with nothing left to write. The mutable state lives in a StreamState
// shared with the engine callbacks, so a thread still unlocking its mutex never touches
// a deleted reactor; the reactor itself is only used (StartWrite / Finish) by the
// thread that claimed that transition under the lock, while it is known to be alive.
struct StreamState {
  absl::Mutex mu;
  std::shared_ptr<RequestHandle> handle ABSL_GUARDED_BY(mu);  // reset when the engine is done
  std::deque<v1::GenerateResponse> queue ABSL_GUARDED_BY(mu);
  v1::GenerateResponse current;  // being written; changed only while !writing (under mu)
  bool writing ABSL_GUARDED_BY(mu) = false;
  bool engine_done ABSL_GUARDED_BY(mu) = false;
  bool finished ABSL_GUARDED_BY(mu) = false;
  bool cancelled ABSL_GUARDED_BY(mu) = false;
  grpc::Status status ABSL_GUARDED_BY(mu);
};

class GenerateReactor final : public grpc::ServerWriteReactor<v1::GenerateResponse> {
 public:
  GenerateReactor(RpcContext* ctx, grpc::CallbackServerContext* call, const v1::GenerateRequest& request)
      : ctx_(ctx), start_(absl::Now()), state_(std::make_shared<StreamState>()) {
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
    const bool logprobs = spec.logprobs;
    GenerateCallbacks callbacks;
    // The callbacks hold the state, not the reactor: see the lifetime note above.
    callbacks.on_token = [st = state_, self = this, logprobs](const TokenEvent& e) {
      OnToken(*st, self, e, logprobs);
    };
    callbacks.on_done = [st = state_, self = this](GenerateOutcome o) { OnEngineDone(*st, self, std::move(o)); };
    auto handle = engine.Submit(std::move(spec), std::move(callbacks));
    if (!handle.ok()) {
      FinishNow(ToGrpc(handle.status()));
      return;
    }
    absl::MutexLock lock(&state_->mu);
    if (!state_->engine_done) state_->handle = *handle;
    if (state_->cancelled) (*handle)->Cancel();
  }

  void OnWriteDone(bool ok) override {
    StreamState& st = *state_;
    Action action;
    grpc::Status status;
    {
      absl::MutexLock lock(&st.mu);
      st.writing = false;
      if (!ok) {
        // The client is gone: stop generating; Finish once the engine reports.
        st.queue.clear();
        if (st.handle != nullptr) st.handle->Cancel();
      }
      action = NextAction(st, &status);
    }
    Run(this, action, status);
  }

  void OnCancel() override {
    absl::MutexLock lock(&state_->mu);
    state_->cancelled = true;
    if (state_->handle != nullptr) state_->handle->Cancel();
  }

  void OnDone() override { delete this; }

 private:
  enum class Action { kNone, kWrite, kFinish };

  static void OnToken(StreamState& st, GenerateReactor* self, const TokenEvent& e, bool logprobs) {
    Action action;
    grpc::Status status;
    {
      absl::MutexLock lock(&st.mu);
      v1::GenerateResponse* chunk = Tail(st);
      ToProto(e, logprobs, chunk->add_tokens());
      chunk->mutable_text()->append(e.text);
      action = NextAction(st, &status);
    }
    Run(self, action, status);
  }

  static void OnEngineDone(StreamState& st, GenerateReactor* self, GenerateOutcome o) {
    Action action;
    grpc::Status status;
    {
      absl::MutexLock lock(&st.mu);
      st.status = ToGrpc(o.status);
      if (o.status.ok()) {
        v1::GenerateResponse* chunk = Tail(st);
        chunk->mutable_text()->append(o.text);
        chunk->set_finish_reason(ToProto(o.finish));
        ToProto(o, chunk->mutable_usage(), chunk->mutable_timings());
        chunk->set_session_id(o.session_id);
      }
      st.engine_done = true;
      st.handle.reset();  // breaks the request -> callbacks -> state -> handle cycle
      action = NextAction(st, &status);
    }
    Run(self, action, status);
  }

  // The chunk new data goes into: the last queued one (not yet being written).
  static v1::GenerateResponse* Tail(StreamState& st) ABSL_EXCLUSIVE_LOCKS_REQUIRED(st.mu) {
    if (st.queue.empty()) st.queue.emplace_back();
    return &st.queue.back();
  }

  // Claims the next gRPC call under the lock; Run() makes it after the lock is released.
  static Action NextAction(StreamState& st, grpc::Status* status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(st.mu) {
    if (st.writing || st.finished) return Action::kNone;
    if (!st.queue.empty()) {
      st.current = std::move(st.queue.front());
      st.queue.pop_front();
      st.writing = true;
      return Action::kWrite;
    }
    if (!st.engine_done) return Action::kNone;
    st.finished = true;
    *status = st.status;
    return Action::kFinish;
  }

  static void Run(GenerateReactor* self, Action action, const grpc::Status& status) {
    if (action == Action::kWrite) {
      self->StartWrite(&self->state_->current);
    } else if (action == Action::kFinish) {
      self->FinishNow(status);  // last touch of the reactor by this thread
    }
  }

  void FinishNow(const grpc::Status& status) {
    ctx_->Record("Generate", status, start_);
    Finish(status);
  }

  RpcContext* const ctx_;
  const absl::Time start_;
  const std::shared_ptr<StreamState> state_;
};

// A unary reactor for engine-backed calls (Prefill, Decode) that forwards the client's
// cancellation to their engine requests. gRPC owns it and OnDone deletes it; OnDone
// follows Finish (called from the engine's on_done) and every OnCancel.
class EngineUnaryReactor final : public grpc::ServerUnaryReactor {
 public:
  void Track(std::shared_ptr<RequestHandle> handle) {
    absl::MutexLock lock(&mu_);
    if (cancelled_) handle->Cancel();
    handles_.push_back(std::move(handle));
  }
  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    for (auto& h : handles_) h->Cancel();
  }
  void OnDone() override { delete this; }

 private:
  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::shared_ptr<RequestHandle>> handles_ ABSL_GUARDED_BY(mu_);
};

// Collects the per-session results of one Decode call; the last result finishes the
// call. Shared by the engine callbacks (freed when the last one is), so no thread ever
// unlocks a deleted mutex.
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
  auto* reactor = new EngineUnaryReactor();  // deleted by its OnDone
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
  if (!handle.ok()) {
    finish(ToGrpc(handle.status()));
  } else {
    reactor->Track(*handle);  // safe: OnDone cannot run before this method returns
  }
  return reactor;
}

grpc::ServerUnaryReactor* InferenceService::Decode(grpc::CallbackServerContext* call, const v1::DecodeRequest* request,
                                                   v1::DecodeResponse* response) {
  auto* reactor = new EngineUnaryReactor();  // deleted by its OnDone
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
  auto state = std::make_shared<DecodeCall>(reactor, ctx_, start);
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
    if (!handle.ok()) {
      state->Done(ToGrpc(handle.status()));
    } else {
      reactor->Track(*handle);
    }
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
