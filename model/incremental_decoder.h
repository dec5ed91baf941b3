// Streaming detokenization: feed generated ids one at a time and get text that is
// always valid UTF-8, never half a character.
//
// Bytes of a character split across tokens are held back until the character is
// complete. Bytes that can never become valid are replaced by U+FFFD as soon as that
// is certain, and Finish() turns an incomplete tail into U+FFFD, so the concatenation
// of all outputs equals Tokenizer::Decode() of the whole sequence.
// Thread safety: one decoder per stream; it must not outlive its Tokenizer.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "model/tokenizer.h"

namespace radixserve::model {

class IncrementalDecoder {
 public:
  IncrementalDecoder(const Tokenizer& tokenizer, DecodeOptions options = {})
      : tokenizer_(tokenizer), options_(options) {}

  // Text completed by `id` (often empty while a character is pending).
  // InvalidArgument for an id outside the vocabulary; the decoder is unchanged then.
  absl::StatusOr<std::string> Next(int32_t id);

  // Flushes what is still pending (an incomplete character becomes U+FFFD) and resets
  // the decoder for a new sequence.
  std::string Finish();

  // Bytes held back, waiting for the rest of a character (at most 3).
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer& tokenizer_;
  DecodeOptions options_;
  bool first_ = true;
  std::string pending_;
};

}  // namespace radixserve::model
