// Every corpus string (tests/fixtures/tokenizer/corpus.json) encoded and decoded here
// must give exactly the ids and text the reference implementations gave
// (scripts/make_tokenizer_fixtures.py): for the default model (SmolLM2 GGUF, skipped
// when models/ lacks it) and for a small SentencePiece BPE, loaded both from its
// tokenizer.json and from its GGUF. Streaming decode is checked on the same ids.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "model/incremental_decoder.h"
#include "model/tokenizer.h"
#include "model/tokenizer_loader.h"
#include "model/utf8.h"
#include "nlohmann/json.hpp"

namespace radixserve::model {
namespace {

using Json = nlohmann::json;
constexpr char kFixtures[] = "tests/fixtures/tokenizer/";
constexpr char kDefaultModel[] = "models/SmolLM2-135M-Instruct.Q4_1.gguf";

Json ReadJson(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return Json::parse(ss.str());
}

std::string Printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n') out += "\\n";
    else if (c < 0x20) out += "\\x" + std::to_string(c);
    else out.push_back(static_cast<char>(c));
  }
  return out;
}

// What one suite compares: which fixture, which tokenizer file, and which reference
// the ids and text must equal (the others are counted and printed, not enforced).
struct Suite {
  std::string fixture;
  std::string tokenizer_path;
  std::string reference;
};

void RunSuite(const Suite& suite) {
  if (!std::filesystem::exists(suite.tokenizer_path)) {
    GTEST_SKIP() << suite.tokenizer_path << " is missing (make model fetches it)";
  }
  const Json corpus = ReadJson(std::string(kFixtures) + "corpus.json");
  const Json fixture = ReadJson(std::string(kFixtures) + suite.fixture);
  auto tokenizer = LoadTokenizer(suite.tokenizer_path);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const Tokenizer& t = **tokenizer;
  ASSERT_EQ(fixture["cases"].size(), corpus.size());

  std::map<std::string, int> ids_match, text_match;
  int failures = 0;
  for (const Json& c : fixture["cases"]) {
    const std::string text = corpus[c["index"].get<size_t>()];
    SCOPED_TRACE("corpus[" + std::to_string(c["index"].get<int>()) + "] = \"" + Printable(text) + "\"");
    auto ids = t.Encode(text, {.add_special = false, .parse_special = true});
    ASSERT_TRUE(ids.ok()) << ids.status();
    std::optional<std::vector<int32_t>> plain;
    for (const auto& [name, ref] : c.items()) {
      if (!ref.is_object() || !ref.contains("ids")) continue;
      const auto ref_ids = ref["ids"].get<std::vector<int32_t>>();
      auto decoded = t.Decode(ref_ids);
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      const bool same_ids = *ids == ref_ids;
      const bool same_text = *decoded == ref["text"].get<std::string>();
      ids_match[name] += same_ids;
      text_match[name] += same_text;
      if (name != suite.reference) continue;
      EXPECT_EQ(*ids, ref_ids);
      EXPECT_EQ(Printable(*decoded), Printable(ref["text"].get<std::string>()));
      failures += !same_ids + !same_text;
      if (ref.contains("ids_plain")) {
        auto p = t.Encode(text, {.add_special = false, .parse_special = false});
        ASSERT_TRUE(p.ok());
        EXPECT_EQ(*p, ref["ids_plain"].get<std::vector<int32_t>>()) << "specials not parsed";
      }
    }
    // Streaming: the pieces are valid UTF-8 on their own and add up to the decode.
    IncrementalDecoder dec(t);
    std::string streamed;
    for (int32_t id : *ids) {
      auto piece = dec.Next(id);
      ASSERT_TRUE(piece.ok());
      EXPECT_TRUE(IsValidUtf8(*piece));
      streamed += *piece;
    }
    streamed += dec.Finish();
    EXPECT_EQ(streamed, *t.Decode(*ids));
  }
  for (const auto& [name, n] : ids_match) {
    std::cout << suite.tokenizer_path << " vs " << name << ": ids " << n << "/" << corpus.size()
              << ", text " << text_match[name] << "/" << corpus.size() << "\n";
  }
  EXPECT_EQ(failures, 0);
}

TEST(TokenizerReferenceTest, SmolLm2GgufMatchesReference) {
  RunSuite({"smollm2_reference.json", kDefaultModel, "llamacpp"});
}

TEST(TokenizerReferenceTest, SentencePieceJsonMatchesHuggingFace) {
  RunSuite({"spm_reference.json", std::string(kFixtures) + "spm/tokenizer.json", "hf"});
}

TEST(TokenizerReferenceTest, SentencePieceGgufMatchesLlamaCpp) {
  RunSuite({"spm_reference.json", std::string(kFixtures) + "spm/tokenizer.gguf", "llamacpp"});
}

TEST(TokenizerReferenceTest, AddsBosForSentencePieceGguf) {
  auto t = LoadTokenizer(std::string(kFixtures) + "spm/tokenizer.gguf");
  ASSERT_TRUE(t.ok()) << t.status();
  auto ids = (*t)->Encode("hi");
  ASSERT_TRUE(ids.ok());
  ASSERT_FALSE(ids->empty());
  EXPECT_EQ(ids->front(), 1);
  EXPECT_EQ(*(*t)->Decode(*ids, {.skip_special = true}), "hi");
}

}  // namespace
}  // namespace radixserve::model
