#include "model/tokenizer_gguf.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"

namespace radixserve::model {
namespace {

// Reads an optional token id key; absent -> nullopt, out of [0, vocab) -> error.
absl::StatusOr<std::optional<int32_t>> OptionalTokenId(const GgufFile& gguf, std::string_view key,
                                                       size_t vocab) {
  if (gguf.FindValue(key) == nullptr) return std::optional<int32_t>();
  ASSIGN_OR_RETURN(int64_t id, gguf.GetInt(key));
  if (id < 0 || static_cast<uint64_t>(id) >= vocab) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "GGUF key '%s': token id %d is outside the vocabulary [0, %d)", key, id, vocab));
  }
  return std::optional<int32_t>(static_cast<int32_t>(id));
}

absl::StatusOr<bool> OptionalBool(const GgufFile& gguf, std::string_view key, bool fallback) {
  if (gguf.FindValue(key) == nullptr) return fallback;
  return gguf.GetBool(key);
}

}  // namespace

absl::StatusOr<TokenizerData> TokenizerDataFromGguf(const GgufFile& gguf) {
  TokenizerData d;
  ASSIGN_OR_RETURN(std::string model, gguf.GetString("tokenizer.ggml.model"));
  if (model == "gpt2") {
    d.kind = TokenizerKind::kByteLevelBpe;
  } else if (model == "llama") {
    d.kind = TokenizerKind::kSentencePieceBpe;
  } else {
    return absl::UnimplementedError(absl::StrCat(
        "GGUF tokenizer.ggml.model '", model, "' is not supported (supported: gpt2, llama)"));
  }
  if (gguf.FindValue("tokenizer.ggml.pre") != nullptr) {
    ASSIGN_OR_RETURN(d.pre, gguf.GetString("tokenizer.ggml.pre"));
  }

  ASSIGN_OR_RETURN(d.tokens, gguf.GetStringArray("tokenizer.ggml.tokens"));
  const size_t vocab = d.tokens.size();
  if (vocab == 0) return absl::InvalidArgumentError("GGUF tokenizer.ggml.tokens is empty");

  if (gguf.FindValue("tokenizer.ggml.scores") != nullptr) {
    ASSIGN_OR_RETURN(std::vector<double> scores, gguf.GetFloatArray("tokenizer.ggml.scores"));
    if (scores.size() != vocab) {
      return absl::InvalidArgumentError(absl::StrCat("GGUF tokenizer.ggml.scores has ",
                                                     scores.size(), " entries for ", vocab,
                                                     " tokens"));
    }
    d.scores.assign(scores.begin(), scores.end());
  }
  if (gguf.FindValue("tokenizer.ggml.token_type") != nullptr) {
    ASSIGN_OR_RETURN(std::vector<int64_t> types, gguf.GetIntArray("tokenizer.ggml.token_type"));
    if (types.size() != vocab) {
      return absl::InvalidArgumentError(absl::StrCat("GGUF tokenizer.ggml.token_type has ",
                                                     types.size(), " entries for ", vocab,
                                                     " tokens"));
    }
    d.types.reserve(vocab);
    for (size_t i = 0; i < vocab; ++i) {
      if (types[i] < 1 || types[i] > 6) {
        return absl::InvalidArgumentError(absl::StrCat(
            "GGUF tokenizer.ggml.token_type[", i, "] = ", types[i], " is not a token type (1..6)"));
      }
      d.types.push_back(static_cast<TokenType>(types[i]));
    }
  }
  if (gguf.FindValue("tokenizer.ggml.merges") != nullptr) {
    ASSIGN_OR_RETURN(d.merges, gguf.GetStringArray("tokenizer.ggml.merges"));
  } else if (d.kind == TokenizerKind::kByteLevelBpe) {
    return absl::NotFoundError("GGUF tokenizer.ggml.merges is required for a gpt2 tokenizer");
  }

  ASSIGN_OR_RETURN(d.bos_id, OptionalTokenId(gguf, "tokenizer.ggml.bos_token_id", vocab));
  ASSIGN_OR_RETURN(d.eos_id, OptionalTokenId(gguf, "tokenizer.ggml.eos_token_id", vocab));
  ASSIGN_OR_RETURN(d.unk_id, OptionalTokenId(gguf, "tokenizer.ggml.unknown_token_id", vocab));
  ASSIGN_OR_RETURN(d.pad_id, OptionalTokenId(gguf, "tokenizer.ggml.padding_token_id", vocab));
  for (std::string_view key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    ASSIGN_OR_RETURN(std::optional<int32_t> id, OptionalTokenId(gguf, key, vocab));
    if (id.has_value() && id != d.eos_id) d.extra_eos_ids.push_back(*id);
  }

  const bool spm = d.kind == TokenizerKind::kSentencePieceBpe;
  ASSIGN_OR_RETURN(d.add_bos, OptionalBool(gguf, "tokenizer.ggml.add_bos_token",
                                           spm || d.pre == "llama-bpe"));
  ASSIGN_OR_RETURN(d.add_eos, OptionalBool(gguf, "tokenizer.ggml.add_eos_token", false));
  ASSIGN_OR_RETURN(d.add_space_prefix,
                   OptionalBool(gguf, "tokenizer.ggml.add_space_prefix", spm));
  if (gguf.FindValue("tokenizer.chat_template") != nullptr) {
    ASSIGN_OR_RETURN(d.chat_template, gguf.GetString("tokenizer.chat_template"));
  }
  return d;
}

}  // namespace radixserve::model
