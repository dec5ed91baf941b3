// Engine: one batched step (continuous batching with chunked prefill), block growth and
// preemption. Loop thread only.
//
// Step policy: every running request in decode phase contributes its pending token
// (oldest first), then requests with uncomputed input contribute chunks, oldest first,
// until max_batch_tokens is used. A decode that needs a new block and finds the pool
// short preempts (in order): idle sessions no request holds, then the newest running
// requests not yet scheduled in this step, else itself.
#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "service/engine.h"
#include "service/engine_request.h"

namespace radixserve::service {

bool Engine::MakeRoom(int32_t need) {
  if (cache_->FitsAfterEviction(need)) return true;
  std::vector<std::string> keep;
  keep.reserve(busy_.size());
  for (const auto& [id, r] : busy_) keep.push_back(id);
  auto plan = cache_->PlanPreemption(need, keep);
  if (!plan.ok()) return false;
  for (const cache::Preemption& p : *plan) PreemptSession(p.session_id, p.action == cache::PreemptAction::kSwap);
  return cache_->FitsAfterEviction(need);
}

void Engine::PreemptSession(const std::string& id, bool swap) {
  ++preemptions_;
  if (swap && SwapOutOnLoop(id).ok()) return;
  (void)cache_->DropForRecompute(id);
}

bool Engine::EnsureBlocks(Request& r, int32_t need) {
  while (!cache_->FitsAfterEviction(need)) {
    if (MakeRoom(need)) return true;
    Request* victim = nullptr;
    bool others = !preempted_.empty();
    for (auto it = running_.rbegin(); it != running_.rend(); ++it) {
      Request* c = it->get();
      if (c->finished || c->preempted || c == &r) continue;
      others = true;
      if (victim != nullptr || c->in_step) continue;
      auto info = cache_->GetSession(c->session);
      if (info.ok() && !info->pinned) victim = c;
    }
    if (victim == nullptr || victim->seq < r.seq) victim = &r;
    if (victim == &r && !others) {
      Finish(r, absl::ResourceExhaustedError("the KV pool is too small for this request"), FinishReason::kNone);
      return false;
    }
    Preempt(*victim);
    if (victim == &r) return false;
  }
  return true;
}

void Engine::Preempt(Request& r) {
  auto info = cache_->GetSession(r.session);
  const bool idle = info.ok() && info->state == cache::SessionState::kIdle;
  ++preemptions_;
  if (!(idle && SwapOutOnLoop(r.session).ok())) {
    absl::Status st = cache_->DropForRecompute(r.session);
    if (!st.ok()) {
      Finish(r, st, FinishReason::kNone);
      return;
    }
  }
  r.preempted = true;
}

bool Engine::Resume(Request& r) {
  auto need = cache_->BlocksNeededForRestore(r.session);
  if (!need.ok()) {
    Finish(r, need.status(), FinishReason::kNone);
    return true;
  }
  if (!MakeRoom(*need + 1)) return false;
  auto restored = cache_->Restore(r.session);
  absl::Status st = restored.ok() ? ApplySwapIn(restored->swap_in) : restored.status();
  if (st.ok() && !restored->recompute.slots.empty()) {
    st = ApplyCopies(restored->recompute.copies);
    r.next_pos = restored->recompute.first_position;
  }
  if (!st.ok()) {
    Finish(r, st, FinishReason::kNone);
    return true;
  }
  r.preempted = false;
  return true;
}

void Engine::Step() {
  std::vector<Request*> scheduled;
  std::vector<int32_t> chunks;
  int32_t budget = options_.max_batch_tokens;
  // Decode phase first: one token each, so long prompts never stall running streams.
  for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
    Request& r = *running_[i];
    if (r.finished || r.preempted || r.next_pos < r.end_pos || r.pending < 0) continue;
    auto need = cache_->BlocksNeededForAppend(r.session, 1);
    if (!need.ok()) {
      Finish(r, need.status(), FinishReason::kNone);
      continue;
    }
    if (*need > 0 && !EnsureBlocks(r, *need)) continue;
    auto plan = cache_->Append(r.session, {&r.pending, 1});
    absl::Status st = plan.ok() ? ApplyCopies(plan->copies) : plan.status();
    if (!st.ok()) {
      Finish(r, st, FinishReason::kNone);
      continue;
    }
    r.pending = -1;
    r.end_pos += 1;
    r.in_step = true;
    scheduled.push_back(&r);
    chunks.push_back(1);
    budget -= 1;
  }
  // Then prefill chunks under the remaining budget.
  for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
    Request& r = *running_[i];
    if (r.finished || r.preempted || r.in_step || r.next_pos >= r.end_pos) continue;
    const int32_t chunk = static_cast<int32_t>(std::min<int64_t>(r.end_pos - r.next_pos, budget));
    r.in_step = true;
    scheduled.push_back(&r);
    chunks.push_back(chunk);
    budget -= chunk;
  }
  // A request preempted while building the step may have been scheduled before: drop it.
  backend::StepBatch batch;
  std::vector<Request*> items;
  std::vector<int32_t> item_chunks;
  for (size_t k = 0; k < scheduled.size(); ++k) {
    Request& r = *scheduled[k];
    r.in_step = false;
    if (r.finished || r.preempted) continue;
    auto tokens = cache_->Tokens(r.session);
    auto table = cache_->BlockTable(r.session);
    if (!tokens.ok() || !table.ok()) {
      Finish(r, tokens.ok() ? table.status() : tokens.status(), FinishReason::kNone);
      continue;
    }
    r.step_tokens.assign(tokens->begin() + r.next_pos, tokens->begin() + r.next_pos + chunks[k]);
    r.step_table.assign(table->begin(), table->end());
    backend::SequenceStep step;
    step.tokens = r.step_tokens;
    step.start_position = static_cast<int32_t>(r.next_pos);
    step.block_table = r.step_table;
    step.sample = r.next_pos + chunks[k] == r.end_pos && r.spec.max_tokens > 0 && r.pending < 0;
    step.sampling = r.spec.sampling;
    step.sample_index = static_cast<uint64_t>(r.generated);
    const backend::SamplingOptions& s = r.spec.sampling;
    if (step.sample && (s.repetition_penalty != 1.0f || s.presence_penalty != 0 || s.frequency_penalty != 0)) {
      r.step_history.assign(tokens->begin(), tokens->begin() + r.end_pos);
      step.penalty_history = r.step_history;
    }
    step.num_top_logprobs = r.spec.top_logprobs;
    batch.sequences.push_back(step);
    items.push_back(&r);
    item_chunks.push_back(chunks[k]);
  }
  if (items.empty()) {
    Sweep();
    return;
  }
  const absl::Time start = absl::Now();
  auto result = backend_->Forward(batch);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (options_.step_delay > absl::ZeroDuration()) absl::SleepFor(options_.step_delay);
  ++steps_;
  if (observer_ != nullptr) {
    int32_t tokens = 0;
    for (int32_t c : item_chunks) tokens += c;
    observer_->OnStep(static_cast<int32_t>(items.size()), tokens, seconds);
  }
  for (size_t k = 0; k < items.size(); ++k) {
    Request& r = *items[k];
    if (!result.ok()) {
      Finish(r, absl::InternalError(absl::StrCat("engine step failed: ", result.status().ToString())),
             FinishReason::kNone);
      continue;
    }
    absl::Status st = cache_->Commit(r.session, item_chunks[k]);
    if (!st.ok()) {
      Finish(r, st, FinishReason::kNone);
      continue;
    }
    if (r.first_step == absl::InfinitePast()) r.first_step = start;
    r.next_pos += item_chunks[k];
    if (batch.sequences[k].sample) {
      OnSampled(r, result->sequences[k]);
    } else if (r.next_pos == r.end_pos && r.spec.max_tokens == 0) {
      Finish(r, absl::OkStatus(), FinishReason::kLength);
    }
  }
  Sweep();
}

void Engine::OnSampled(Request& r, const backend::SequenceResult& result) {
  const int32_t token = result.token;
  r.generated += 1;
  r.pending = token;
  if (r.first_token == absl::InfinitePast()) r.first_token = absl::Now();
  TokenEvent event;
  event.token = token;
  event.logprob = result.logprob;
  event.top_logprobs = result.top_logprobs;
  auto piece = r.decoder->Next(token);
  event.text = r.stop.Add(piece.ok() ? *piece : std::string());
  FinishReason reason = FinishReason::kNone;
  const auto& stops = r.spec.stop_token_ids;
  if (!r.spec.ignore_eos && tokenizer_->IsEndOfGeneration(token)) {
    reason = FinishReason::kEos;
  } else if (std::find(stops.begin(), stops.end(), token) != stops.end()) {
    reason = FinishReason::kStopToken;
  } else if (r.stop.matched()) {
    reason = FinishReason::kStopString;
  } else if (r.generated >= r.spec.max_tokens) {
    reason = FinishReason::kLength;
  } else if (r.end_pos + 2 > options_.context_length) {
    reason = FinishReason::kContextFull;
  }
  if (r.callbacks.on_token) r.callbacks.on_token(event);
  if (reason != FinishReason::kNone) Finish(r, absl::OkStatus(), reason);
}

void Engine::PublishGauges() {
  const cache::CacheStats stats = cache_->Stats();
  const int64_t queued = static_cast<int64_t>(waiting_.size() + preempted_.size());
  const int64_t running = static_cast<int64_t>(running_.size());
  {
    absl::MutexLock lock(&mu_);
    counters_.steps = steps_;
    counters_.preemptions = preemptions_;
    counters_.queued = queued;
    counters_.running = running;
    counters_.prefix_query_tokens = stats.tree.queried_tokens;
    counters_.prefix_hit_tokens = stats.tree.hit_tokens;
  }
  if (observer_ != nullptr) {
    observer_->OnGauges(queued, running, stats.device_blocks, stats.device_free, cache_->AvailableBlocks(),
                        stats.host_blocks, stats.host_free,
                        stats.num_sessions);
  }
}

}  // namespace radixserve::service
