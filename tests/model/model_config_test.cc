// ModelConfig from HF config.json / generation_config.json and from GGUF metadata.
#include <string>

#include "gtest/gtest.h"
#include "model/gguf.h"
#include "model/model_config.h"
#include "nlohmann/json.hpp"
#include "tests/model/gguf_builder.h"
#include "tests/model/test_status.h"

namespace radixserve::model {
namespace {

using Json = nlohmann::json;

Json Llama() {
  return Json{{"model_type", "llama"}, {"vocab_size", 1000}, {"hidden_size", 64},
              {"intermediate_size", 128}, {"num_hidden_layers", 2},
              {"num_attention_heads", 4}, {"num_key_value_heads", 2},
              {"rms_norm_eps", 1e-5}, {"rope_theta", 500000.0},
              {"max_position_embeddings", 4096}, {"tie_word_embeddings", true},
              {"bos_token_id", 1}, {"eos_token_id", 2}};
}

absl::StatusOr<ModelConfig> FromJson(const Json& j, const std::string& gen = "") {
  return ModelConfigFromHfJson(j.dump(), gen);
}

TEST(ModelConfigTest, ParsesLlama) {
  auto c = FromJson(Llama(), R"({"eos_token_id": [2, 7], "bos_token_id": 3})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->arch, Arch::kLlama);
  EXPECT_EQ(c->head_dim, 16);
  EXPECT_EQ(c->num_kv_heads, 2);
  EXPECT_EQ(c->rope_theta, 500000.0);
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_FALSE(c->attention_bias);
  EXPECT_EQ(c->bos_token_id, 3);  // generation_config.json wins
  EXPECT_EQ(c->eos_token_ids, (std::vector<int32_t>{2, 7}));
  EXPECT_EQ(c->rope_scaling.type, RopeScalingType::kNone);
}

TEST(ModelConfigTest, DefaultsAndVariants) {
  Json j = Llama();
  j.erase("num_key_value_heads");
  j.erase("rope_theta");
  j["model_type"] = "qwen2";
  j["head_dim"] = 32;  // explicit head_dim need not be hidden / heads
  auto c = FromJson(j);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->arch, Arch::kQwen2);
  EXPECT_TRUE(c->attention_bias);
  EXPECT_EQ(c->num_kv_heads, 4);
  EXPECT_EQ(c->head_dim, 32);
  EXPECT_EQ(c->rope_theta, 10000.0);

  j = Llama();
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  c = FromJson(j);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->rope_scaling.type, RopeScalingType::kLlama3);
  EXPECT_EQ(c->rope_scaling.factor, 8.0);
  EXPECT_EQ(c->rope_scaling.original_max_position_embeddings, 8192);
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  c = FromJson(j);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->rope_scaling.type, RopeScalingType::kLinear);

  // transformers >= 5: theta and scaling together under rope_parameters.
  j = Llama();
  j.erase("rope_theta");
  j["rope_parameters"] = {{"rope_type", "llama3"}, {"rope_theta", 500000.0}, {"factor", 8.0},
                          {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                          {"original_max_position_embeddings", 8192}};
  c = FromJson(j);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->rope_theta, 500000.0);
  EXPECT_EQ(c->rope_scaling.type, RopeScalingType::kLlama3);
  EXPECT_EQ(c->rope_scaling.factor, 8.0);
  j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 1000000.0}};
  c = FromJson(j);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->rope_theta, 1000000.0);
  EXPECT_EQ(c->rope_scaling.type, RopeScalingType::kNone);
}

TEST(ModelConfigTest, RejectsMalformedConfigJson) {
  EXPECT_STATUS(ModelConfigFromHfJson("{", "").status(), kInvalidArgument, "not valid JSON");
  EXPECT_STATUS(ModelConfigFromHfJson("[]", "").status(), kInvalidArgument, "JSON object");
  EXPECT_STATUS(ModelConfigFromHfJson(Llama().dump(), "{oops").status(), kInvalidArgument,
                "generation_config.json");
  auto with = [](const char* key, Json v) {
    Json j = Llama();
    if (v.is_discarded()) {
      j.erase(key);
    } else {
      j[key] = v;
    }
    return FromJson(j).status();
  };
  const Json kErase(Json::value_t::discarded);
  EXPECT_STATUS(with("hidden_size", kErase), kInvalidArgument, "missing 'hidden_size'");
  EXPECT_STATUS(with("hidden_size", "64"), kInvalidArgument, "'hidden_size' must be an integer");
  EXPECT_STATUS(with("hidden_size", 66), kInvalidArgument, "does not divide hidden_size");
  EXPECT_STATUS(with("num_key_value_heads", 3), kInvalidArgument, "does not divide num_heads");
  EXPECT_STATUS(with("num_key_value_heads", 8), kInvalidArgument, "num_kv_heads");
  EXPECT_STATUS(with("num_hidden_layers", -1), kInvalidArgument, "num_layers");
  EXPECT_STATUS(with("vocab_size", 0), kInvalidArgument, "vocab_size");
  EXPECT_STATUS(with("rms_norm_eps", "x"), kInvalidArgument, "must be a number");
  EXPECT_STATUS(with("rms_norm_eps", -1.0), kInvalidArgument, "rms_norm_eps");
  EXPECT_STATUS(with("rope_theta", 0.0), kInvalidArgument, "rope_theta");
  EXPECT_STATUS(with("tie_word_embeddings", 1), kInvalidArgument, "must be a boolean");
  EXPECT_STATUS(with("eos_token_id", 5000), kInvalidArgument, "outside the vocabulary");
  EXPECT_STATUS(with("eos_token_id", -1), kInvalidArgument, "token id");
  EXPECT_STATUS(with("eos_token_id", Json::array({1, "x"})), kInvalidArgument, "token id");
  EXPECT_STATUS(with("model_type", "gpt2"), kUnimplemented, "model_type 'gpt2'");
  EXPECT_STATUS(with("rope_scaling", Json{{"rope_type", "yarn"}, {"factor", 4.0}}),
                kUnimplemented, "yarn");
  EXPECT_STATUS(with("rope_scaling", Json{{"rope_type", "llama3"}, {"factor", 4.0}}),
                kInvalidArgument, "low_freq_factor");
  EXPECT_STATUS(with("rope_scaling", Json{{"type", "linear"}}), kInvalidArgument, "factor");
  EXPECT_STATUS(with("rope_scaling", 3), kInvalidArgument, "rope_scaling");
  EXPECT_STATUS(with("hidden_size", Json(uint64_t{1} << 63)), kInvalidArgument, "too large");
}

TEST(ModelConfigTest, MissingDirectory) {
  EXPECT_EQ(ModelConfigFromHfDir("/nonexistent").status().code(), absl::StatusCode::kNotFound);
}

testing::GgufBuilder GgufLlama() {
  testing::GgufBuilder b;
  b.KvString("general.architecture", "llama")
      .KvU32("llama.block_count", 2)
      .KvU32("llama.embedding_length", 64)
      .KvU32("llama.feed_forward_length", 128)
      .KvU32("llama.attention.head_count", 4)
      .KvU32("llama.attention.head_count_kv", 2)
      .KvU32("llama.context_length", 2048)
      .KvU32("llama.vocab_size", 100)
      .KvU32("tokenizer.ggml.bos_token_id", 1)
      .KvU32("tokenizer.ggml.eos_token_id", 2)
      .KvU32("tokenizer.ggml.eot_token_id", 5);
  return b;
}

TEST(ModelConfigTest, FromGguf) {
  auto bytes = GgufLlama().Build();
  auto g = GgufFile::FromBytes(bytes);
  ASSERT_TRUE(g.ok()) << g.status();
  auto c = ModelConfigFromGguf(**g);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->num_layers, 2);
  EXPECT_EQ(c->head_dim, 16);
  EXPECT_EQ(c->rope_theta, 10000.0);
  EXPECT_TRUE(c->tie_word_embeddings);  // no output.weight
  EXPECT_EQ(c->eos_token_ids, (std::vector<int32_t>{2, 5}));
}

TEST(ModelConfigTest, FromGgufErrors) {
  auto check = [](testing::GgufBuilder b, absl::StatusCode code, const char* substr) {
    auto bytes = b.Build();
    auto g = GgufFile::FromBytes(bytes);
    ASSERT_TRUE(g.ok()) << g.status();
    const absl::Status s = ModelConfigFromGguf(**g).status();
    EXPECT_EQ(s.code(), code) << s;
    EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr(substr));
  };
  testing::GgufBuilder b;
  b.KvString("general.architecture", "llama");
  check(b, absl::StatusCode::kInvalidArgument, "llama.block_count");
  b = testing::GgufBuilder();
  b.KvString("general.architecture", "falcon");
  check(b, absl::StatusCode::kUnimplemented, "falcon");
  b = GgufLlama();
  b.KvU32("llama.rope.dimension_count", 8);
  check(b, absl::StatusCode::kUnimplemented, "partial rotary");
  b = GgufLlama();
  b.KvString("llama.rope.scaling.type", "yarn");
  check(b, absl::StatusCode::kUnimplemented, "yarn");
  b = testing::GgufBuilder();
  b.KvString("general.architecture", "llama").KvU32("llama.block_count", 2)
      .KvU32("llama.embedding_length", 64).KvU32("llama.feed_forward_length", 128)
      .KvU32("llama.attention.head_count", 3).KvU32("llama.context_length", 16)
      .KvU32("llama.vocab_size", 100);
  check(b, absl::StatusCode::kInvalidArgument, "does not divide");
}

}  // namespace
}  // namespace radixserve::model
