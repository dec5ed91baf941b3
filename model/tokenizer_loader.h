// One entry point for every place a tokenizer can come from.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "model/tokenizer.h"
#include "model/tokenizer_data.h"

namespace radixserve::model {

// `path` is a GGUF file (recognised by its magic), a tokenizer.json file, or a Hugging
// Face model directory holding tokenizer.json (and optionally tokenizer_config.json,
// for BOS/EOS and the chat template). NotFound if nothing is there.
absl::StatusOr<TokenizerData> LoadTokenizerData(const std::string& path);

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& path);

}  // namespace radixserve::model
