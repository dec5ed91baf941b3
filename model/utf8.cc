#include "model/utf8.h"

namespace radixserve::model {
namespace {

// Valid range of the second byte of a sequence, which depends on the lead byte (this is
// what excludes overlong forms, surrogates and code points above U+10FFFF).
struct LeadInfo {
  int length;  // 0: not a valid lead byte
  uint8_t second_lo, second_hi;
};

LeadInfo InfoForLead(uint8_t b) {
  if (b < 0x80) return {1, 0, 0};
  if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};
  if (b >= 0xE1 && b <= 0xEF) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

}  // namespace

Utf8Decoded DecodeUtf8At(std::string_view s, size_t pos) {
  const auto lead = static_cast<uint8_t>(s[pos]);
  const LeadInfo info = InfoForLead(lead);
  if (info.length == 1) return {Utf8Step::kOk, lead, 1};
  if (info.length == 0) return {Utf8Step::kInvalid, 0, 1};
  uint32_t cp = lead & (0xFF >> (info.length + 1));
  for (int i = 1; i < info.length; ++i) {
    if (pos + i >= s.size()) return {Utf8Step::kTruncated, 0, static_cast<size_t>(i)};
    const auto b = static_cast<uint8_t>(s[pos + i]);
    const uint8_t lo = i == 1 ? info.second_lo : 0x80;
    const uint8_t hi = i == 1 ? info.second_hi : 0xBF;
    if (b < lo || b > hi) return {Utf8Step::kInvalid, 0, static_cast<size_t>(i)};
    cp = (cp << 6) | (b & 0x3F);
  }
  return {Utf8Step::kOk, cp, static_cast<size_t>(info.length)};
}

bool IsValidUtf8(std::string_view s) {
  for (size_t pos = 0; pos < s.size();) {
    const Utf8Decoded d = DecodeUtf8At(s, pos);
    if (d.step != Utf8Step::kOk) return false;
    pos += d.length;
  }
  return true;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string SanitizeUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t pos = 0; pos < bytes.size();) {
    const Utf8Decoded d = DecodeUtf8At(bytes, pos);
    if (d.step == Utf8Step::kOk) {
      out.append(bytes.substr(pos, d.length));
    } else {
      out.append(kReplacementChar);
    }
    pos += d.length;
  }
  return out;
}

size_t IncompleteUtf8SuffixLength(std::string_view bytes) {
  // A sequence is at most 4 bytes, so only a lead byte among the last 3 can start an
  // incomplete one.
  const size_t n = bytes.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const size_t pos = n - back;
    const auto b = static_cast<uint8_t>(bytes[pos]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    const Utf8Decoded d = DecodeUtf8At(bytes, pos);
    return d.step == Utf8Step::kTruncated ? back : 0;
  }
  return 0;
}

}  // namespace radixserve::model
