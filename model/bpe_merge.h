// The merge loop shared by both BPE flavours: a word starts as one symbol per character
// and the best adjacent pair is merged until no pair can merge.
//
// "Best" is the highest priority; ties go to the leftmost pair. Byte-level BPE passes
// -rank (the earliest merge in the merges list wins), SentencePiece BPE passes the
// merged piece's score. Candidates sit in a binary heap and stale ones (a side already
// merged away) are skipped when popped, so a word of n characters costs O(n log n), not
// the O(n^2) of rescanning all pairs after each merge.
//
//   symbols:  [h][e][l][l][o]      prev/next link the live symbols; a merged-away
//   merge e+l  [h][el]   [l][o]    symbol keeps len 0 and is skipped
#pragma once

#include <cstdint>
#include <optional>
#include <queue>
#include <string_view>
#include <vector>

namespace radixserve::model {

struct BpeSymbol {
  uint32_t begin = 0;  // byte offset in the word
  uint32_t len = 0;    // 0 once merged into its left neighbour
  int32_t id = -1;     // vocabulary id of word[begin, begin+len), -1 if none
  int32_t prev = -1;
  int32_t next = -1;
};

struct BpeMergeCandidate {
  double priority;
  int32_t merged_id;
};

// One symbol per UTF-8 character of `word` (a truncated final sequence is one symbol).
// `lookup(text)` gives each character's id or -1.
template <typename Lookup>
std::vector<BpeSymbol> SplitIntoCharSymbols(std::string_view word, Lookup&& lookup) {
  std::vector<BpeSymbol> symbols;
  symbols.reserve(word.size());
  for (size_t pos = 0; pos < word.size();) {
    const auto lead = static_cast<uint8_t>(word[pos]);
    size_t len = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (len > word.size() - pos) len = word.size() - pos;
    BpeSymbol s;
    s.begin = static_cast<uint32_t>(pos);
    s.len = static_cast<uint32_t>(len);
    s.id = lookup(word.substr(pos, len));
    s.prev = static_cast<int32_t>(symbols.size()) - 1;
    pos += len;
    s.next = pos == word.size() ? -1 : static_cast<int32_t>(symbols.size()) + 1;
    symbols.push_back(s);
  }
  return symbols;
}

// Merges `symbols` of `word` in place. `find_merge(left, right)` (two BpeSymbol) returns
// the candidate for joining them, or nullopt when they cannot merge.
template <typename FindMerge>
void MergeBpeSymbols(std::vector<BpeSymbol>& symbols, FindMerge&& find_merge) {
  struct Entry {
    double priority;
    int32_t left, right;
    uint32_t left_len, right_len;  // sizes when queued: a mismatch means stale
    int32_t merged_id;
  };
  struct Worse {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.priority < b.priority || (a.priority == b.priority && a.left > b.left);
    }
  };
  std::priority_queue<Entry, std::vector<Entry>, Worse> queue;
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const BpeSymbol& l = symbols[left];
    const BpeSymbol& r = symbols[right];
    std::optional<BpeMergeCandidate> c = find_merge(l, r);
    if (c) queue.push({c->priority, left, right, l.len, r.len, c->merged_id});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Entry e = queue.top();
    queue.pop();
    BpeSymbol& l = symbols[e.left];
    BpeSymbol& r = symbols[e.right];
    // A symbol only grows (or drops to 0) when it merges, so equal sizes mean both sides
    // are unchanged and still adjacent.
    if (l.len == 0 || r.len == 0 || l.len != e.left_len || r.len != e.right_len) continue;
    l.len += r.len;
    l.id = e.merged_id;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = e.left;
    try_add(l.prev, e.left);
    try_add(e.left, l.next);
  }
}

}  // namespace radixserve::model
