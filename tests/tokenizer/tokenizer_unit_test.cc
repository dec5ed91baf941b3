// Tokenizer building blocks on small hand-made vocabularies: UTF-8 handling, the byte
// mapping, pre-tokenizer splits, special-token partitioning, both BPE flavours and the
// incremental decoder.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/byte_level.h"
#include "model/incremental_decoder.h"
#include "model/pretokenizer.h"
#include "model/special_tokens.h"
#include "model/tokenizer.h"
#include "model/utf8.h"

namespace radixserve::model {
namespace {

using ::testing::ElementsAre;

TEST(Utf8Test, SanitizeReplacesMaximalSubparts) {
  EXPECT_EQ(SanitizeUtf8("abc"), "abc");
  EXPECT_EQ(SanitizeUtf8("\xC3\xA9"), "\xC3\xA9");
  // One U+FFFD per maximal subpart, as Python's errors="replace":
  // b"\xe2\x82" -> one, b"\xff" -> one, b"\xed\xa0\x80" (surrogate) -> three.
  EXPECT_EQ(SanitizeUtf8("a\xE2\x82z"), "a\xEF\xBF\xBDz");
  EXPECT_EQ(SanitizeUtf8("\xFF"), "\xEF\xBF\xBD");
  EXPECT_EQ(SanitizeUtf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(SanitizeUtf8("\xF0\x9F\x98"), "\xEF\xBF\xBD");
  EXPECT_EQ(SanitizeUtf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong
}

TEST(Utf8Test, IncompleteSuffix) {
  EXPECT_EQ(IncompleteUtf8SuffixLength(""), 0u);
  EXPECT_EQ(IncompleteUtf8SuffixLength("ab"), 0u);
  EXPECT_EQ(IncompleteUtf8SuffixLength("a\xF0\x9F\x98"), 3u);
  EXPECT_EQ(IncompleteUtf8SuffixLength("a\xF0\x9F"), 2u);
  EXPECT_EQ(IncompleteUtf8SuffixLength("a\xE2"), 1u);
  EXPECT_EQ(IncompleteUtf8SuffixLength("a\xF0\x9F\x98\x80"), 0u);  // complete
  EXPECT_EQ(IncompleteUtf8SuffixLength("a\xFF"), 0u);              // never valid
  EXPECT_EQ(IncompleteUtf8SuffixLength("a\xE0\x80"), 0u);          // bad second byte
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
}

TEST(ByteLevelTest, RoundTripsEveryByte) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const std::string encoded = ByteLevelEncode(all);
  EXPECT_TRUE(IsValidUtf8(encoded));
  EXPECT_EQ(ByteLevelDecode(encoded), all);
  EXPECT_EQ(ByteLevelEncode(" "), "\xC4\xA0");   // "Ġ"
  EXPECT_EQ(ByteLevelEncode("\n"), "\xC4\x8A");  // "Ċ"
  EXPECT_EQ(ByteLevelEncode("a"), "a");
}

std::vector<std::string> SplitWith(std::string_view family, std::string_view text) {
  auto patterns = PreTokenizerPatterns(family);
  EXPECT_TRUE(patterns.ok()) << patterns.status();
  auto pt = PreTokenizer::Create(*patterns);
  EXPECT_TRUE(pt.ok()) << pt.status();
  std::vector<std::string> out;
  for (std::string_view p : (*pt)->Split(text)) out.emplace_back(p);
  return out;
}

TEST(PreTokenizerTest, SmolLmSplitsDigitsOneByOne) {
  EXPECT_THAT(SplitWith("smollm", "Hello 123 world's  x\n"),
              ElementsAre("Hello", " ", "1", "2", "3", " world", "'s", " ", " x", "\n"));
}

TEST(PreTokenizerTest, Llama3GroupsDigitsByThree) {
  EXPECT_THAT(SplitWith("llama-bpe", "abc 12345 DON'T\n\n x"),
              ElementsAre("abc", " ", "123", "45", " DON", "'T", "\n\n", " x"));
}

TEST(PreTokenizerTest, Qwen2SplitsDigitsAndKeepsUnicodeLetters) {
  EXPECT_THAT(SplitWith("qwen2", "Größe 42"), ElementsAre("Größe", " ", "4", "2"));
}

TEST(PreTokenizerTest, UnknownFamilyIsUnimplemented) {
  EXPECT_EQ(PreTokenizerPatterns("no-such-family").status().code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_EQ(PreTokenizer::Create({"("}).status().code(), absl::StatusCode::kInvalidArgument);
}

// A byte-level vocabulary: all 256 byte characters, then merged pieces.
TokenizerData TinyByteLevel() {
  TokenizerData d;
  d.kind = TokenizerKind::kByteLevelBpe;
  d.pre = "gpt2";
  for (int b = 0; b < 256; ++b) d.tokens.push_back(ByteLevelEncode(std::string(1, static_cast<char>(b))));
  d.types.assign(256, TokenType::kNormal);
  auto add = [&](std::string piece, TokenType type = TokenType::kNormal) {
    d.tokens.push_back(std::move(piece));
    d.types.push_back(type);
    return static_cast<int32_t>(d.tokens.size() - 1);
  };
  add("he");      // 256
  add("ll");      // 257
  add("hell");    // 258
  add("hello");   // 259
  add("\xC4\xA0w");  // 260 "Ġw"
  d.merges = {"h e", "l l", "he ll", "hell o", "\xC4\xA0 w"};
  d.eos_id = add("<|end|>", TokenType::kControl);      // 261
  add("<|end|>x", TokenType::kControl);                // 262: longer, wins
  add("[USER]", TokenType::kUserDefined);               // 263
  return d;
}

TEST(TokenizerTest, ByteLevelMergesByRank) {
  auto t = Tokenizer::Create(TinyByteLevel());
  ASSERT_TRUE(t.ok()) << t.status();
  auto ids = (*t)->Encode("hello wo");
  ASSERT_TRUE(ids.ok());
  EXPECT_THAT(*ids, ElementsAre(259, 260, 'o'));
  EXPECT_EQ(*(*t)->Decode(*ids), "hello wo");
}

TEST(TokenizerTest, SpecialTokensLongestFirstAndParseSwitch) {
  auto t = Tokenizer::Create(TinyByteLevel());
  ASSERT_TRUE(t.ok());
  EXPECT_THAT(*(*t)->Encode("a<|end|>xb<|end|>"), ElementsAre('a', 262, 'b', 261));
  // Not parsed: the text is tokenized as it stands; user-defined tokens still match.
  auto plain = (*t)->Encode("<|end|>[USER]", {.add_special = true, .parse_special = false});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->back(), 263);
  EXPECT_GT(plain->size(), 2u);
  EXPECT_EQ(*(*t)->Decode(*plain), "<|end|>[USER]");
  EXPECT_EQ(*(*t)->Decode(std::vector<int32_t>{'a', 261}, {.skip_special = true}), "a");
  EXPECT_TRUE((*t)->IsEndOfGeneration(261));
}

TEST(TokenizerTest, RejectsInvalidInputAndIds) {
  auto t = Tokenizer::Create(TinyByteLevel());
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)->Encode("\xFF").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*t)->Decode(std::vector<int32_t>{5000}).status().code(),
            absl::StatusCode::kInvalidArgument);
  TokenizerData bad = TinyByteLevel();
  bad.merges.push_back("x nothere");
  EXPECT_EQ(Tokenizer::Create(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = TinyByteLevel();
  bad.bos_id = 100000;
  EXPECT_EQ(Tokenizer::Create(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

// SentencePiece-style: <unk>, <s>, </s>, 256 byte tokens, then scored pieces.
TokenizerData TinySentencePiece() {
  TokenizerData d;
  d.kind = TokenizerKind::kSentencePieceBpe;
  d.tokens = {"<unk>", "<s>", "</s>"};
  d.types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl};
  d.scores = {0, 0, 0};
  char buf[8];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    d.tokens.push_back(buf);
    d.types.push_back(TokenType::kByte);
    d.scores.push_back(0);
  }
  const std::pair<const char*, float> pieces[] = {
      {"\xE2\x96\x81", -1}, {"h", -2}, {"i", -2}, {"\xE2\x96\x81h", -3}, {"\xE2\x96\x81hi", -4},
      {"a", -2}, {"b", -2}, {"ab", -5}};
  for (auto [p, s] : pieces) {
    d.tokens.push_back(p);
    d.types.push_back(TokenType::kNormal);
    d.scores.push_back(s);
  }
  d.unk_id = 0;
  d.bos_id = 1;
  d.eos_id = 2;
  d.add_bos = true;
  d.add_space_prefix = true;
  return d;
}

TEST(TokenizerTest, SentencePieceScoresSpacesAndByteFallback) {
  auto t = Tokenizer::Create(TinySentencePiece());
  ASSERT_TRUE(t.ok()) << t.status();
  const int32_t kSpace = 259, kHi = 263, kA = 264, kB = 265, kAb = 266;
  auto ids = (*t)->Encode("hi ab\xC3\xA9");
  ASSERT_TRUE(ids.ok());
  // BOS, "▁hi", "▁", "ab", then é as its two bytes <0xC3> <0xA9>.
  EXPECT_THAT(*ids, ElementsAre(1, kHi, kSpace, kAb, 3 + 0xC3, 3 + 0xA9));
  EXPECT_EQ(*(*t)->Decode(*ids), "<s> hi ab\xC3\xA9");
  std::vector<int32_t> no_bos(ids->begin() + 1, ids->end());
  EXPECT_EQ(*(*t)->Decode(no_bos), "hi ab\xC3\xA9");  // leading space stripped
  EXPECT_EQ(*(*t)->Decode(no_bos, {.strip_leading_space = false}), " hi ab\xC3\xA9");
  // A space prefix follows every special token, as in llama.cpp.
  EXPECT_THAT(*(*t)->Encode("ab</s>ab", {.add_special = false}),
              ElementsAre(kSpace, kAb, 2, kSpace, kAb));
  (void)kA;
  (void)kB;
}

TEST(IncrementalDecoderTest, HoldsBackPartialCharacters) {
  auto t = Tokenizer::Create(TinySentencePiece());
  ASSERT_TRUE(t.ok());
  IncrementalDecoder dec(**t);
  // "▁hi" then the 4 bytes of U+1F600 one by one, then an invalid byte pair.
  EXPECT_EQ(*dec.Next(263), "hi");
  EXPECT_EQ(*dec.Next(3 + 0xF0), "");
  EXPECT_EQ(*dec.Next(3 + 0x9F), "");
  EXPECT_EQ(*dec.Next(3 + 0x98), "");
  EXPECT_EQ(dec.pending_bytes(), 3u);
  EXPECT_EQ(*dec.Next(3 + 0x80), "\xF0\x9F\x98\x80");
  EXPECT_EQ(*dec.Next(3 + 0xE2), "");
  EXPECT_EQ(*dec.Next(3 + 0x41), "\xEF\xBF\xBD" "A");  // E2 can't continue with 'A'
  EXPECT_EQ(*dec.Next(3 + 0xC3), "");
  EXPECT_EQ(dec.Finish(), "\xEF\xBF\xBD");  // incomplete at the end
  EXPECT_EQ(dec.Next(-1).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace radixserve::model
