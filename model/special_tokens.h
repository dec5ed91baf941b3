// Splits text around special and added tokens before BPE sees it, as llama.cpp's
// tokenizer_st_partition does: tokens are tried longest text first, each cutting every
// remaining piece of raw text at all its occurrences.
//
// Which tokens take part follows the token types: control and unknown tokens only when
// the caller parses specials (so "<|im_start|>" typed by a user can stay plain text),
// user-defined tokens always (Hugging Face treats non-special added tokens that way).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "model/tokenizer_data.h"

namespace radixserve::model {

struct TextFragment {
  int32_t token_id;       // >= 0: a matched token; -1: raw text to encode
  std::string_view text;  // the raw text (a view into the input) or the token's text
};

class SpecialTokenMatcher {
 public:
  // `data` must outlive the matcher (token texts are referenced, not copied).
  explicit SpecialTokenMatcher(const TokenizerData& data);

  std::vector<TextFragment> Partition(std::string_view text, bool parse_special) const;

 private:
  struct Entry {
    std::string_view text;
    int32_t id;
    bool always;  // user-defined: matched even when specials are not parsed
  };
  std::vector<Entry> entries_;  // longest text first
};

}  // namespace radixserve::model
