// Engine: session operations for the Cache service, run on the loop thread (handlers
// Post() them). A session held by a request refuses every change with ABORTED.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "service/engine.h"
#include "service/engine_request.h"

namespace radixserve::service {

SessionView Engine::ViewOf(const cache::SessionInfo& info) const {
  SessionView view;
  view.info = info;
  if (pending_token_.contains(info.id)) view.info.num_tokens += 1;
  if (auto it = busy_.find(info.id); it != busy_.end()) {
    view.busy_operation = it->second->spec.operation;
    // Between steps the cache sees a running request's session as idle.
    if (view.info.state == cache::SessionState::kIdle) view.info.state = cache::SessionState::kRunning;
  }
  return view;
}

absl::Status Engine::CheckIdle(const std::string& id) const {
  RETURN_IF_ERROR(cache_->GetSession(id).status());
  if (auto it = busy_.find(id); it != busy_.end()) {
    return absl::AbortedError(absl::StrCat("session '", id, "' is busy with ", it->second->spec.operation));
  }
  return absl::OkStatus();
}

absl::StatusOr<SessionView> Engine::GetSessionOnLoop(const std::string& id) const {
  ASSIGN_OR_RETURN(cache::SessionInfo info, cache_->GetSession(id));
  return ViewOf(info);
}

std::vector<SessionView> Engine::ListSessionsOnLoop() const {
  std::vector<SessionView> out;
  for (const cache::SessionInfo& info : cache_->ListSessions()) out.push_back(ViewOf(info));
  return out;
}

absl::StatusOr<SessionView> Engine::ForkSessionOnLoop(const std::string& id) {
  RETURN_IF_ERROR(CheckIdle(id));
  if (cache_->Stats().num_sessions >= options_.max_sessions) {
    return absl::ResourceExhaustedError(absl::StrCat("too many sessions (limit ", options_.max_sessions, ")"));
  }
  ASSIGN_OR_RETURN(std::string child, cache_->ForkSession(id));
  if (auto it = pending_token_.find(id); it != pending_token_.end()) pending_token_[child] = it->second;
  return GetSessionOnLoop(child);
}

absl::StatusOr<SessionView> Engine::TruncateSessionOnLoop(const std::string& id, int64_t num_tokens) {
  RETURN_IF_ERROR(CheckIdle(id));
  ASSIGN_OR_RETURN(cache::SessionInfo info, cache_->GetSession(id));
  const auto pending = pending_token_.find(id);
  const int64_t total = info.num_tokens + (pending != pending_token_.end() ? 1 : 0);
  if (num_tokens < 0 || num_tokens > total) {
    return absl::OutOfRangeError(absl::StrCat("cannot truncate session '", id, "' of ", total, " tokens to ", num_tokens));
  }
  if (num_tokens < total && pending != pending_token_.end()) pending_token_.erase(pending);
  if (num_tokens < info.num_tokens) RETURN_IF_ERROR(cache_->Truncate(id, num_tokens));
  return GetSessionOnLoop(id);
}

absl::Status Engine::DeleteSessionOnLoop(const std::string& id) {
  RETURN_IF_ERROR(CheckIdle(id));
  RETURN_IF_ERROR(cache_->DeleteSession(id));
  pending_token_.erase(id);
  return absl::OkStatus();
}

absl::StatusOr<SessionView> Engine::PinSessionOnLoop(const std::string& id, bool pin) {
  RETURN_IF_ERROR(CheckIdle(id));
  RETURN_IF_ERROR(pin ? cache_->PinSession(id) : cache_->UnpinSession(id));
  return GetSessionOnLoop(id);
}

absl::StatusOr<SessionView> Engine::OffloadSessionOnLoop(const std::string& id) {
  RETURN_IF_ERROR(CheckIdle(id));
  RETURN_IF_ERROR(SwapOutOnLoop(id));
  return GetSessionOnLoop(id);
}

absl::Status Engine::SwapOutOnLoop(const std::string& id) {
  ASSIGN_OR_RETURN(std::vector<cache::SwapPair> pairs, cache_->Offload(id));
  std::vector<backend::BlockCopy> copies;
  copies.reserve(pairs.size());
  for (const cache::SwapPair& p : pairs) copies.push_back({p.device, p.host});
  absl::Status st = backend_->SwapOut(copies);
  // The bookkeeping already moved; KV that failed to copy must be recomputed.
  if (!st.ok()) {
    (void)cache_->Truncate(id, 0);
    return st;
  }
  return absl::OkStatus();
}

absl::Status Engine::ApplyCopies(const std::vector<cache::CopyOp>& copies) {
  if (copies.empty()) return absl::OkStatus();
  std::vector<backend::BlockCopy> pairs;
  pairs.reserve(copies.size());
  for (const cache::CopyOp& c : copies) pairs.push_back({c.src, c.dst});
  return backend_->CopyBlocks(pairs);
}

absl::Status Engine::ApplySwapIn(const std::vector<cache::SwapPair>& pairs) {
  if (pairs.empty()) return absl::OkStatus();
  std::vector<backend::BlockCopy> copies;
  copies.reserve(pairs.size());
  for (const cache::SwapPair& p : pairs) copies.push_back({p.host, p.device});
  return backend_->SwapIn(copies);
}

cache::CacheStats Engine::CacheStatsOnLoop() const { return cache_->Stats(); }

int32_t Engine::ClearPrefixCacheOnLoop() { return cache_->ClearPrefixCache(); }

absl::Status Engine::CheckInvariantsOnLoop() const { return cache_->CheckInvariants(); }

}  // namespace radixserve::service
