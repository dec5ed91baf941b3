// Adapter from GGUF tokenizer metadata (tokenizer.ggml.*, tokenizer.chat_template) to the
// format-independent TokenizerData that the tokenizer consumes.
#pragma once

#include "absl/status/statusor.h"
#include "model/gguf.h"
#include "model/tokenizer_data.h"

namespace radixserve::model {

// Reads the tokenizer description from `gguf`'s metadata:
//   tokenizer.ggml.model        "gpt2" -> kByteLevelBpe, "llama" -> kSentencePieceBpe
//                               (anything else: Unimplemented, naming the model)
//   tokenizer.ggml.pre          pre-tokenizer name (absent: "default")
//   tokenizer.ggml.tokens       required, non-empty
//   tokenizer.ggml.scores       optional; if present, one per token
//   tokenizer.ggml.token_type   optional; if present, one per token, each in 1..6
//   tokenizer.ggml.merges       required for "gpt2", optional for "llama"
//   tokenizer.ggml.{bos,eos,unknown,padding}_token_id      optional, must be < vocab size
//   tokenizer.ggml.{eot,eom}_token_id  optional; added to extra_eos_ids unless == eos
//   tokenizer.ggml.add_bos_token / add_eos_token / add_space_prefix  optional bools
//   tokenizer.chat_template     optional
// Defaults when a flag key is absent follow llama.cpp: "llama" adds BOS and a space
// prefix; "gpt2" adds neither, except pre "llama-bpe" (Llama 3), which adds BOS.
// Errors: NotFound / InvalidArgument naming the key and what is wrong.
absl::StatusOr<TokenizerData> TokenizerDataFromGguf(const GgufFile& gguf);

}  // namespace radixserve::model
