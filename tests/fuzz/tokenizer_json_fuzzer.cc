// Fuzzes the tokenizer.json loader and, when the file loads, the tokenizer built from it:
// input = tokenizer.json bytes, optionally followed by a NUL and text to encode.
// Every outcome must be a status or a result, never a crash, leak or UB; an encoded
// text must decode without error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model/tokenizer.h"
#include "model/tokenizer_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace radixserve::model;
  const std::string_view input(reinterpret_cast<const char*>(bytes), size);
  const size_t nul = input.find('\0');
  const std::string_view json = input.substr(0, nul);
  auto data = TokenizerDataFromJson(json);
  if (!data.ok()) return 0;
  auto tokenizer = Tokenizer::Create(*std::move(data));
  if (!tokenizer.ok()) return 0;
  const Tokenizer& t = **tokenizer;
  const std::string_view texts[] = {
      nul == std::string_view::npos ? std::string_view("Hello world 123 <s>") : input.substr(nul + 1),
      "  \t\n\xC3\xA9\xF0\x9F\x98\x80 it's",
  };
  for (std::string_view text : texts) {
    for (bool parse_special : {true, false}) {
      auto ids = t.Encode(text, {.add_special = true, .parse_special = parse_special});
      if (!ids.ok()) continue;  // invalid UTF-8 is a clean error
      auto decoded = t.Decode(*ids);
      if (!decoded.ok()) __builtin_trap();  // ids from Encode are always in range
    }
  }
  return 0;
}
