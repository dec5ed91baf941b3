#include "model/model_config.h"

#include <algorithm>
#include <fstream>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace radixserve::model {
namespace {

using Json = nlohmann::json;

// Sanity caps: far above any real model, low enough that products cannot overflow.
constexpr int64_t kMaxVocab = int64_t{1} << 24;
constexpr int64_t kMaxHidden = int64_t{1} << 20;
constexpr int64_t kMaxLayers = 4096;
constexpr int64_t kMaxHeads = 4096;
constexpr int64_t kMaxPositions = int64_t{1} << 28;

absl::Status CheckRange(std::string_view field, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi) {
    return absl::InvalidArgumentError(
        absl::StrFormat("model config: %s = %d is outside [%d, %d]", field, v, lo, hi));
  }
  return absl::OkStatus();
}

// --- config.json helpers: no exceptions, every type checked. ---

absl::StatusOr<std::optional<int64_t>> JsonInt(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<int64_t>();
  if (it->is_number_integer()) {
    if (it->is_number_unsigned() &&
        it->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return absl::InvalidArgumentError(absl::StrFormat("config.json: '%s' is too large", key));
    }
    return std::optional<int64_t>(it->get<int64_t>());
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("config.json: '%s' must be an integer, found %s", key, it->type_name()));
}

absl::StatusOr<int64_t> JsonRequiredInt(const Json& j, const char* key) {
  ASSIGN_OR_RETURN(std::optional<int64_t> v, JsonInt(j, key));
  if (!v.has_value()) {
    return absl::InvalidArgumentError(absl::StrFormat("config.json: missing '%s'", key));
  }
  return *v;
}

absl::StatusOr<std::optional<double>> JsonNumber(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<double>();
  if (!it->is_number()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("config.json: '%s' must be a number, found %s", key, it->type_name()));
  }
  return std::optional<double>(it->get<double>());
}

absl::StatusOr<std::optional<bool>> JsonBool(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<bool>();
  if (!it->is_boolean()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("config.json: '%s' must be a boolean, found %s", key, it->type_name()));
  }
  return std::optional<bool>(it->get<bool>());
}

absl::StatusOr<int32_t> AsTokenId(const Json& v, const char* key) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0 ||
      v.get<int64_t>() > std::numeric_limits<int32_t>::max() ||
      (v.is_number_unsigned() && v.get<uint64_t>() > std::numeric_limits<int32_t>::max())) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: must be a non-negative 32-bit token id", key));
  }
  return static_cast<int32_t>(v.get<int64_t>());
}

// Reads bos/eos from `j` into `c` when present (eos: integer or list of integers).
absl::Status ReadTokenIds(const Json& j, ModelConfig& c) {
  if (auto it = j.find("bos_token_id"); it != j.end() && !it->is_null()) {
    ASSIGN_OR_RETURN(c.bos_token_id, AsTokenId(*it, "bos_token_id"));
  }
  if (auto it = j.find("eos_token_id"); it != j.end() && !it->is_null()) {
    c.eos_token_ids.clear();
    if (it->is_array()) {
      for (const Json& e : *it) {
        ASSIGN_OR_RETURN(int32_t id, AsTokenId(e, "eos_token_id"));
        c.eos_token_ids.push_back(id);
      }
    } else {
      ASSIGN_OR_RETURN(int32_t id, AsTokenId(*it, "eos_token_id"));
      c.eos_token_ids.push_back(id);
    }
  }
  return absl::OkStatus();
}

// transformers >= 5 writes rope_theta and the scaling together as "rope_parameters";
// earlier versions write "rope_theta" and "rope_scaling" at the top level.
absl::Status ReadRopeScaling(const Json& j, ModelConfig& c) {
  auto it = j.find("rope_scaling");
  if (it == j.end() || it->is_null()) it = j.find("rope_parameters");
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_object()) {
    return absl::InvalidArgumentError("config.json: 'rope_scaling' / 'rope_parameters' must be an object");
  }
  const Json& rs = *it;
  std::string type;
  for (const char* key : {"rope_type", "type"}) {
    if (auto t = rs.find(key); t != rs.end() && t->is_string()) {
      type = t->get<std::string>();
      break;
    }
  }
  RopeScaling& s = c.rope_scaling;
  if (type == "default" || type.empty()) {
    s.type = RopeScalingType::kNone;
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::optional<double> factor, JsonNumber(rs, "factor"));
  if (type == "linear") {
    s.type = RopeScalingType::kLinear;
  } else if (type == "llama3") {
    s.type = RopeScalingType::kLlama3;
    ASSIGN_OR_RETURN(std::optional<double> low, JsonNumber(rs, "low_freq_factor"));
    ASSIGN_OR_RETURN(std::optional<double> high, JsonNumber(rs, "high_freq_factor"));
    ASSIGN_OR_RETURN(std::optional<int64_t> orig,
                     JsonInt(rs, "original_max_position_embeddings"));
    if (!low || !high || !orig) {
      return absl::InvalidArgumentError(
          "config.json: llama3 rope_scaling needs low_freq_factor, high_freq_factor and "
          "original_max_position_embeddings");
    }
    s.low_freq_factor = *low;
    s.high_freq_factor = *high;
    s.original_max_position_embeddings = *orig;
  } else {
    return absl::UnimplementedError(absl::StrFormat(
        "config.json: rope_scaling type '%s' is not supported (supported: linear, llama3)",
        type));
  }
  if (!factor) return absl::InvalidArgumentError("config.json: rope_scaling needs 'factor'");
  s.factor = *factor;
  return absl::OkStatus();
}

absl::StatusOr<Arch> ArchFromHf(const Json& j) {
  std::string model_type;
  if (auto it = j.find("model_type"); it != j.end() && it->is_string()) {
    model_type = it->get<std::string>();
  }
  if (model_type == "llama") return Arch::kLlama;
  if (model_type == "mistral") return Arch::kMistral;
  if (model_type == "qwen2") return Arch::kQwen2;
  return absl::UnimplementedError(absl::StrFormat(
      "config.json: model_type '%s' is not supported (supported: llama, mistral, qwen2)",
      model_type));
}

absl::StatusOr<Json> ParseJsonObject(std::string_view text, std::string_view what) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: not valid JSON", what));
  }
  if (!j.is_object()) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: top level must be a JSON object", what));
  }
  return j;
}

// --- GGUF helpers ---

absl::StatusOr<int64_t> GgufRequiredInt(const GgufFile& g, const std::string& key) {
  auto v = g.GetInt(key);
  if (!v.ok() && absl::IsNotFound(v.status())) {
    return absl::InvalidArgumentError(absl::StrFormat("GGUF: missing required key '%s'", key));
  }
  return v;
}

template <typename T, typename Getter>
absl::StatusOr<T> GgufOptional(const GgufFile& g, const std::string& key, T fallback, Getter get) {
  if (g.FindValue(key) == nullptr) return fallback;
  return get(key);
}

}  // namespace

std::string_view ArchName(Arch arch) {
  switch (arch) {
    case Arch::kLlama: return "llama";
    case Arch::kMistral: return "mistral";
    case Arch::kQwen2: return "qwen2";
  }
  return "unknown";
}

std::string_view RopeScalingName(RopeScalingType type) {
  switch (type) {
    case RopeScalingType::kNone: return "none";
    case RopeScalingType::kLinear: return "linear";
    case RopeScalingType::kLlama3: return "llama3";
  }
  return "unknown";
}

absl::Status ValidateModelConfig(const ModelConfig& c) {
  RETURN_IF_ERROR(CheckRange("vocab_size", c.vocab_size, 1, kMaxVocab));
  RETURN_IF_ERROR(CheckRange("hidden_size", c.hidden_size, 1, kMaxHidden));
  RETURN_IF_ERROR(CheckRange("intermediate_size", c.intermediate_size, 1, kMaxHidden * 16));
  RETURN_IF_ERROR(CheckRange("num_layers", c.num_layers, 1, kMaxLayers));
  RETURN_IF_ERROR(CheckRange("num_heads", c.num_heads, 1, kMaxHeads));
  RETURN_IF_ERROR(CheckRange("num_kv_heads", c.num_kv_heads, 1, c.num_heads));
  RETURN_IF_ERROR(CheckRange("head_dim", c.head_dim, 2, 4096));
  RETURN_IF_ERROR(CheckRange("max_position_embeddings", c.max_position_embeddings, 1, kMaxPositions));
  if (c.num_heads % c.num_kv_heads != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "model config: num_kv_heads %d does not divide num_heads %d", c.num_kv_heads,
        c.num_heads));
  }
  if (c.head_dim % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("model config: head_dim %d must be even for RoPE", c.head_dim));
  }
  if (!(c.rms_norm_eps > 0) || !(c.rms_norm_eps < 1)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("model config: rms_norm_eps %g must be in (0, 1)", c.rms_norm_eps));
  }
  if (!(c.rope_theta > 0) || !(c.rope_theta < 1e12)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("model config: rope_theta %g must be positive", c.rope_theta));
  }
  const RopeScaling& s = c.rope_scaling;
  if (s.type != RopeScalingType::kNone && !(s.factor > 0 && s.factor < 1e6)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("model config: rope_scaling factor %g must be positive", s.factor));
  }
  if (s.type == RopeScalingType::kLlama3 && s.original_max_position_embeddings != 0 &&
      !(s.low_freq_factor > 0 && s.high_freq_factor > s.low_freq_factor &&
        s.original_max_position_embeddings > 0)) {
    return absl::InvalidArgumentError(
        "model config: llama3 rope_scaling needs 0 < low_freq_factor < high_freq_factor and "
        "original_max_position_embeddings > 0");
  }
  for (int32_t id : c.eos_token_ids) {
    if (id >= c.vocab_size) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "model config: eos_token_id %d is outside the vocabulary (%d)", id, c.vocab_size));
    }
  }
  if (c.bos_token_id.has_value() && *c.bos_token_id >= c.vocab_size) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "model config: bos_token_id %d is outside the vocabulary (%d)", *c.bos_token_id,
        c.vocab_size));
  }
  return absl::OkStatus();
}

absl::StatusOr<ModelConfig> ModelConfigFromHfJson(std::string_view config_json,
                                                  std::string_view generation_config_json) {
  ASSIGN_OR_RETURN(Json j, ParseJsonObject(config_json, "config.json"));
  ModelConfig c;
  ASSIGN_OR_RETURN(c.arch, ArchFromHf(j));
  ASSIGN_OR_RETURN(c.vocab_size, JsonRequiredInt(j, "vocab_size"));
  ASSIGN_OR_RETURN(c.hidden_size, JsonRequiredInt(j, "hidden_size"));
  ASSIGN_OR_RETURN(c.intermediate_size, JsonRequiredInt(j, "intermediate_size"));
  ASSIGN_OR_RETURN(c.num_layers, JsonRequiredInt(j, "num_hidden_layers"));
  ASSIGN_OR_RETURN(c.num_heads, JsonRequiredInt(j, "num_attention_heads"));
  ASSIGN_OR_RETURN(std::optional<int64_t> kv, JsonInt(j, "num_key_value_heads"));
  c.num_kv_heads = kv.value_or(c.num_heads);
  ASSIGN_OR_RETURN(std::optional<int64_t> head_dim, JsonInt(j, "head_dim"));
  if (head_dim.has_value()) {
    c.head_dim = *head_dim;
  } else {
    if (c.num_heads <= 0 || c.hidden_size % c.num_heads != 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "config.json: num_attention_heads %d does not divide hidden_size %d", c.num_heads,
          c.hidden_size));
    }
    c.head_dim = c.hidden_size / c.num_heads;
  }
  ASSIGN_OR_RETURN(std::optional<double> eps, JsonNumber(j, "rms_norm_eps"));
  c.rms_norm_eps = eps.value_or(1e-6);
  ASSIGN_OR_RETURN(std::optional<double> theta, JsonNumber(j, "rope_theta"));
  if (auto params = j.find("rope_parameters"); !theta && params != j.end() && params->is_object()) {
    ASSIGN_OR_RETURN(theta, JsonNumber(*params, "rope_theta"));
  }
  c.rope_theta = theta.value_or(10000.0);
  RETURN_IF_ERROR(ReadRopeScaling(j, c));
  ASSIGN_OR_RETURN(std::optional<int64_t> max_pos, JsonInt(j, "max_position_embeddings"));
  c.max_position_embeddings = max_pos.value_or(2048);
  ASSIGN_OR_RETURN(std::optional<bool> tie, JsonBool(j, "tie_word_embeddings"));
  c.tie_word_embeddings = tie.value_or(false);
  ASSIGN_OR_RETURN(std::optional<bool> bias, JsonBool(j, "attention_bias"));
  c.attention_bias = c.arch == Arch::kQwen2 ? true : bias.value_or(false);
  RETURN_IF_ERROR(ReadTokenIds(j, c));
  if (!generation_config_json.empty()) {
    ASSIGN_OR_RETURN(Json g, ParseJsonObject(generation_config_json, "generation_config.json"));
    RETURN_IF_ERROR(ReadTokenIds(g, c));
  }
  RETURN_IF_ERROR(ValidateModelConfig(c));
  return c;
}

absl::StatusOr<std::string> ReadTextFile(const std::string& path, uint64_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrFormat("cannot open '%s'", path));
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > max_bytes) {
      return absl::InvalidArgumentError(
          absl::StrFormat("'%s' is larger than %d bytes", path, max_bytes));
    }
  }
  return text;
}

absl::StatusOr<ModelConfig> ModelConfigFromHfDir(const std::string& dir) {
  constexpr uint64_t kMaxConfigBytes = 16 << 20;
  ASSIGN_OR_RETURN(std::string config, ReadTextFile(dir + "/config.json", kMaxConfigBytes));
  std::string generation;
  if (auto g = ReadTextFile(dir + "/generation_config.json", kMaxConfigBytes); g.ok()) {
    generation = *std::move(g);
  } else if (!absl::IsNotFound(g.status())) {
    return g.status();
  }
  auto c = ModelConfigFromHfJson(config, generation);
  if (!c.ok()) return absl::Status(c.status().code(), absl::StrFormat("%s: %s", dir, c.status().message()));
  return c;
}

absl::StatusOr<ModelConfig> ModelConfigFromGguf(const GgufFile& g) {
  ModelConfig c;
  ASSIGN_OR_RETURN(std::string arch, g.GetString("general.architecture"));
  if (arch == "llama") {
    c.arch = Arch::kLlama;
  } else if (arch == "qwen2") {
    c.arch = Arch::kQwen2;
  } else {
    return absl::UnimplementedError(absl::StrFormat(
        "GGUF general.architecture '%s' is not supported (supported: llama, qwen2)", arch));
  }
  const std::string p = arch + ".";
  auto get_int = [&](const std::string& k) { return g.GetInt(k); };
  auto get_float = [&](const std::string& k) { return g.GetFloat(k); };
  ASSIGN_OR_RETURN(c.num_layers, GgufRequiredInt(g, p + "block_count"));
  ASSIGN_OR_RETURN(c.hidden_size, GgufRequiredInt(g, p + "embedding_length"));
  ASSIGN_OR_RETURN(c.intermediate_size, GgufRequiredInt(g, p + "feed_forward_length"));
  ASSIGN_OR_RETURN(c.num_heads, GgufRequiredInt(g, p + "attention.head_count"));
  ASSIGN_OR_RETURN(c.max_position_embeddings, GgufRequiredInt(g, p + "context_length"));
  ASSIGN_OR_RETURN(c.num_kv_heads,
                   GgufOptional<int64_t>(g, p + "attention.head_count_kv", c.num_heads, get_int));
  if (g.FindValue(p + "attention.key_length") != nullptr) {
    ASSIGN_OR_RETURN(c.head_dim, g.GetInt(p + "attention.key_length"));
  } else {
    if (c.num_heads <= 0 || c.hidden_size % c.num_heads != 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "GGUF: head_count %d does not divide embedding_length %d", c.num_heads,
          c.hidden_size));
    }
    c.head_dim = c.hidden_size / c.num_heads;
  }
  if (g.FindValue(p + "rope.dimension_count") != nullptr) {
    ASSIGN_OR_RETURN(int64_t rope_dims, g.GetInt(p + "rope.dimension_count"));
    if (rope_dims != c.head_dim) {
      return absl::UnimplementedError(absl::StrFormat(
          "GGUF: partial rotary embeddings (rope.dimension_count %d, head_dim %d) are not "
          "supported",
          rope_dims, c.head_dim));
    }
  }
  ASSIGN_OR_RETURN(c.rms_norm_eps, GgufOptional<double>(
                                       g, p + "attention.layer_norm_rms_epsilon", 1e-5, get_float));
  ASSIGN_OR_RETURN(c.rope_theta, GgufOptional<double>(g, p + "rope.freq_base", 10000.0, get_float));

  // Vocabulary: explicit key, else the token list, else token_embd's second dimension.
  if (g.FindValue(p + "vocab_size") != nullptr) {
    ASSIGN_OR_RETURN(c.vocab_size, g.GetInt(p + "vocab_size"));
  } else if (const GgufValue* t = g.FindValue("tokenizer.ggml.tokens");
             t != nullptr && std::holds_alternative<std::shared_ptr<GgufArray>>(t->value)) {
    c.vocab_size = static_cast<int64_t>(
        std::get<std::shared_ptr<GgufArray>>(t->value)->elements.size());
  } else if (const GgufTensorInfo* e = g.FindTensor("token_embd.weight");
             e != nullptr && e->shape.size() == 2) {
    c.vocab_size = e->shape[1];
  }

  std::string scaling = "none";
  if (g.FindValue(p + "rope.scaling.type") != nullptr) {
    ASSIGN_OR_RETURN(scaling, g.GetString(p + "rope.scaling.type"));
  }
  if (scaling == "linear") {
    c.rope_scaling.type = RopeScalingType::kLinear;
    ASSIGN_OR_RETURN(c.rope_scaling.factor, g.GetFloat(p + "rope.scaling.factor"));
  } else if (scaling != "none") {
    return absl::UnimplementedError(absl::StrFormat(
        "GGUF: rope.scaling.type '%s' is not supported (supported: none, linear)", scaling));
  }
  if (g.FindTensor("rope_freqs.weight") != nullptr) {
    // Llama 3.1-style scaling: the per-frequency divisors are stored as a tensor; the
    // parameters that produced them are not in the metadata.
    c.rope_scaling.type = RopeScalingType::kLlama3;
    ASSIGN_OR_RETURN(c.rope_scaling.factor,
                     GgufOptional<double>(g, p + "rope.scaling.factor", 1.0, get_float));
  }

  c.tie_word_embeddings = g.FindTensor("output.weight") == nullptr;
  c.attention_bias = c.arch == Arch::kQwen2 || g.FindTensor("blk.0.attn_q.bias") != nullptr;
  auto id = [&](const char* key) -> absl::StatusOr<std::optional<int32_t>> {
    if (g.FindValue(key) == nullptr) return std::optional<int32_t>();
    ASSIGN_OR_RETURN(int64_t v, g.GetInt(key));
    if (v < 0 || v > std::numeric_limits<int32_t>::max()) {
      return absl::InvalidArgumentError(absl::StrFormat("GGUF: %s = %d is not a token id", key, v));
    }
    return std::optional<int32_t>(static_cast<int32_t>(v));
  };
  ASSIGN_OR_RETURN(c.bos_token_id, id("tokenizer.ggml.bos_token_id"));
  for (const char* key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id",
                          "tokenizer.ggml.eom_token_id"}) {
    ASSIGN_OR_RETURN(std::optional<int32_t> e, id(key));
    if (e.has_value() &&
        std::find(c.eos_token_ids.begin(), c.eos_token_ids.end(), *e) == c.eos_token_ids.end()) {
      c.eos_token_ids.push_back(*e);
    }
  }
  RETURN_IF_ERROR(ValidateModelConfig(c));
  return c;
}

}  // namespace radixserve::model
