// SentencePiece-style BPE encoding (Llama 2, Mistral): spaces become "▁", characters
// merge by piece score (GGUF "llama" vocabularies, as llama.cpp's SPM tokenizer) or by
// merge rank (tokenizer.json BPE with byte_fallback), and characters with no piece fall
// back to <0xXX> byte tokens.
#include "model/bpe_merge.h"
#include "model/tokenizer.h"

namespace radixserve::model {

void Tokenizer::EncodeSentencePiece(std::string_view text, bool prefix_space,
                                    std::vector<int32_t>* out) const {
  static constexpr std::string_view kSpace = "\xE2\x96\x81";  // "▁"
  std::string escaped;
  escaped.reserve(text.size() + 8);
  if (prefix_space) escaped.append(kSpace);
  for (char c : text) {
    if (c == ' ') {
      escaped.append(kSpace);
    } else {
      escaped.push_back(c);
    }
  }
  std::vector<BpeSymbol> symbols =
      SplitIntoCharSymbols(escaped, [this](std::string_view c) { return CharId(c); });
  if (!merges_.empty()) {
    MergeBpeSymbols(symbols, [this](const BpeSymbol& l,
                                    const BpeSymbol& r) -> std::optional<BpeMergeCandidate> {
      if (l.id < 0 || r.id < 0) return std::nullopt;
      auto it = merges_.find((static_cast<uint64_t>(l.id) << 32) | static_cast<uint32_t>(r.id));
      if (it == merges_.end()) return std::nullopt;
      return BpeMergeCandidate{-static_cast<double>(it->second.rank), it->second.merged_id};
    });
  } else {
    // Any adjacent pair whose text is a piece may merge; the best-scored piece wins.
    const std::string_view word = escaped;
    MergeBpeSymbols(symbols, [&](const BpeSymbol& l,
                                 const BpeSymbol& r) -> std::optional<BpeMergeCandidate> {
      auto it = token_to_id_.find(absl::string_view(word.data() + l.begin, l.len + r.len));
      if (it == token_to_id_.end()) return std::nullopt;
      const double score = data_.scores.empty() ? 0.0 : data_.scores[it->second];
      return BpeMergeCandidate{score, it->second};
    });
  }
  for (const BpeSymbol& s : symbols) {
    if (s.len == 0) continue;
    if (s.id >= 0) {
      out->push_back(s.id);
      continue;
    }
    for (uint32_t i = 0; i < s.len; ++i) {
      const int32_t byte_id = byte_to_id_[static_cast<uint8_t>(escaped[s.begin + i])];
      if (byte_id >= 0) {
        out->push_back(byte_id);
      } else if (data_.unk_id) {
        out->push_back(*data_.unk_id);
        break;  // one unknown token stands for the whole character
      }
    }
  }
}

}  // namespace radixserve::model
