// Every corpus string (tests/fixtures/tokenizer/corpus.json) encoded and decoded here
// must give exactly the ids and text the reference implementations gave
// (scripts/make_tokenizer_fixtures.py): for the default model (SmolLM2 GGUF, skipped
// when models/ lacks it) and for a small SentencePiece BPE, loaded both from its
// tokenizer.json and from its GGUF. Streaming decode is checked on the same ids.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "model/incremental_decoder.h"
#include "model/tokenizer.h"
#include "model/tokenizer_json.h"
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

// Checks `t` on every corpus string against `reference` in `fixture` (the other
// references in the fixture are counted and printed, not enforced).
void CheckCorpus(const Tokenizer& t, const std::string& fixture_name, const std::string& reference,
                 const std::string& label) {
  const Json corpus = ReadJson(std::string(kFixtures) + "corpus.json");
  const Json fixture = ReadJson(std::string(kFixtures) + fixture_name);
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
      if (name != reference) continue;
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
    std::cout << label << " vs " << name << ": ids " << n << "/" << corpus.size()
              << ", text " << text_match[name] << "/" << corpus.size() << "\n";
  }
  EXPECT_EQ(failures, 0);
}

void CheckFile(const std::string& path, const std::string& fixture, const std::string& reference) {
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is missing (make model fetches it)";
  auto tokenizer = LoadTokenizer(path);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  CheckCorpus(**tokenizer, fixture, reference, path);
}

// llama.cpp is the reference for the GGUF: transformers' GGUF conversion drops the
// Digits step of SmolLM2's pre-tokenizer and so splits " ½" differently (see the
// fixture's "disagreements").
TEST(TokenizerReferenceTest, SmolLm2GgufMatchesLlamaCpp) {
  CheckFile(kDefaultModel, "smollm2_reference.json", "llamacpp");
}

// SmolLM2's vocabulary written out as the tokenizer.json Hugging Face publishes for it
// (Digits + ByteLevel pre-tokenizer) and read back through the tokenizer.json loader.
Json SmolLm2PreTokenizer() {
  return {{"type", "Sequence"},
          {"pretokenizers",
           Json::array({{{"type", "Digits"}, {"individual_digits", true}},
                        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}})}};
}

std::string SmolLm2TokenizerJson(const TokenizerData& d, const Json& pre_tokenizer,
                                 bool ignore_merges) {
  Json vocab = Json::object();
  Json added = Json::array();
  for (size_t id = 0; id < d.tokens.size(); ++id) {
    vocab[d.tokens[id]] = id;
    if (d.types[id] == TokenType::kControl) {
      added.push_back({{"id", id}, {"content", d.tokens[id]}, {"special", true}});
    }
  }
  Json j = {
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer", pre_tokenizer},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", d.merges}, {"ignore_merges", ignore_merges}}},
  };
  return j.dump();
}

TEST(TokenizerReferenceTest, SmolLm2TokenizerJsonMatchesHuggingFace) {
  if (!std::filesystem::exists(kDefaultModel)) GTEST_SKIP() << kDefaultModel << " is missing";
  auto gguf_data = LoadTokenizerData(kDefaultModel);
  ASSERT_TRUE(gguf_data.ok()) << gguf_data.status();
  auto data = TokenizerDataFromJson(SmolLm2TokenizerJson(*gguf_data, SmolLm2PreTokenizer(), false));
  ASSERT_TRUE(data.ok()) << data.status();
  auto tokenizer = Tokenizer::Create(*std::move(data));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  CheckCorpus(**tokenizer, "smollm2_reference.json", "hf_json", "SmolLM2 tokenizer.json");
}

TEST(TokenizerReferenceTest, SentencePieceJsonMatchesHuggingFace) {
  CheckFile(std::string(kFixtures) + "spm/tokenizer.json", "spm_reference.json", "hf");
}

TEST(TokenizerReferenceTest, SentencePieceGgufMatchesLlamaCpp) {
  CheckFile(std::string(kFixtures) + "spm/tokenizer.gguf", "spm_reference.json", "llamacpp");
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

// SmolLM2's vocabulary run through the other pre-tokenizer families (Llama 3, Qwen2,
// GPT-2, default): ids must equal llama.cpp's on a GGUF that names that family.
TEST(TokenizerReferenceTest, PreTokenizerFamiliesMatchLlamaCpp) {
  if (!std::filesystem::exists(kDefaultModel)) GTEST_SKIP() << kDefaultModel << " is missing";
  auto base = LoadTokenizerData(kDefaultModel);
  ASSERT_TRUE(base.ok()) << base.status();
  const Json corpus = ReadJson(std::string(kFixtures) + "corpus.json");
  const Json fixture = ReadJson(std::string(kFixtures) + "pre_variants_reference.json");
  ASSERT_GE(fixture["families"].size(), 4u);
  for (const auto& [family, f] : fixture["families"].items()) {
    SCOPED_TRACE("pre = " + family);
    TokenizerData data = *base;
    data.pre = family;
    auto t = Tokenizer::Create(std::move(data));
    ASSERT_TRUE(t.ok()) << t.status();
    // The same family as Hugging Face's tokenizer.json spells it, through our loader.
    std::unique_ptr<Tokenizer> from_json;
    if (!f["meta"]["hf_pre_tokenizer"].is_null()) {
      auto json_data = TokenizerDataFromJson(SmolLm2TokenizerJson(
          *base, f["meta"]["hf_pre_tokenizer"], f["meta"]["ignore_merges"].get<bool>()));
      ASSERT_TRUE(json_data.ok()) << json_data.status();
      auto created = Tokenizer::Create(*std::move(json_data));
      ASSERT_TRUE(created.ok()) << created.status();
      from_json = *std::move(created);
    }
    int matched = 0, hf_matched = 0, hf_total = 0, json_matched = 0;
    for (const Json& c : f["cases"]) {
      const std::string text = corpus[c["index"].get<size_t>()];
      auto ids = (*t)->Encode(text, {.add_special = false});
      ASSERT_TRUE(ids.ok());
      const auto want = c["llamacpp"]["ids"].get<std::vector<int32_t>>();
      EXPECT_EQ(*ids, want) << "corpus[" << c["index"] << "] = \"" << Printable(text) << "\"";
      matched += *ids == want;
      if (c.contains("hf_json")) {
        ++hf_total;
        const auto hf_ids = c["hf_json"]["ids"].get<std::vector<int32_t>>();
        hf_matched += *ids == hf_ids;
        auto json_ids = from_json->Encode(text, {.add_special = false});
        ASSERT_TRUE(json_ids.ok());
        EXPECT_EQ(*json_ids, hf_ids) << "tokenizer.json form, corpus[" << c["index"] << "]";
        json_matched += *json_ids == hf_ids;
      }
    }
    std::cout << "pre " << family << ": llamacpp ids " << matched << "/" << f["cases"].size()
              << ", hf_json ids " << hf_matched << "/" << hf_total
              << "; loaded from tokenizer.json vs hf_json: " << json_matched << "/" << hf_total << "\n";
  }
}

// Encode is const and shares a locked word cache: threads encoding at once must each
// get the single-threaded result.
TEST(TokenizerReferenceTest, ConcurrentEncodesAgree) {
  if (!std::filesystem::exists(kDefaultModel)) GTEST_SKIP() << kDefaultModel << " is missing";
  auto t = LoadTokenizer(kDefaultModel);
  ASSERT_TRUE(t.ok()) << t.status();
  const Json corpus = ReadJson(std::string(kFixtures) + "corpus.json");
  std::vector<std::vector<int32_t>> want;
  for (const Json& s : corpus) want.push_back(*(*t)->Encode(s.get<std::string>()));
  std::vector<std::thread> threads;
  std::atomic<int> mismatches = 0;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (size_t i = 0; i < corpus.size(); ++i) {
        const size_t j = (i * 7 + k * 13) % corpus.size();  // different orders per thread
        if (*(*t)->Encode(corpus[j].get<std::string>()) != want[j]) ++mismatches;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// A long word (no split points) and a long document: merging is O(n log n) per word,
// and byte-level encoding round-trips exactly.
TEST(TokenizerReferenceTest, LongInputsRoundTrip) {
  if (!std::filesystem::exists(kDefaultModel)) GTEST_SKIP() << kDefaultModel << " is missing";
  auto t = LoadTokenizer(kDefaultModel);
  ASSERT_TRUE(t.ok()) << t.status();
  const Json corpus = ReadJson(std::string(kFixtures) + "corpus.json");
  std::string doc;
  while (doc.size() < 200000) {
    for (const Json& s : corpus) doc += s.get<std::string>();
  }
  for (const std::string& text : {std::string(100000, 'a'), doc}) {
    auto ids = (*t)->Encode(text, {.add_special = false, .parse_special = false});
    ASSERT_TRUE(ids.ok());
    EXPECT_LT(ids->size(), text.size());
    EXPECT_EQ(*(*t)->Decode(*ids), text);
  }
}

}  // namespace
}  // namespace radixserve::model
