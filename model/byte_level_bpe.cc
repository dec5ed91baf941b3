// Byte-level BPE encoding (GPT-2 style): pre-tokenize, map bytes to vocabulary
// characters, merge each word by merge rank.
#include "model/bpe_merge.h"
#include "model/byte_level.h"
#include "model/tokenizer.h"

namespace radixserve::model {

void Tokenizer::EncodeByteLevel(std::string_view text, std::vector<int32_t>* out) const {
  for (std::string_view word : pre_tokenizer_->Split(text)) EncodeByteLevelWord(word, out);
}

void Tokenizer::EncodeByteLevelWord(std::string_view word, std::vector<int32_t>* out) const {
  const std::string encoded = ByteLevelEncode(word);
  {
    absl::ReaderMutexLock lock(&cache_mu_);
    auto it = word_cache_.find(encoded);
    if (it != word_cache_.end()) {
      out->insert(out->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  auto whole = ignore_merges_ ? token_to_id_.find(encoded) : token_to_id_.end();
  if (whole != token_to_id_.end()) {
    ids.push_back(whole->second);
  } else {
    std::vector<BpeSymbol> symbols =
        SplitIntoCharSymbols(encoded, [this](std::string_view c) { return CharId(c); });
    MergeBpeSymbols(symbols, [this](const BpeSymbol& l,
                                    const BpeSymbol& r) -> std::optional<BpeMergeCandidate> {
      if (l.id < 0 || r.id < 0) return std::nullopt;
      auto it = merges_.find((static_cast<uint64_t>(l.id) << 32) | static_cast<uint32_t>(r.id));
      if (it == merges_.end()) return std::nullopt;
      return BpeMergeCandidate{-static_cast<double>(it->second.rank), it->second.merged_id};
    });
    for (const BpeSymbol& s : symbols) {
      if (s.len == 0) continue;
      // Every byte has a character in a byte-level vocabulary, so a miss means a
      // hand-made vocabulary without it: the unknown token stands in where there is one.
      if (s.id >= 0) {
        ids.push_back(s.id);
      } else if (data_.unk_id) {
        ids.push_back(*data_.unk_id);
      }
    }
  }
  out->insert(out->end(), ids.begin(), ids.end());
  absl::MutexLock lock(&cache_mu_);
  if (word_cache_.size() >= kMaxCachedWords) word_cache_.clear();
  word_cache_.emplace(encoded, std::move(ids));
}

}  // namespace radixserve::model
