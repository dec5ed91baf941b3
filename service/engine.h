// Engine: one loop thread per backend that owns the KvCacheManager and the Backend and
// runs continuous batching over every request.
//
//   RPC threads ──Submit()/Post()──▶ inbox (mutex) ──▶ loop thread
//                                                       │ admit (FIFO; preempted first)
//                                                       │ step: decode tokens of running
//                                                       │   requests + prefill chunks under
//                                                       │   max_batch_tokens
//   callbacks (on_token / on_done, Post tasks) ◀────────┘ run on the loop thread
//
// THREADING: Submit, Post, Cancel (on a handle), counters() and Stop() are thread-safe.
// Every method named *OnLoop, and everything the engine calls back, runs on the loop
// thread; callbacks must not block. The KvCacheManager and Backend are touched only by
// the loop thread, so neither needs locking.
//
// Session semantics: the last token a request samples stays "pending" (part of the
// session's tokens, KV not computed); the next request on the session appends it first.
// A session serves one request at a time (ABORTED naming the holder otherwise).
// Cancellation, deadlines and errors are checked between steps; the session then keeps
// every computed token and every generated token; input whose KV was not computed yet
// is removed. A temporary session (no id given) is deleted when its request ends; its
// whole blocks stay in the prefix cache.
//
// Preemption: when a decode step needs a block and the pool (after evicting the prefix
// cache) is short, idle sessions no request uses are swapped out (or dropped) first
// (KvCacheManager::PlanPreemption), then the most recently admitted running requests:
// swapped to host when idle in the cache and the host has room, else dropped for
// recompute. A preempted request resumes before any new admission, with its pending
// token and RNG counter, so its output is exactly what it would have been.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "backend/backend.h"
#include "cache/kv_cache_manager.h"
#include "model/tokenizer.h"
#include "service/engine_types.h"

namespace radixserve::service {

struct Request;

// Returned by Submit: lets the RPC side cancel. Safe to use from any thread, also after
// the request finished.
class RequestHandle {
 public:
  virtual ~RequestHandle() = default;
  virtual void Cancel() = 0;
};

// A session as the engine reports it (cache view + engine-side pending token / holder).
struct SessionView {
  cache::SessionInfo info;  // num_tokens includes the pending token
  std::string busy_operation;
};

class Engine {
 public:
  // Takes a loaded backend. `tokenizer` must outlive the engine.
  static absl::StatusOr<std::unique_ptr<Engine>> Create(std::unique_ptr<backend::Backend> backend,
                                                        backend::ModelInfo model_info,
                                                        const model::Tokenizer* tokenizer,
                                                        cache::KvCacheOptions cache_options,
                                                        EngineOptions options);
  ~Engine();  // Stop()s

  void Start();
  // Fails every queued and running request with UNAVAILABLE (sessions kept consistent),
  // runs the tasks already posted, and joins the loop. Idempotent.
  void Stop();

  // Validates what needs no session state (token ids, parameters, limits) and queues
  // the request: InvalidArgument / ResourceExhausted / Unavailable come back at once
  // and no callback is made; otherwise callbacks report everything else.
  absl::StatusOr<std::shared_ptr<RequestHandle>> Submit(GenerateSpec spec, GenerateCallbacks callbacks);
  // Runs `task` on the loop thread (before the next step). After Stop(), runs nothing
  // and returns false.
  bool Post(absl::AnyInvocable<void()> task);

  // ---- Session operations: loop thread only (from a Post()ed task) ----
  absl::StatusOr<SessionView> GetSessionOnLoop(const std::string& id) const;
  std::vector<SessionView> ListSessionsOnLoop() const;  // by id
  absl::StatusOr<SessionView> ForkSessionOnLoop(const std::string& id);
  absl::StatusOr<SessionView> TruncateSessionOnLoop(const std::string& id, int64_t num_tokens);
  absl::Status DeleteSessionOnLoop(const std::string& id);
  absl::StatusOr<SessionView> PinSessionOnLoop(const std::string& id, bool pin);
  absl::StatusOr<SessionView> OffloadSessionOnLoop(const std::string& id);
  cache::CacheStats CacheStatsOnLoop() const;
  int32_t ClearPrefixCacheOnLoop();
  absl::Status CheckInvariantsOnLoop() const;

  const backend::ModelInfo& model_info() const { return model_info_; }
  const backend::KvLayout& kv_layout() const { return layout_; }
  const EngineOptions& options() const { return options_; }
  const model::Tokenizer& tokenizer() const { return *tokenizer_; }
  std::string_view backend_name() const { return backend_->name(); }
  EngineCounters counters() const;
  void set_observer(EngineObserver* observer) { observer_ = observer; }  // before Start

 private:
  Engine(std::unique_ptr<backend::Backend> backend, backend::ModelInfo info, const model::Tokenizer* tokenizer,
         std::unique_ptr<cache::KvCacheManager> cache, EngineOptions options);

  friend struct Request;
  void Loop();
  void Wake();
  void Sweep();  // drops finished requests; moves preempted ones to preempted_
  int32_t BlocksFor(int64_t tokens) const;
  // engine.cc: admission and completion.
  void ExpireCancelled();
  void Admit();
  // Starts `r` (busy mark, restore, append). Returns false when it must wait for room.
  bool TryStart(Request& r);
  void Finish(Request& r, absl::Status status, FinishReason reason);
  void FailAll(const absl::Status& status);
  // engine_step.cc: one batched step, block growth and preemption.
  void Step();
  // Makes `need` blocks available by preempting idle sessions no request holds.
  bool MakeRoom(int32_t need);
  // Same, then preempts running requests newer than `r` (or `r` itself: false).
  bool EnsureBlocks(Request& r, int32_t need);
  void PreemptSession(const std::string& id, bool swap);
  void Preempt(Request& r);
  bool Resume(Request& r);
  void OnSampled(Request& r, const backend::SequenceResult& result);
  void PublishGauges();
  // engine_sessions.cc
  SessionView ViewOf(const cache::SessionInfo& info) const;
  absl::Status CheckIdle(const std::string& id) const;
  absl::Status SwapOutOnLoop(const std::string& id);
  absl::Status ApplyCopies(const std::vector<cache::CopyOp>& copies);
  absl::Status ApplySwapIn(const std::vector<cache::SwapPair>& pairs);

  std::unique_ptr<backend::Backend> backend_;
  backend::ModelInfo model_info_;
  backend::KvLayout layout_;
  const model::Tokenizer* tokenizer_;
  std::unique_ptr<cache::KvCacheManager> cache_;
  EngineOptions options_;
  EngineObserver* observer_ = nullptr;

  // Inbox: the only state shared with other threads.
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<Request>> inbox_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::AnyInvocable<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  absl::CondVar cv_;
  EngineCounters counters_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
  bool started_ = false;

  // Loop-thread state.
  std::deque<std::shared_ptr<Request>> waiting_;    // not started yet, FIFO
  std::deque<std::shared_ptr<Request>> preempted_;  // resume first, FIFO
  std::vector<std::shared_ptr<Request>> running_;  // admission order
  absl::flat_hash_map<std::string, int32_t> pending_token_;  // session -> sampled, not in KV
  absl::flat_hash_map<std::string, Request*> busy_;          // session -> request using it
  uint64_t next_seq_ = 0;
  int64_t preemptions_ = 0;
  int64_t steps_ = 0;
  absl::Time next_expiry_ = absl::InfinitePast();
};

}  // namespace radixserve::service
