// Request: the engine's record of one queued / running / preempted generation.
// Owned by shared_ptr: the engine's queues and the RPC side's RequestHandle. Every field
// but `cancelled` belongs to the loop thread.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "model/incremental_decoder.h"
#include "service/engine.h"
#include "service/stop_matcher.h"

namespace radixserve::service {

struct Request final : RequestHandle {
  Request(Engine* engine, GenerateSpec s, GenerateCallbacks cb)
      : engine(engine), spec(std::move(s)), callbacks(std::move(cb)), stop(spec.stop_strings) {}
  void Cancel() override;

  Engine* const engine;
  GenerateSpec spec;
  GenerateCallbacks callbacks;
  std::atomic<bool> cancelled{false};

  std::string session;      // cache session id, set when started
  bool temporary = false;   // delete the session at the end
  bool started = false;     // holds its session (busy)
  bool finished = false;
  bool planned = false;     // its tokens are appended: next_pos / end_pos are valid
  bool preempted = false;   // swapped out or dropped; waits in preempted_
  bool in_step = false;     // scheduled in the step being built
  uint64_t seq = 0;         // admission order (larger = newer)
  // Tokens [next_pos, end_pos) of the session are appended but not computed yet.
  int64_t next_pos = 0;
  int64_t end_pos = 0;
  int32_t pending = -1;     // last sampled token, not appended yet
  int64_t generated = 0;
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;
  StopMatcher stop;
  std::optional<model::IncrementalDecoder> decoder;
  absl::Time arrival = absl::Now();
  absl::Time first_step = absl::InfinitePast();
  absl::Time first_token = absl::InfinitePast();
  // Storage the step's spans point into (valid during one Forward).
  std::vector<int32_t> step_tokens, step_table, step_history;
};

}  // namespace radixserve::service
