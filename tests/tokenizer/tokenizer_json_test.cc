// tokenizer.json loading: both supported shapes, and a clear error for each way the
// file can be wrong.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/tokenizer.h"
#include "model/tokenizer_json.h"
#include "model/tokenizer_loader.h"

namespace radixserve::model {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A byte-level BPE over a handful of characters (enough for the tests' words).
constexpr char kByteLevelJson[] = R"({
  "added_tokens": [{"id": 0, "content": "<|end|>", "special": true},
                   {"id": 9, "content": "[tool]", "special": false}],
  "normalizer": null,
  "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
      {"type": "Digits", "individual_digits": true},
      {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}]},
  "post_processor": {"type": "ByteLevel"},
  "decoder": {"type": "ByteLevel"},
  "model": {"type": "BPE", "unk_token": null, "ignore_merges": false,
    "vocab": {"<|end|>": 0, "a": 1, "b": 2, "Ġ": 3, "ab": 4, "Ġab": 5, "1": 6, "2": 7, "12": 8},
    "merges": [["a", "b"], "Ġ ab", "1 2"]}
})";

TEST(TokenizerJsonTest, ByteLevelWithDigitsAndPairs) {
  auto data = TokenizerDataFromJson(kByteLevelJson);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->kind, TokenizerKind::kByteLevelBpe);
  EXPECT_EQ(data->types[0], TokenType::kControl);
  EXPECT_EQ(data->types[9], TokenType::kUserDefined);
  auto t = Tokenizer::Create(*std::move(data));
  ASSERT_TRUE(t.ok()) << t.status();
  // Digits split one by one, so the merge "1 2" never applies.
  EXPECT_THAT(*(*t)->Encode("ab ab12<|end|>[tool]"), ElementsAre(4, 5, 6, 7, 0, 9));
  EXPECT_EQ(*(*t)->Decode(std::vector<int32_t>{4, 5, 6, 7, 0}), "ab ab12<|end|>");
}

constexpr char kSpmJson[] = R"({
  "added_tokens": [{"id": 0, "content": "<unk>", "special": true},
                   {"id": 1, "content": "<s>", "special": true}],
  "normalizer": {"type": "Sequence", "normalizers": [
      {"type": "Prepend", "prepend": "▁"},
      {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
  "pre_tokenizer": null,
  "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
      "special_tokens": {}},
  "model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": true,
    "vocab": {"<unk>": 0, "<s>": 1, "<0x21>": 2, "▁": 3, "h": 4, "i": 5, "▁h": 6, "▁hi": 7},
    "merges": ["▁ h", "▁h i"]}
})";

TEST(TokenizerJsonTest, SentencePieceStyle) {
  auto data = TokenizerDataFromJson(kSpmJson);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->kind, TokenizerKind::kSentencePieceBpe);
  EXPECT_TRUE(data->add_space_prefix);
  EXPECT_TRUE(data->add_bos);
  EXPECT_EQ(data->bos_id, 1);
  EXPECT_EQ(data->types[2], TokenType::kByte);
  auto t = Tokenizer::Create(*std::move(data));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(*(*t)->Encode("hi hi!"), ElementsAre(1, 7, 7, 2));
  EXPECT_EQ(*(*t)->Decode(std::vector<int32_t>{7, 7, 2}), "hi hi!");
  // "?" has no piece and no byte token: the unknown token stands in.
  EXPECT_THAT(*(*t)->Encode("?", {.add_special = false}), ElementsAre(3, 0));
}

struct BadCase {
  const char* name;
  std::string json;
  absl::StatusCode code;
  const char* message;
};

std::string Replace(std::string s, std::string_view from, std::string_view to) {
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

TEST(TokenizerJsonTest, MalformedFilesGiveClearErrors) {
  const std::string ok = kByteLevelJson;
  const BadCase cases[] = {
      {"not json", "{\"model\": ", absl::StatusCode::kInvalidArgument, "not valid JSON"},
      {"not an object", "[1, 2]", absl::StatusCode::kInvalidArgument, "not a JSON object"},
      {"no model", "{}", absl::StatusCode::kInvalidArgument, "model"},
      {"wordpiece", Replace(ok, "\"type\": \"BPE\"", "\"type\": \"WordPiece\""),
       absl::StatusCode::kUnimplemented, "model.type"},
      {"vocab not object", Replace(ok, "\"vocab\": {", "\"vocab\": [1], \"x\": {"),
       absl::StatusCode::kInvalidArgument, "model.vocab"},
      {"string id", Replace(ok, "\"a\": 1", "\"a\": \"1\""), absl::StatusCode::kInvalidArgument,
       "model.vocab[\"a\"]"},
      {"negative id", Replace(ok, "\"a\": 1", "\"a\": -1"), absl::StatusCode::kInvalidArgument,
       "out of range"},
      {"gap in ids", Replace(ok, "\"12\": 8", "\"12\": 80"), absl::StatusCode::kInvalidArgument,
       "no token has id"},
      {"id clash", Replace(ok, "\"12\": 8", "\"12\": 7"), absl::StatusCode::kInvalidArgument,
       "two different tokens"},
      {"bad merge shape", Replace(ok, "[\"a\", \"b\"]", "[\"a\"]"),
       absl::StatusCode::kInvalidArgument, "model.merges[0]"},
      {"merges not list", Replace(ok, "\"merges\": [", "\"merges\": 3, \"m\": ["),
       absl::StatusCode::kInvalidArgument, "model.merges"},
      {"added token without content",
       Replace(ok, "\"content\": \"[tool]\"", "\"contents\": \"[tool]\""),
       absl::StatusCode::kInvalidArgument, "added_tokens[1]"},
      {"unknown pre-tokenizer", Replace(ok, "\"type\": \"Digits\"", "\"type\": \"Whitespace\""),
       absl::StatusCode::kUnimplemented, "pre_tokenizer.pretokenizers[0]"},
      {"bad split regex",
       Replace(ok, "{\"type\": \"Digits\", \"individual_digits\": true}",
               "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": \"Isolated\"}"),
       absl::StatusCode::kInvalidArgument, "regex"},
      {"split removed", Replace(ok, "\"individual_digits\": true}",
                                "\"individual_digits\": true, \"type\": \"Split\"}"),
       absl::StatusCode::kInvalidArgument, "Split needs pattern"},
      {"unsupported normalizer", Replace(ok, "\"normalizer\": null", "\"normalizer\": {\"type\": \"NFKC\"}"),
       absl::StatusCode::kUnimplemented, "normalizer"},
      {"unk token missing", Replace(ok, "\"unk_token\": null", "\"unk_token\": \"<nope>\""),
       absl::StatusCode::kInvalidArgument, "model.unk_token"},
      {"merge of unknown tokens", Replace(ok, "\"1 2\"", "\"1 9\""),
       absl::StatusCode::kInvalidArgument, "merge 2"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<TokenizerData> data = TokenizerDataFromJson(c.json);
    absl::Status status = data.status();
    if (data.ok()) status = Tokenizer::Create(*std::move(data)).status();
    EXPECT_EQ(status.code(), c.code) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.message));
  }
}

TEST(TokenizerLoaderTest, MissingPathIsNotFound) {
  EXPECT_EQ(LoadTokenizerData("tests/fixtures/tokenizer/does-not-exist.json").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace radixserve::model
