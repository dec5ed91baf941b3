// Mapping from Hugging Face (transformers) parameter names of Llama/Mistral/Qwen2 models
// to the canonical GGUF-style names used by ModelSource.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace radixserve::model {

// "model.layers.3.self_attn.q_proj.weight" -> "blk.3.attn_q.weight",
// "model.embed_tokens.weight" -> "token_embd.weight", "model.norm.weight" ->
// "output_norm.weight", "lm_head.weight" -> "output.weight". nullopt for names we do not
// know. Layer indices must be plain decimal (no sign, no leading zeros).
std::optional<std::string> CanonicalNameFromHf(std::string_view hf_name);

// True for HF tensors that carry no weights a backend needs (rotary inv_freq buffers).
bool IsIgnoredHfTensor(std::string_view hf_name);

}  // namespace radixserve::model
