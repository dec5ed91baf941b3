// UTF-8 helpers shared by the tokenizer: validation, code point iteration and lossy
// conversion of arbitrary bytes to valid UTF-8.
//
// Ill-formed input is replaced the way Python's errors="replace", Rust's
// String::from_utf8_lossy and the WHATWG decoder do it ("maximal subpart" rule of
// Unicode 15, section 3.9): one U+FFFD per maximal prefix of a valid sequence, so a
// decode here matches the references byte for byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace radixserve::model {

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

enum class Utf8Step { kOk, kInvalid, kTruncated };

struct Utf8Decoded {
  Utf8Step step;
  uint32_t code_point;  // valid only for kOk
  size_t length;        // bytes consumed: the sequence, or the maximal ill-formed subpart
};

// Decodes the sequence starting at s[pos] (pos < s.size()). kTruncated means the bytes
// from pos to the end are a valid but incomplete prefix of a sequence.
Utf8Decoded DecodeUtf8At(std::string_view s, size_t pos);

bool IsValidUtf8(std::string_view s);

void AppendUtf8(uint32_t code_point, std::string* out);

// Replaces every ill-formed subsequence (including an incomplete one at the end) with
// U+FFFD. Valid input is returned unchanged.
std::string SanitizeUtf8(std::string_view bytes);

// Length of the longest suffix of `bytes` that is an incomplete but so far valid UTF-8
// sequence (0..3): the bytes a streaming decoder must hold back.
size_t IncompleteUtf8SuffixLength(std::string_view bytes);

}  // namespace radixserve::model
