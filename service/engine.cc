// Engine: construction, the loop, admission and completion. Steps and preemption are in
// engine_step.cc, session operations in engine_sessions.cc.
#include "service/engine.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "service/engine_request.h"

namespace radixserve::service {

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone: return "none";
    case FinishReason::kLength: return "length";
    case FinishReason::kEos: return "eos";
    case FinishReason::kStopString: return "stop_string";
    case FinishReason::kStopToken: return "stop_token";
    case FinishReason::kContextFull: return "context_full";
  }
  return "?";
}

void Request::Cancel() {
  cancelled.store(true, std::memory_order_relaxed);
  engine->Wake();
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(std::unique_ptr<backend::Backend> backend,
                                                       backend::ModelInfo model_info,
                                                       const model::Tokenizer* tokenizer,
                                                       cache::KvCacheOptions cache_options,
                                                       EngineOptions options) {
  const backend::KvLayout layout = backend->kv_layout();
  if (layout.num_device_blocks <= 0) return absl::InvalidArgumentError("backend has no KV blocks");
  cache_options.block_size = layout.block_size;
  cache_options.num_device_blocks = static_cast<int32_t>(layout.num_device_blocks);
  cache_options.num_host_blocks = static_cast<int32_t>(layout.num_host_blocks);
  ASSIGN_OR_RETURN(auto cache, cache::KvCacheManager::Create(std::move(cache_options)));
  const int64_t model_context = model_info.config.max_position_embeddings;
  if (options.context_length <= 0 || options.context_length > model_context) {
    options.context_length = static_cast<int32_t>(model_context);
  }
  if (options.max_prompt_tokens <= 0 || options.max_prompt_tokens > options.context_length) {
    options.max_prompt_tokens = options.context_length;
  }
  if (options.max_batch_tokens <= 0 || options.max_running <= 0) {
    return absl::InvalidArgumentError("max_batch_tokens and max_running must be positive");
  }
  return std::unique_ptr<Engine>(
      new Engine(std::move(backend), std::move(model_info), tokenizer, std::move(cache), options));
}

Engine::Engine(std::unique_ptr<backend::Backend> backend, backend::ModelInfo info,
               const model::Tokenizer* tokenizer, std::unique_ptr<cache::KvCacheManager> cache,
               EngineOptions options)
    : backend_(std::move(backend)),
      model_info_(std::move(info)),
      layout_(backend_->kv_layout()),
      tokenizer_(tokenizer),
      cache_(std::move(cache)),
      options_(options) {}

Engine::~Engine() { Stop(); }

void Engine::Start() {
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] { Loop(); });
}

void Engine::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    cv_.Signal();
  }
  if (thread_.joinable()) thread_.join();
}

void Engine::Wake() {
  absl::MutexLock lock(&mu_);
  wake_ = true;
  cv_.Signal();
}

bool Engine::Post(absl::AnyInvocable<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return false;
  tasks_.push_back(std::move(task));
  cv_.Signal();
  return true;
}

EngineCounters Engine::counters() const {
  absl::MutexLock lock(&mu_);
  return counters_;
}

absl::StatusOr<std::shared_ptr<RequestHandle>> Engine::Submit(GenerateSpec spec, GenerateCallbacks callbacks) {
  const int64_t vocab = model_info_.config.vocab_size;
  auto check_ids = [vocab](const std::vector<int32_t>& ids, const char* what) -> absl::Status {
    for (int32_t id : ids) {
      if (id < 0 || id >= vocab) {
        return absl::InvalidArgumentError(absl::StrCat(what, " token id ", id, " is outside the vocabulary [0, ", vocab, ")"));
      }
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(check_ids(spec.input, "input"));
  RETURN_IF_ERROR(check_ids(spec.stop_token_ids, "stop"));
  backend::SamplingOptions& s = spec.sampling;
  if (!(s.temperature >= 0)) return absl::InvalidArgumentError("temperature must be >= 0");
  if (s.top_k < 0) return absl::InvalidArgumentError("top_k must be >= 0");
  if (s.top_p == 0) s.top_p = 1.0f;
  if (!(s.top_p > 0 && s.top_p <= 1)) return absl::InvalidArgumentError("top_p must be in (0, 1]");
  if (!(s.min_p >= 0 && s.min_p < 1)) return absl::InvalidArgumentError("min_p must be in [0, 1)");
  if (s.repetition_penalty == 0) s.repetition_penalty = 1.0f;
  if (!(s.repetition_penalty > 0)) return absl::InvalidArgumentError("repetition_penalty must be > 0");
  if (spec.top_logprobs < 0 || spec.top_logprobs > 20) {
    return absl::InvalidArgumentError("top_logprobs must be in [0, 20]");
  }
  if (spec.max_tokens < 0 || spec.max_tokens > options_.max_tokens_per_request) {
    return absl::InvalidArgumentError(absl::StrCat("max_tokens must be in [0, ", options_.max_tokens_per_request, "]"));
  }
  if (static_cast<int64_t>(spec.input.size()) > options_.max_prompt_tokens) {
    return absl::ResourceExhaustedError(absl::StrCat("prompt of ", spec.input.size(), " tokens exceeds the limit of ",
                                                     options_.max_prompt_tokens));
  }
  for (const std::string& stop : spec.stop_strings) {
    if (stop.empty()) return absl::InvalidArgumentError("stop strings must not be empty");
  }
  auto request = std::make_shared<Request>(this, std::move(spec), std::move(callbacks));
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("server is shutting down");
  inbox_.push_back(request);
  cv_.Signal();
  return std::shared_ptr<RequestHandle>(request);
}

void Engine::Loop() {
  while (true) {
    std::vector<std::shared_ptr<Request>> incoming;
    std::vector<absl::AnyInvocable<void()>> tasks;
    bool stopping = false;
    {
      absl::MutexLock lock(&mu_);
      const bool busy = !running_.empty();
      const bool waiting = !waiting_.empty() || !preempted_.empty();
      while (!busy && !wake_ && !stopping_ && inbox_.empty() && tasks_.empty()) {
        // Waiting requests have deadlines to check even when nothing runs, and idle
        // sessions expire on time.
        cv_.WaitWithTimeout(&mu_, waiting ? std::min(absl::Milliseconds(20), options_.expiry_interval)
                                          : options_.expiry_interval);
        break;
      }
      wake_ = false;
      incoming.swap(inbox_);
      tasks.swap(tasks_);
      stopping = stopping_;
    }
    for (auto& task : tasks) task();
    for (auto& r : incoming) {
      r->seq = next_seq_++;
      waiting_.push_back(std::move(r));
    }
    if (stopping) {
      FailAll(absl::UnavailableError("server is shutting down"));
      break;
    }
    ExpireCancelled();
    Admit();
    if (!running_.empty()) Step();
    const absl::Time now = absl::Now();
    if (now >= next_expiry_) {
      for (const std::string& id : cache_->ExpireSessions()) pending_token_.erase(id);
      next_expiry_ = now + options_.expiry_interval;
    }
    PublishGauges();
  }
}

void Engine::Sweep() {
  auto done = [](const std::shared_ptr<Request>& r) { return r->finished; };
  std::erase_if(waiting_, done);
  std::erase_if(preempted_, done);
  for (auto& r : running_) {
    if (!r->finished && r->preempted) {
      auto at = std::upper_bound(preempted_.begin(), preempted_.end(), r,
                                 [](const auto& a, const auto& b) { return a->seq < b->seq; });
      preempted_.insert(at, r);
    }
  }
  std::erase_if(running_, [](const std::shared_ptr<Request>& r) { return r->finished || r->preempted; });
}

void Engine::ExpireCancelled() {
  const absl::Time now = absl::Now();
  auto check = [&](Request& r) {
    if (r.finished) return;
    if (r.cancelled.load(std::memory_order_relaxed)) {
      Finish(r, absl::CancelledError("cancelled by the client"), FinishReason::kNone);
    } else if (now >= r.spec.deadline) {
      Finish(r, absl::DeadlineExceededError("deadline exceeded"), FinishReason::kNone);
    }
  };
  for (auto& r : waiting_) check(*r);
  for (auto& r : preempted_) check(*r);
  for (auto& r : running_) check(*r);
  Sweep();
}

void Engine::Admit() {
  while (!preempted_.empty() && static_cast<int32_t>(running_.size()) < options_.max_running) {
    std::shared_ptr<Request> r = preempted_.front();
    if (!Resume(*r)) break;
    preempted_.pop_front();
    if (!r->finished) running_.push_back(std::move(r));
  }
  if (!preempted_.empty()) return;  // preempted requests go first
  while (!waiting_.empty() && static_cast<int32_t>(running_.size()) < options_.max_running) {
    std::shared_ptr<Request> r = waiting_.front();
    if (!TryStart(*r)) break;
    waiting_.pop_front();
    if (!r->finished) running_.push_back(std::move(r));
  }
  Sweep();
}

int32_t Engine::BlocksFor(int64_t tokens) const {
  return static_cast<int32_t>((tokens + layout_.block_size - 1) / layout_.block_size);
}

bool Engine::TryStart(Request& r) {
  const GenerateSpec& spec = r.spec;
  if (!r.started) {
    // Resolve and claim the session (once).
    int64_t existing = 0;
    if (spec.session_id.empty()) {
      if (static_cast<int64_t>(cache_->Stats().num_sessions) >= options_.max_sessions) {
        Finish(r, absl::ResourceExhaustedError(absl::StrCat("too many sessions (limit ", options_.max_sessions, ")")),
               FinishReason::kNone);
        return true;
      }
      auto id = cache_->CreateSession(spec.session_options);
      if (!id.ok()) {
        Finish(r, id.status(), FinishReason::kNone);
        return true;
      }
      r.session = *id;
      r.temporary = !spec.keep_session;
    } else {
      auto info = cache_->GetSession(spec.session_id);
      if (!info.ok()) {
        Finish(r, info.status(), FinishReason::kNone);
        return true;
      }
      if (auto it = busy_.find(spec.session_id); it != busy_.end()) {
        Finish(r, absl::AbortedError(absl::StrCat("session '", spec.session_id, "' is busy with ",
                                                  it->second->spec.operation)),
               FinishReason::kNone);
        return true;
      }
      if (spec.require_swapped && info->state != cache::SessionState::kSwapped) {
        Finish(r, absl::FailedPreconditionError(absl::StrCat("session '", spec.session_id, "' is not swapped")),
               FinishReason::kNone);
        return true;
      }
      r.session = spec.session_id;
      existing = info->num_tokens;
    }
    auto pending = pending_token_.find(r.session);
    const int64_t has_pending = pending != pending_token_.end() ? 1 : 0;
    const int64_t total = existing + has_pending + static_cast<int64_t>(spec.input.size());
    absl::Status limit;
    if (total > options_.context_length) {
      limit = absl::ResourceExhaustedError(absl::StrCat("session would hold ", total, " tokens; the context length is ",
                                                        options_.context_length));
    } else if (spec.max_tokens > 0 && total == 0) {
      limit = absl::InvalidArgumentError("nothing to continue from: the session is empty and the input is empty");
    } else if (BlocksFor(std::min<int64_t>(total + spec.max_tokens, options_.context_length)) >
               layout_.num_device_blocks) {
      limit = absl::ResourceExhaustedError(absl::StrCat("the request needs more KV blocks than the pool has (",
                                                        layout_.num_device_blocks, ")"));
    }
    if (!limit.ok()) {
      if (r.temporary) (void)cache_->DeleteSession(r.session);
      r.session.clear();
      Finish(r, limit, FinishReason::kNone);
      return true;
    }
    r.started = true;
    busy_[r.session] = &r;
    if (has_pending) {
      r.pending = pending->second;
      pending_token_.erase(pending);
    } else if (spec.input.empty() && spec.max_tokens > 0) {
      // Continue from the last token: take it out and compute it again for its logits.
      auto tokens = cache_->Tokens(r.session);
      r.pending = tokens->back();
      absl::Status st = cache_->Truncate(r.session, existing - 1);
      if (!st.ok()) {
        Finish(r, st, FinishReason::kNone);
        return true;
      }
    }
  }
  // Room for the input (and a swapped session's KV), preempting idle sessions if needed.
  auto info = cache_->GetSession(r.session);
  if (!info.ok()) {
    Finish(r, info.status(), FinishReason::kNone);
    return true;
  }
  const bool swapped = info->state == cache::SessionState::kSwapped;
  const int64_t to_append = static_cast<int64_t>(spec.input.size()) + (r.pending >= 0 ? 1 : 0);
  int32_t need = BlocksFor(info->num_tokens + to_append) - info->device_blocks + 1;
  if (swapped) need = BlocksFor(info->num_tokens + to_append) + 1;
  // Headroom: one block per running request, so new admissions do not immediately force
  // the running ones to preempt (and drop) them for their next decode block.
  need += static_cast<int32_t>(running_.size());
  if (!MakeRoom(need)) {
    if (running_.empty() && preempted_.empty()) {
      Finish(r, absl::ResourceExhaustedError("the KV pool cannot hold this request (pinned sessions hold the rest)"),
             FinishReason::kNone);
      return true;
    }
    return false;
  }
  int64_t next = -1;  // first position whose KV is not computed; -1: none yet
  if (swapped) {
    auto restored = cache_->Restore(r.session);
    absl::Status st = restored.ok() ? ApplySwapIn(restored->swap_in) : restored.status();
    if (st.ok() && !restored->recompute.slots.empty()) {
      st = ApplyCopies(restored->recompute.copies);
      next = restored->recompute.first_position;
    }
    if (!st.ok()) {
      Finish(r, st, FinishReason::kNone);
      return true;
    }
  }
  std::vector<int32_t> append;
  if (r.pending >= 0) append.push_back(r.pending);
  append.insert(append.end(), spec.input.begin(), spec.input.end());
  if (!append.empty()) {
    auto plan = cache_->Append(r.session, append);
    absl::Status st = plan.ok() ? ApplyCopies(plan->copies) : plan.status();
    if (!st.ok()) {
      Finish(r, st, FinishReason::kNone);
      return true;
    }
    r.pending = -1;
    next = next < 0 ? plan->first_position : std::min(next, plan->first_position);
    r.cached_tokens = plan->cached_tokens;
    r.prompt_tokens = static_cast<int64_t>(append.size());
  }
  r.next_pos = next < 0 ? info->num_tokens : next;
  r.planned = true;
  r.end_pos = info->num_tokens + static_cast<int64_t>(append.size());
  r.decoder.emplace(*tokenizer_, model::DecodeOptions{.skip_special = true, .strip_leading_space = false});
  if (r.next_pos == r.end_pos && spec.max_tokens == 0) Finish(r, absl::OkStatus(), FinishReason::kLength);
  return true;
}

void Engine::Finish(Request& r, absl::Status status, FinishReason reason) {
  if (r.finished) return;
  r.finished = true;
  GenerateOutcome out;
  out.status = std::move(status);
  out.finish = out.status.ok() ? reason : FinishReason::kNone;
  if (r.started) {
    // Keep what was computed and generated; drop input whose KV was never computed.
    auto info = cache_->GetSession(r.session);
    if (info.ok() && r.planned && r.next_pos < info->num_tokens) (void)cache_->Truncate(r.session, r.next_pos);
    if (r.temporary) {
      (void)cache_->DeleteSession(r.session);
    } else if (info.ok() && r.pending >= 0) {
      pending_token_[r.session] = r.pending;
    }
    busy_.erase(r.session);
  }
  out.session_id = r.temporary ? std::string() : r.session;
  out.prompt_tokens = r.prompt_tokens;
  out.cached_tokens = r.cached_tokens;
  out.generated_tokens = r.generated;
  if (r.decoder.has_value() && !r.stop.matched()) out.text = r.stop.Add(r.decoder->Finish()) + r.stop.Flush();
  const absl::Time now = absl::Now();
  auto ms = [](absl::Duration d) { return absl::ToDoubleMilliseconds(d); };
  out.queue_ms = r.first_step == absl::InfinitePast() ? ms(now - r.arrival) : ms(r.first_step - r.arrival);
  out.ttft_ms = r.first_token == absl::InfinitePast() ? 0 : ms(r.first_token - r.arrival);
  out.total_ms = ms(now - r.arrival);
  if (observer_ != nullptr) observer_->OnRequestDone(out);
  if (r.callbacks.on_done) r.callbacks.on_done(std::move(out));
}

void Engine::FailAll(const absl::Status& status) {
  for (auto* q : {&running_}) {
    for (auto& r : *q) Finish(*r, status, FinishReason::kNone);
  }
  for (auto& r : preempted_) Finish(*r, status, FinishReason::kNone);
  for (auto& r : waiting_) Finish(*r, status, FinishReason::kNone);
  running_.clear();
  preempted_.clear();
  waiting_.clear();
}

}  // namespace radixserve::service
