// TokenizerDataFromGguf on hand-built metadata.
#include "gtest/gtest.h"
#include "model/gguf.h"
#include "model/tokenizer_gguf.h"
#include "tests/model/gguf_builder.h"
#include "tests/model/test_status.h"

namespace radixserve::model {
namespace {

using testing::ByteWriter;
using testing::GgufBuilder;

GgufBuilder Base(const char* model) {
  GgufBuilder b;
  b.KvString("tokenizer.ggml.model", model)
      .KvStringArray("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a", "b", "ab"})
      .KvStringArray("tokenizer.ggml.merges", {"a b"})
      .KvU32("tokenizer.ggml.bos_token_id", 1)
      .KvU32("tokenizer.ggml.eos_token_id", 2);
  return b;
}

std::vector<uint8_t> Int32Array(std::vector<int32_t> v) {
  ByteWriter w;
  w.Pod<uint32_t>(5).Pod<uint64_t>(v.size());
  for (int32_t x : v) w.Pod(x);
  return w.bytes();
}

absl::StatusOr<TokenizerData> Load(const GgufBuilder& b) {
  static std::vector<uint8_t> bytes;  // must outlive the GgufFile within each call
  bytes = b.Build();
  auto g = GgufFile::FromBytes(bytes);
  if (!g.ok()) return g.status();
  return TokenizerDataFromGguf(**g);
}

TEST(TokenizerGgufTest, ByteLevelBpe) {
  GgufBuilder b = Base("gpt2");
  b.KvString("tokenizer.ggml.pre", "smollm")
      .Kv("tokenizer.ggml.token_type", 9, Int32Array({2, 3, 3, 1, 1, 1}))
      .KvU32("tokenizer.ggml.eot_token_id", 5)
      .KvString("tokenizer.chat_template", "{{ x }}");
  auto d = Load(b);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->kind, TokenizerKind::kByteLevelBpe);
  EXPECT_EQ(d->pre, "smollm");
  EXPECT_EQ(d->tokens.size(), 6u);
  EXPECT_EQ(d->merges, (std::vector<std::string>{"a b"}));
  EXPECT_EQ(d->types[1], TokenType::kControl);
  EXPECT_EQ(d->bos_id, 1);
  EXPECT_EQ(d->eos_id, 2);
  EXPECT_FALSE(d->unk_id.has_value());
  EXPECT_EQ(d->extra_eos_ids, (std::vector<int32_t>{5}));
  EXPECT_FALSE(d->add_bos);
  EXPECT_FALSE(d->add_space_prefix);
  EXPECT_EQ(d->chat_template, "{{ x }}");
}

TEST(TokenizerGgufTest, SentencePieceDefaultsAndFlags) {
  GgufBuilder b = Base("llama");
  ByteWriter scores;
  scores.Pod<uint32_t>(6).Pod<uint64_t>(6);
  for (int i = 0; i < 6; ++i) scores.Pod<float>(-static_cast<float>(i));
  b.Kv("tokenizer.ggml.scores", 9, scores.bytes()).Kv("tokenizer.ggml.add_eos_token", 7, {1});
  auto d = Load(b);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->kind, TokenizerKind::kSentencePieceBpe);
  EXPECT_EQ(d->pre, "default");
  EXPECT_EQ(d->scores[5], -5.0f);
  EXPECT_TRUE(d->add_bos);           // llama default
  EXPECT_TRUE(d->add_space_prefix);  // llama default
  EXPECT_TRUE(d->add_eos);
  b.Kv("tokenizer.ggml.add_bos_token", 7, {0});
  d = Load(b);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->add_bos);
}

TEST(TokenizerGgufTest, Errors) {
  GgufBuilder b;
  EXPECT_STATUS(Load(b).status(), kNotFound, "tokenizer.ggml.model");
  EXPECT_STATUS(Load(Base("bert")).status(), kUnimplemented, "'bert'");
  b = Base("gpt2");
  b.KvU32("tokenizer.ggml.unknown_token_id", 6);
  EXPECT_STATUS(Load(b).status(), kInvalidArgument, "outside the vocabulary");
  b = Base("gpt2");
  b.Kv("tokenizer.ggml.token_type", 9, Int32Array({1, 1, 1}));
  EXPECT_STATUS(Load(b).status(), kInvalidArgument, "3 entries for 6 tokens");
  b = Base("gpt2");
  b.Kv("tokenizer.ggml.token_type", 9, Int32Array({1, 1, 1, 9, 1, 1}));
  EXPECT_STATUS(Load(b).status(), kInvalidArgument, "token_type[3] = 9");
  b = GgufBuilder();
  b.KvString("tokenizer.ggml.model", "gpt2").KvStringArray("tokenizer.ggml.tokens", {"a"});
  EXPECT_STATUS(Load(b).status(), kNotFound, "merges");
  b = GgufBuilder();
  b.KvString("tokenizer.ggml.model", "gpt2").KvU32("tokenizer.ggml.tokens", 3);
  EXPECT_STATUS(Load(b).status(), kInvalidArgument, "expected an array");
}

}  // namespace
}  // namespace radixserve::model
