#include "model/tools/json_views.h"

#include <variant>

namespace radixserve::model::cli {
namespace {
using Json = nlohmann::ordered_json;

Json ScalarJson(const GgufValue& v) {
  return std::visit(
      [](const auto& x) -> Json {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::shared_ptr<GgufArray>>) {
          return nullptr;  // arrays are handled by the caller
        } else {
          return x;
        }
      },
      v.value);
}
}  // namespace

Json GgufValueToJson(const GgufValue& v, size_t max_elems) {
  Json out;
  out["type"] = std::string(GgufValueTypeName(v.type));
  const auto* arr = std::get_if<std::shared_ptr<GgufArray>>(&v.value);
  if (arr == nullptr) {
    out["value"] = ScalarJson(v);
    return out;
  }
  const GgufArray& a = **arr;
  out["element_type"] = std::string(GgufValueTypeName(a.element_type));
  out["count"] = a.elements.size();
  Json values = Json::array();
  for (size_t i = 0; i < a.elements.size(); ++i) {
    if (max_elems > 0 && i == max_elems) {
      out["truncated"] = true;
      break;
    }
    const GgufValue& e = a.elements[i];
    values.push_back(e.type == GgufValueType::kArray ? GgufValueToJson(e, max_elems)
                                                     : ScalarJson(e));
  }
  out["value"] = std::move(values);
  return out;
}

Json ModelConfigToJson(const ModelConfig& c) {
  Json j;
  j["arch"] = std::string(ArchName(c.arch));
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_layers"] = c.num_layers;
  j["num_heads"] = c.num_heads;
  j["num_kv_heads"] = c.num_kv_heads;
  j["head_dim"] = c.head_dim;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope_theta;
  j["rope_scaling"] = {{"type", std::string(RopeScalingName(c.rope_scaling.type))},
                       {"factor", c.rope_scaling.factor},
                       {"low_freq_factor", c.rope_scaling.low_freq_factor},
                       {"high_freq_factor", c.rope_scaling.high_freq_factor},
                       {"original_max_position_embeddings",
                        c.rope_scaling.original_max_position_embeddings}};
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["attention_bias"] = c.attention_bias;
  j["bos_token_id"] = c.bos_token_id.has_value() ? Json(*c.bos_token_id) : Json(nullptr);
  j["eos_token_ids"] = c.eos_token_ids;
  return j;
}

std::string JsonValueSummary(const Json& v) {
  const auto dump = [](const Json& x) {
    std::string s = x.dump(-1, ' ', false, Json::error_handler_t::replace);
    if (s.size() > 120) s = s.substr(0, 117) + "...";
    return s;
  };
  if (v.value("type", "") != "array") return v.value("type", "") + " " + dump(v["value"]);
  std::string s = "array[" + std::to_string(v["count"].get<size_t>()) + "] of " +
                  v["element_type"].get<std::string>() + " ";
  std::string elems;
  for (const Json& e : v["value"]) {
    if (!elems.empty()) elems += ", ";
    elems += e.is_object() ? JsonValueSummary(e) : dump(e);
    if (elems.size() > 120) break;
  }
  if (elems.size() > 120) elems = elems.substr(0, 117) + "...";
  return s + "[" + elems + (v.contains("truncated") ? ", ...]" : "]");
}

}  // namespace radixserve::model::cli
