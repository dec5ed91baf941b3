#include "model/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace radixserve::model {
namespace {

// llama.cpp writes GPT-2's pattern without the final "|\s+"; the result is the same
// because a whitespace run that the pattern skips becomes a gap piece on its own.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
// Llama 3's pattern with the case-insensitive contraction group spelled out, as llama.cpp
// does (a (?i:) group would also fold non-ASCII letters such as U+017F into 's').
constexpr std::string_view kLlama3Pattern =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2: as Llama 3 but every digit is its own piece.
constexpr std::string_view kQwen2Pattern =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

bool IsOneOf(std::string_view name, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names) {
    if (name == n) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> PreTokenizerPatterns(std::string_view family) {
  // StarCoder-like families (SmolLM2's "smollm" among them): digits one by one, then
  // GPT-2's pattern. Hugging Face's SmolLM2 tokenizer.json says the same with
  // Digits(individual_digits) + ByteLevel, and Digits splits on char::is_numeric = \p{N}.
  if (IsOneOf(family, {"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone",
                       "minerva"})) {
    return std::vector<std::string>{R"(\p{N})", std::string(kGpt2Pattern)};
  }
  if (IsOneOf(family, {"gpt2", "gpt-2", "phi-2", "mpt", "olmo", "jais"})) {
    return std::vector<std::string>{std::string(kGpt2Pattern)};
  }
  if (IsOneOf(family, {"llama-bpe", "llama3", "llama-v3", "falcon3", "dbrx", "smaug-bpe"})) {
    return std::vector<std::string>{std::string(kLlama3Pattern)};
  }
  if (IsOneOf(family, {"qwen2", "deepseek-r1-qwen", "stablelm2"})) {
    return std::vector<std::string>{std::string(kQwen2Pattern)};
  }
  if (family.empty() || family == "default") {
    return std::vector<std::string>{R"([\p{P}\$\+<=>\^~\|]+)", std::string(kGpt2Pattern),
                                    R"(\p{N}+)", "[0-9][0-9][0-9]"};
  }
  return absl::UnimplementedError(
      absl::StrCat("tokenizer: unsupported pre-tokenizer '", std::string(family), "'"));
}

bool PreTokenizerIgnoresMerges(std::string_view family) {
  return IsOneOf(family, {"llama-bpe", "llama3", "llama-v3", "falcon3"});
}

struct PreTokenizer::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() { pcre2_code_free(code); }
};

PreTokenizer::~PreTokenizer() = default;

absl::StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizer::Create(
    std::vector<std::string> patterns) {
  std::unique_ptr<PreTokenizer> pt(new PreTokenizer());
  for (const std::string& pattern : patterns) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    auto compiled = std::make_unique<Compiled>();
    compiled->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
    if (compiled->code == nullptr) {
      std::array<PCRE2_UCHAR, 256> message{};
      pcre2_get_error_message(error, message.data(), message.size());
      return absl::InvalidArgumentError(
          absl::StrFormat("tokenizer: bad pre-tokenizer regex at offset %d: %s",
                          static_cast<int>(offset), reinterpret_cast<const char*>(message.data())));
    }
    // JIT is an optimisation only: where it is unavailable the interpreter runs.
    pcre2_jit_compile(compiled->code, PCRE2_JIT_COMPLETE);
    pt->compiled_.push_back(std::move(compiled));
  }
  pt->patterns_ = std::move(patterns);
  return pt;
}

std::vector<std::string_view> PreTokenizer::Split(std::string_view text) const {
  std::vector<std::string_view> pieces;
  if (!text.empty()) pieces.push_back(text);
  for (const auto& compiled : compiled_) {
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(compiled->code, nullptr);
    std::vector<std::string_view> next;
    next.reserve(pieces.size() * 2);
    for (std::string_view piece : pieces) {
      const auto* subject = reinterpret_cast<PCRE2_SPTR>(piece.data());
      size_t start = 0;  // end of the last match: the next gap starts here
      size_t search = 0;
      while (search < piece.size()) {
        // The input was validated as UTF-8 once, up front; skip PCRE2's re-check.
        const int rc = pcre2_match(compiled->code, subject, piece.size(), search,
                                   PCRE2_NO_UTF_CHECK, md, nullptr);
        if (rc < 0) break;  // no further match (or a match limit): the rest is a gap
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        const size_t m_begin = ov[0], m_end = ov[1];
        if (m_end == m_begin) {
          // None of our patterns matches empty, but a custom one might: step over one
          // whole character so the loop always advances.
          search = m_begin + 1;
          while (search < piece.size() && (static_cast<uint8_t>(piece[search]) & 0xC0) == 0x80) {
            ++search;
          }
          continue;
        }
        if (m_begin > start) next.push_back(piece.substr(start, m_begin - start));
        next.push_back(piece.substr(m_begin, m_end - m_begin));
        start = search = m_end;
      }
      if (start < piece.size()) next.push_back(piece.substr(start));
    }
    pcre2_match_data_free(md);
    pieces = std::move(next);
  }
  return pieces;
}

}  // namespace radixserve::model
