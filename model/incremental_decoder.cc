#include "model/incremental_decoder.h"

#include "absl/strings/str_cat.h"
#include "model/utf8.h"

namespace radixserve::model {

absl::StatusOr<std::string> IncrementalDecoder::Next(int32_t id) {
  if (id < 0 || id >= tokenizer_.vocab_size()) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer: token id ", id,
                                                   " is outside the vocabulary of ",
                                                   tokenizer_.vocab_size()));
  }
  if (options_.skip_special && tokenizer_.IsSpecial(id)) return std::string();
  std::string_view piece = tokenizer_.TokenBytes(id);
  // Same leading-space rule as Tokenizer::Decode, applied to the first kept token.
  if (first_ && options_.strip_leading_space && tokenizer_.data().add_space_prefix &&
      !piece.empty() && piece.front() == ' ') {
    piece.remove_prefix(1);
  }
  first_ = false;
  pending_.append(piece);
  const size_t keep = IncompleteUtf8SuffixLength(pending_);
  std::string out = SanitizeUtf8(std::string_view(pending_).substr(0, pending_.size() - keep));
  pending_.erase(0, pending_.size() - keep);
  return out;
}

std::string IncrementalDecoder::Finish() {
  std::string out = SanitizeUtf8(pending_);
  pending_.clear();
  first_ = true;
  return out;
}

}  // namespace radixserve::model
