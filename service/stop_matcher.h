// StopMatcher: finds stop strings in streamed text and holds back the bytes that could
// still become one, so a client never receives part of a stop string.
//
// Thread safety: one per request (the engine loop thread).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace radixserve::service {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops = {});

  // Adds newly decoded text; returns the text now safe to release. After a match,
  // matched() is true, the text before the stop string is released and the rest is
  // dropped.
  std::string Add(std::string_view text);
  // Releases what is held back (the generation ended without a match).
  std::string Flush();
  bool matched() const { return matched_; }

 private:
  std::vector<std::string> stops_;
  size_t hold_ = 0;  // longest stop string - 1: bytes that may start a match
  std::string held_;
  bool matched_ = false;
};

}  // namespace radixserve::service
