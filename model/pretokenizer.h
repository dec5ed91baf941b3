// Regex pre-tokenizer for byte-level BPE: splits text into the "words" that BPE merges
// never cross, with the same patterns as llama.cpp and Hugging Face tokenizers.
//
// Patterns apply in sequence, as llama.cpp's unicode_regex_split does: each pattern
// splits every piece left by the previous one into its matches and the gaps between
// them (both kept, so the pieces always concatenate back to the input). Patterns are
// compiled with PCRE2 in UTF + UCP mode, so \p{L}, \p{N} and \s are Unicode-aware.
// Thread safety: immutable after Create(); Split() may run on many threads at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace radixserve::model {

// The split patterns of a pre-tokenizer family as GGUF names it (tokenizer.ggml.pre):
// "smollm" (and the other StarCoder-like families), "llama-bpe" / "llama3", "qwen2",
// "gpt-2" / "gpt2", "default" (also for an empty name). Unimplemented for others.
absl::StatusOr<std::vector<std::string>> PreTokenizerPatterns(std::string_view family);

// Families whose reference implementations use a whole word directly when it is a
// vocabulary token, before any merge (llama.cpp's ignore_merges; Llama 3).
bool PreTokenizerIgnoresMerges(std::string_view family);

// GPT-2's pattern as Hugging Face's ByteLevel(use_regex=true) spells it.
inline constexpr std::string_view kGpt2HfPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class PreTokenizer {
 public:
  // InvalidArgument (with PCRE2's message and offset) if a pattern does not compile.
  static absl::StatusOr<std::unique_ptr<PreTokenizer>> Create(std::vector<std::string> patterns);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Splits valid UTF-8 `text` into non-empty pieces (views into `text`).
  std::vector<std::string_view> Split(std::string_view text) const;

  const std::vector<std::string>& patterns() const { return patterns_; }

 private:
  struct Compiled;
  PreTokenizer() = default;

  std::vector<std::string> patterns_;
  std::vector<std::unique_ptr<Compiled>> compiled_;
};

}  // namespace radixserve::model
