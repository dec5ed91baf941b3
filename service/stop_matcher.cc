#include "service/stop_matcher.h"

#include <algorithm>

namespace radixserve::service {

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  for (const std::string& s : stops_) hold_ = std::max(hold_, s.empty() ? 0 : s.size() - 1);
}

std::string StopMatcher::Add(std::string_view text) {
  if (matched_) return {};
  held_.append(text);
  size_t first = std::string::npos;
  for (const std::string& s : stops_) {
    if (s.empty()) continue;
    first = std::min(first, held_.find(s));
  }
  if (first != std::string::npos) {
    matched_ = true;
    std::string out = held_.substr(0, first);
    held_.clear();
    return out;
  }
  if (held_.size() <= hold_) return {};
  size_t release = held_.size() - hold_;
  // Never split a UTF-8 character: back up over continuation bytes.
  while (release > 0 && (static_cast<unsigned char>(held_[release]) & 0xC0) == 0x80) --release;
  std::string out = held_.substr(0, release);
  held_.erase(0, release);
  return out;
}

std::string StopMatcher::Flush() {
  std::string out;
  out.swap(held_);
  return out;
}

}  // namespace radixserve::service
