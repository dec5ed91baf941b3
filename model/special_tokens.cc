#include "model/special_tokens.h"

#include <algorithm>

namespace radixserve::model {

SpecialTokenMatcher::SpecialTokenMatcher(const TokenizerData& data) {
  for (size_t id = 0; id < data.types.size() && id < data.tokens.size(); ++id) {
    const TokenType type = data.types[id];
    if (type != TokenType::kControl && type != TokenType::kUnknown &&
        type != TokenType::kUserDefined) {
      continue;
    }
    if (data.tokens[id].empty()) continue;  // would match everywhere
    entries_.push_back({data.tokens[id], static_cast<int32_t>(id), type == TokenType::kUserDefined});
  }
  // Ties keep id order so the result does not depend on the sort implementation.
  std::stable_sort(entries_.begin(), entries_.end(),
                   [](const Entry& a, const Entry& b) { return a.text.size() > b.text.size(); });
}

std::vector<TextFragment> SpecialTokenMatcher::Partition(std::string_view text,
                                                         bool parse_special) const {
  std::vector<TextFragment> fragments;
  if (!text.empty()) fragments.push_back({-1, text});
  for (const Entry& entry : entries_) {
    if (!entry.always && !parse_special) continue;
    std::vector<TextFragment> next;
    bool found_any = false;
    for (const TextFragment& f : fragments) {
      if (f.token_id >= 0) {
        next.push_back(f);
        continue;
      }
      std::string_view rest = f.text;
      for (size_t at; (at = rest.find(entry.text)) != std::string_view::npos;) {
        found_any = true;
        if (at > 0) next.push_back({-1, rest.substr(0, at)});
        next.push_back({entry.id, entry.text});
        rest.remove_prefix(at + entry.text.size());
      }
      if (!rest.empty()) next.push_back({-1, rest});
    }
    if (found_any) fragments = std::move(next);
  }
  return fragments;
}

}  // namespace radixserve::model
