// Plain C++ request / result types of the engine (no proto types: service/ handlers
// translate between these and radixserve.v1 messages).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "backend/backend.h"
#include "cache/session.h"

namespace radixserve::service {

enum class FinishReason { kNone, kLength, kEos, kStopString, kStopToken, kContextFull };
const char* FinishReasonName(FinishReason reason);

// One generation (or compute-only) request for the engine loop.
struct GenerateSpec {
  std::string session_id;            // empty: a new session
  bool keep_session = false;         // new session: keep it after the request
  cache::SessionOptions session_options;  // new session only
  std::vector<int32_t> input;        // appended first (after the session's pending token)
  backend::SamplingOptions sampling;
  bool logprobs = false;
  int32_t top_logprobs = 0;          // 0..20
  // Tokens to generate. 0: compute the KV of the input (and of a swapped session's
  // dropped KV) without sampling.
  int32_t max_tokens = 0;
  std::vector<std::string> stop_strings;
  std::vector<int32_t> stop_token_ids;
  bool ignore_eos = false;
  absl::Time deadline = absl::InfiniteFuture();
  // Names the operation to a concurrent caller ("session ... is busy with <operation>").
  std::string operation = "Generate";
  bool require_swapped = false;      // RestoreSession: FAILED_PRECONDITION unless swapped
};

// One sampled token, delivered as soon as its step ends.
struct TokenEvent {
  int32_t token = -1;
  float logprob = 0.0f;
  std::vector<backend::TokenLogprob> top_logprobs;
  std::string text;  // text released by this token (stop-string hold-back applied)
};

struct GenerateOutcome {
  absl::Status status;
  std::string session_id;  // empty for a temporary session
  FinishReason finish = FinishReason::kNone;
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;
  int64_t generated_tokens = 0;
  std::string text;        // text released at the end (tail held back until now)
  double queue_ms = 0, ttft_ms = 0, total_ms = 0;
};

// Called on the engine loop thread. They must not block and must not call back into
// the engine synchronously (posting is fine). on_done is called exactly once.
struct GenerateCallbacks {
  std::function<void(const TokenEvent&)> on_token;
  std::function<void(GenerateOutcome)> on_done;
};

struct EngineOptions {
  int32_t max_batch_tokens = 256;   // token budget of one step (decode + prefill chunks)
  int32_t max_running = 64;         // requests in the running batch at once
  int32_t context_length = 0;       // 0: the model's max_position_embeddings
  int32_t max_prompt_tokens = 0;    // per request; 0: context_length
  int32_t max_tokens_per_request = 4096;
  int32_t default_max_tokens = 256;  // handlers use it when a request gives 0
  int32_t max_sessions = 1024;
  absl::Duration expiry_interval = absl::Seconds(1);
  // Sleep after every step. Testing only: makes cancellation and deadline tests
  // deterministic on a model that is otherwise too fast to interrupt.
  absl::Duration step_delay = absl::ZeroDuration();
};

// Counters the engine publishes after every step (read from any thread).
struct EngineCounters {
  int64_t steps = 0;
  int64_t preemptions = 0;
  int64_t queued = 0;
  int64_t running = 0;
  int64_t prefix_query_tokens = 0;
  int64_t prefix_hit_tokens = 0;
};

// Hooks for metrics; called on the loop thread; must be cheap and thread-safe.
class EngineObserver {
 public:
  virtual ~EngineObserver() = default;
  virtual void OnStep(int32_t num_sequences, int32_t num_tokens, double seconds) = 0;
  virtual void OnRequestDone(const GenerateOutcome& outcome) = 0;
  virtual void OnGauges(int64_t queued, int64_t running, int32_t device_blocks, int32_t device_free,
                        int32_t device_available, int32_t host_blocks, int32_t host_free, int64_t sessions) = 0;
};

}  // namespace radixserve::service
