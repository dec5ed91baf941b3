// GPT-2's reversible byte <-> printable-character mapping used by byte-level BPE
// vocabularies (SmolLM2, Llama 3, Qwen2): every byte value becomes one Unicode code
// point, so any byte string is a string of vocabulary characters ("Ġ" is the space).
#pragma once

#include <string>
#include <string_view>

namespace radixserve::model {

// Maps each byte of `bytes` to its code point, UTF-8 encoded.
std::string ByteLevelEncode(std::string_view bytes);

// Inverse of ByteLevelEncode for a vocabulary piece. A character outside the mapping
// (possible only in hand-made vocabularies) is kept as its own UTF-8 bytes.
std::string ByteLevelDecode(std::string_view piece);

}  // namespace radixserve::model
