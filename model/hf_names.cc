#include "model/hf_names.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace radixserve::model {
namespace {

constexpr std::pair<std::string_view, std::string_view> kLayerSuffixes[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.q_proj.bias", "attn_q.bias"},
    {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.bias", "attn_v.bias"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"self_attn.o_proj.bias", "attn_output.bias"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
};

}  // namespace

std::optional<std::string> CanonicalNameFromHf(std::string_view n) {
  if (n == "model.embed_tokens.weight") return "token_embd.weight";
  if (n == "model.norm.weight") return "output_norm.weight";
  if (n == "lm_head.weight") return "output.weight";
  constexpr std::string_view kPrefix = "model.layers.";
  if (!n.starts_with(kPrefix)) return std::nullopt;
  n.remove_prefix(kPrefix.size());
  const size_t dot = n.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 6) return std::nullopt;
  const std::string_view layer = n.substr(0, dot);
  if (layer.size() > 1 && layer[0] == '0') return std::nullopt;
  for (char ch : layer) {
    if (ch < '0' || ch > '9') return std::nullopt;
  }
  const std::string_view suffix = n.substr(dot + 1);
  for (const auto& [hf, gguf] : kLayerSuffixes) {
    if (suffix == hf) {
      return absl::StrCat("blk.", absl::string_view(layer.data(), layer.size()), ".",
                          absl::string_view(gguf.data(), gguf.size()));
    }
  }
  return std::nullopt;
}

bool IsIgnoredHfTensor(std::string_view n) { return n.ends_with("rotary_emb.inv_freq"); }

}  // namespace radixserve::model
