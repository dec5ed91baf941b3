#include "model/byte_level.h"

#include <array>
#include <cstdint>

#include "model/utf8.h"

namespace radixserve::model {
namespace {

// Bytes that are printable Latin-1 map to themselves; the other 68 take the code points
// 256, 257, ... in byte order. Every mapped code point is below 324.
struct ByteTables {
  std::array<uint16_t, 256> byte_to_cp;
  std::array<int16_t, 324> cp_to_byte;  // -1: not in the mapping
  std::array<std::string, 256> byte_to_utf8;
};

const ByteTables& Tables() {
  static const ByteTables* tables = [] {
    auto* t = new ByteTables();
    t->cp_to_byte.fill(-1);
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      const int cp = printable ? b : next++;
      t->byte_to_cp[b] = static_cast<uint16_t>(cp);
      t->cp_to_byte[cp] = static_cast<int16_t>(b);
      AppendUtf8(static_cast<uint32_t>(cp), &t->byte_to_utf8[b]);
    }
    return t;
  }();
  return *tables;
}

}  // namespace

std::string ByteLevelEncode(std::string_view bytes) {
  const ByteTables& t = Tables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += t.byte_to_utf8[static_cast<uint8_t>(c)];
  return out;
}

std::string ByteLevelDecode(std::string_view piece) {
  const ByteTables& t = Tables();
  std::string out;
  out.reserve(piece.size());
  for (size_t pos = 0; pos < piece.size();) {
    const Utf8Decoded d = DecodeUtf8At(piece, pos);
    if (d.step == Utf8Step::kOk && d.code_point < t.cp_to_byte.size() &&
        t.cp_to_byte[d.code_point] >= 0) {
      out.push_back(static_cast<char>(t.cp_to_byte[d.code_point]));
    } else {
      out.append(piece.substr(pos, d.length));
    }
    pos += d.length;
  }
  return out;
}

}  // namespace radixserve::model
