// ModelConfig: the architecture hyper-parameters of a decoder-only transformer, read
// from GGUF metadata or from a Hugging Face config.json (+ generation_config.json).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/gguf.h"

namespace radixserve::model {

enum class Arch { kLlama, kMistral, kQwen2 };
std::string_view ArchName(Arch arch);  // "llama", "mistral", "qwen2"

enum class RopeScalingType { kNone, kLinear, kLlama3 };
std::string_view RopeScalingName(RopeScalingType type);  // "none", "linear", "llama3"

struct RopeScaling {
  RopeScalingType type = RopeScalingType::kNone;
  double factor = 1.0;            // linear: positions are divided by it
  double low_freq_factor = 1.0;   // llama3 only
  double high_freq_factor = 4.0;  // llama3 only
  int64_t original_max_position_embeddings = 0;  // llama3 only
};

struct ModelConfig {
  Arch arch = Arch::kLlama;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  int64_t max_position_embeddings = 0;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // Q/K/V projections carry a bias (always for qwen2)
  std::optional<int32_t> bos_token_id;
  std::vector<int32_t> eos_token_ids;  // any of them ends generation
};

// Checks sizes are positive and within sane caps, heads divide hidden (when head_dim is
// derived), kv_heads divide heads, head_dim is even, eps/theta/scaling are positive.
// InvalidArgument naming the offending field.
absl::Status ValidateModelConfig(const ModelConfig& config);

// From GGUF metadata: general.architecture selects the key prefix ("llama", "qwen2";
// Mistral GGUFs use "llama"). Token ids come from tokenizer.ggml.*; tie_word_embeddings
// is true when the file has no output.weight; attention_bias when blk.0.attn_q.bias
// exists. A rope_freqs.weight tensor (Llama 3.1 style) sets rope_scaling.type = kLlama3.
absl::StatusOr<ModelConfig> ModelConfigFromGguf(const GgufFile& gguf);

// From the text of config.json and (optionally, may be empty) generation_config.json,
// whose bos/eos ids take precedence. eos_token_id may be an integer or a list.
absl::StatusOr<ModelConfig> ModelConfigFromHfJson(std::string_view config_json,
                                                  std::string_view generation_config_json);

// Reads `dir`/config.json and, if present, `dir`/generation_config.json.
absl::StatusOr<ModelConfig> ModelConfigFromHfDir(const std::string& dir);

// Reads a whole (small) text file; NotFound / Internal on failure.
absl::StatusOr<std::string> ReadTextFile(const std::string& path, uint64_t max_bytes);

}  // namespace radixserve::model
