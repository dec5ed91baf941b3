// Reads a Hugging Face tokenizer.json (and optionally tokenizer_config.json) into the
// format-independent TokenizerData.
//
// Supported: model "BPE" with a byte-level pre-tokenizer (ByteLevel, Digits, Split with
// behavior Isolated, in a Sequence) -> kByteLevelBpe; model "BPE" with byte_fallback and
// SentencePiece whitespace handling (normalizer Prepend("▁") + Replace(" ", "▁"), or a
// Metaspace pre-tokenizer) -> kSentencePieceBpe. Merges may be "a b" strings or
// ["a", "b"] pairs. added_tokens become control (special) or user-defined tokens. A
// TemplateProcessing post-processor sets add_bos / add_eos.
// Known differences from Hugging Face, shared with llama.cpp: an NFC normalizer
// (Qwen2) is accepted but not applied; Metaspace prepend_scheme "first" is treated as
// "always" (a "▁" also follows each special token); added-token lstrip/rstrip flags
// are ignored.
// Anything else is reported, never guessed: InvalidArgument for malformed JSON or
// inconsistent ids, Unimplemented for a valid but unsupported component, each naming
// the JSON path at fault.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "model/tokenizer_data.h"

namespace radixserve::model {

absl::StatusOr<TokenizerData> TokenizerDataFromJson(std::string_view tokenizer_json);

// Applies tokenizer_config.json: bos_token / eos_token (names their ids), add_bos_token,
// add_eos_token and chat_template, where present.
absl::Status ApplyTokenizerConfigJson(std::string_view config_json, TokenizerData* data);

}  // namespace radixserve::model
