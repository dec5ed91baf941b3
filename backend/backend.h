// The Backend interface: the plugin seam between the engine (service/, which owns all KV
// bookkeeping through cache/) and a device (which owns the weights and the physical KV
// block storage). A backend never decides which block a token goes to; it is told.
//
// Threading: a Backend is driven by exactly one thread, the engine loop of its device.
// No method may be called concurrently with another on the same instance. Load() is
// called once, before anything else.
// Ownership: the caller owns every input span for the duration of the call only; a
// backend keeps no pointer into a StepBatch after Forward() returns.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/model_config.h"

namespace radixserve::backend {

// Bump whenever anything in this header (or the types it includes) changes layout or
// meaning: the plugin loader refuses a plugin built against another version.
inline constexpr uint32_t kBackendAbiVersion = 2;

struct BackendOptions {
  int32_t num_threads = 0;          // CPU threads; 0 = all cores
  int32_t block_size = 16;          // tokens per KV block
  int64_t num_device_blocks = 0;    // 0: derive from device_kv_bytes
  int64_t device_kv_bytes = 0;      // 0: a backend default (CPU: 256 MiB; CUDA: memory fraction)
  double device_memory_fraction = 0.9;  // CUDA: share of free memory after weights for KV
  int64_t num_host_blocks = 0;      // host swap space, in blocks (0: none)
  int32_t device_index = 0;         // CUDA device ordinal
  // Element type of the KV cache: "f32", "f16" or "bf16"; empty = the backend's default
  // (CPU: "f16", llama.cpp's default too). A backend refuses a type it lacks (InvalidArgument).
  std::string kv_dtype;
};

// The physical KV pools as the backend allocated them. The engine sizes its block pool
// (cache/) from this and never hands out block ids outside [0, num_device_blocks).
struct KvLayout {
  int32_t block_size = 16;
  int64_t num_device_blocks = 0;
  int64_t num_host_blocks = 0;
  int64_t bytes_per_block = 0;  // K and V of all layers for one block
  int32_t num_layers = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
};

struct ModelInfo {
  std::string name;         // from the file's metadata, else the path's basename
  std::string format;       // "gguf" or "safetensors"
  std::string weight_type;  // dominant weight type, e.g. "Q4_1", "BF16"
  model::ModelConfig config;
  int64_t num_parameters = 0;
};

struct SamplingOptions {
  float temperature = 0.0f;  // <= 0: greedy
  int32_t top_k = 0;         // <= 0: off
  float top_p = 1.0f;        // >= 1: off
  float min_p = 0.0f;        // <= 0: off
  float repetition_penalty = 1.0f;  // 1: off (divides positive logits, multiplies negative)
  float presence_penalty = 0.0f;    // subtracted once per distinct seen token
  float frequency_penalty = 0.0f;   // subtracted per occurrence of a seen token
  uint64_t seed = 0;
};

// One sequence's share of a step: its new tokens at consecutive positions, written into
// its blocks, attending to everything before them in its block table.
struct SequenceStep {
  std::span<const int32_t> tokens;       // new tokens, in order
  int32_t start_position = 0;            // position of tokens[0]; earlier KV is in the blocks
  std::span<const int32_t> block_table;  // all blocks of the sequence, covering
                                         // start_position + tokens.size() tokens
  bool sample = false;                   // sample a token after the last new token
  SamplingOptions sampling;
  uint64_t sample_index = 0;             // RNG counter: the number of tokens sampled so far
  std::span<const int32_t> penalty_history;  // tokens the penalties count (prompt + output)
  int32_t num_top_logprobs = 0;          // alternatives to report, 0..20
  bool return_logits = false;            // return the full logits row (tests, scoring)
};

struct StepBatch {
  std::vector<SequenceStep> sequences;
};

struct TokenLogprob {
  int32_t token = -1;
  float logprob = 0.0f;
};

struct SequenceResult {
  int32_t token = -1;           // sampled token, or -1 when the step did not sample
  float logprob = 0.0f;         // log-softmax of the chosen token (after penalties)
  std::vector<TokenLogprob> top_logprobs;
  std::vector<float> logits;    // [vocab] when return_logits
};

struct StepResult {
  std::vector<SequenceResult> sequences;  // one per StepBatch::sequences, same order
};

// A block move: copy-on-write (device -> device), swap-out (device -> host), swap-in
// (host -> device). `src` and `dst` index the pools the direction names.
struct BlockCopy {
  int32_t src = 0;
  int32_t dst = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string_view name() const = 0;

  // Loads the model at `path` (a .gguf file or a Hugging Face directory) and allocates
  // the KV pools. InvalidArgument / NotFound / DataLoss for bad files, ResourceExhausted
  // when the weights or the requested pools don't fit.
  virtual absl::StatusOr<ModelInfo> Load(const std::string& path, const BackendOptions& options) = 0;

  virtual KvLayout kv_layout() const = 0;

  // Runs one step. Every sequence's new K/V is written into its blocks before attention,
  // so sequences of one step never see each other's tokens. On error nothing that any
  // sequence had before the step is changed (its new slots may hold garbage).
  virtual absl::StatusOr<StepResult> Forward(const StepBatch& batch) = 0;

  virtual absl::Status CopyBlocks(std::span<const BlockCopy> device_to_device) = 0;
  virtual absl::Status SwapOut(std::span<const BlockCopy> device_to_host) = 0;
  virtual absl::Status SwapIn(std::span<const BlockCopy> host_to_device) = 0;
};

}  // namespace radixserve::backend
