// The format-independent description of a tokenizer: what the GGUF metadata
// (tokenizer.ggml.*) and a Hugging Face tokenizer.json both reduce to.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace radixserve::model {

enum class TokenizerKind {
  kByteLevelBpe,      // GPT-2 style: SmolLM2, Llama 3, Qwen2 ("gpt2" in GGUF)
  kSentencePieceBpe,  // score-ordered merges with byte fallback: Llama 2, Mistral ("llama")
};

// GGUF token types (tokenizer.ggml.token_type).
enum class TokenType : int32_t {
  kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6,
};

struct TokenizerData {
  TokenizerKind kind = TokenizerKind::kByteLevelBpe;
  // Pre-tokenizer family name as GGUF spells it (tokenizer.ggml.pre): "smollm",
  // "llama-bpe", "qwen2", "gpt2", "default", ...; selects the split regexes.
  std::string pre = "default";
  // Explicit split regexes (PCRE2 syntax, applied in sequence), e.g. from a
  // tokenizer.json pre_tokenizer; when non-empty they replace the family's patterns.
  std::vector<std::string> pre_patterns;
  // Use a pre-tokenized word directly when it is a vocabulary token (HF BPE
  // "ignore_merges"; llama.cpp sets it for Llama 3). Also implied by pre "llama-bpe".
  bool ignore_merges = false;
  std::vector<std::string> tokens;   // id -> piece, in the model's own encoding
  std::vector<float> scores;         // SentencePiece merge priorities (empty for BPE)
  std::vector<TokenType> types;      // id -> type (empty means all normal)
  std::vector<std::string> merges;   // "left right" pairs, highest priority first
  std::optional<int32_t> bos_id, eos_id, unk_id, pad_id;
  std::vector<int32_t> extra_eos_ids;  // e.g. <|eot_id|>, <|im_end|>
  bool add_bos = false;
  bool add_eos = false;
  bool add_space_prefix = false;     // SentencePiece: prepend "▁" to the text
  std::string chat_template;         // Jinja source, as shipped with the model
};

}  // namespace radixserve::model
