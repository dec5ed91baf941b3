// ModelSource on the default model and the committed tiny fixtures (HF directory and the
// GGUF converted from it must describe identical tensors), plus the Q/K permutation.
#include <filesystem>

#include "gtest/gtest.h"
#include "model/dequantize.h"
#include "model/model_source.h"
#include "model/tokenizer_gguf.h"
#include "tests/model/test_status.h"

namespace radixserve::model {
namespace {

constexpr char kDefaultModel[] = "models/SmolLM2-135M-Instruct.Q4_1.gguf";

TEST(ModelSourceTest, DefaultModel) {
  if (!std::filesystem::exists(kDefaultModel)) {
    GTEST_SKIP() << kDefaultModel << " missing (bash scripts/fetch_model.sh)";
  }
  auto src = ModelSource::Open(kDefaultModel);
  ASSERT_TRUE(src.ok()) << src.status();
  const ModelConfig& c = (*src)->config();
  EXPECT_EQ(c.arch, Arch::kLlama);
  EXPECT_EQ(c.num_layers, 30);
  EXPECT_EQ(c.hidden_size, 576);
  EXPECT_EQ(c.intermediate_size, 1536);
  EXPECT_EQ(c.num_heads, 9);
  EXPECT_EQ(c.num_kv_heads, 3);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.vocab_size, 49152);
  EXPECT_EQ(c.rope_theta, 100000.0);
  EXPECT_EQ(c.max_position_embeddings, 8192);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int32_t>{2}));
  EXPECT_EQ((*src)->tensors().size(), 272u);
  EXPECT_EQ((*src)->gguf()->version(), 3u);

  const WeightTensor* emb = (*src)->Find("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->dtype, DType::kQ8_0);
  EXPECT_EQ(emb->shape, (std::vector<int64_t>{576, 49152}));
  EXPECT_EQ((*src)->Find("blk.29.ffn_down.weight")->dtype, DType::kQ4_1);
  EXPECT_EQ((*src)->Find("output_norm.weight")->dtype, DType::kF32);
  // Every tensor dequantizes, to finite values.
  for (const WeightTensor& t : (*src)->tensors()) {
    const int64_t row = t.shape[0];
    std::vector<float> out(static_cast<size_t>(row));
    ASSERT_TRUE(Dequantize(t.dtype, t.data.first(*ByteSizeOf(t.dtype, row)), out).ok()) << t.name;
    for (float x : out) ASSERT_TRUE(std::isfinite(x)) << t.name;
  }

  auto tok = TokenizerDataFromGguf(*(*src)->gguf());
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ(tok->kind, TokenizerKind::kByteLevelBpe);
  EXPECT_EQ(tok->pre, "smollm");
  EXPECT_EQ(tok->tokens.size(), 49152u);
  EXPECT_EQ(tok->merges.size(), 48900u);
  EXPECT_EQ(tok->tokens[2], "<|im_end|>");
  EXPECT_EQ(tok->bos_id, 1);
  EXPECT_EQ(tok->eos_id, 2);
  EXPECT_FALSE(tok->add_bos);
  EXPECT_NE(tok->chat_template.find("<|im_start|>"), std::string::npos);
}

class FixtureTest : public ::testing::TestWithParam<const char*> {};

TEST_P(FixtureTest, HfDirectoryAndGgufAgree) {
  const std::string dir = std::string("tests/fixtures/models/") + GetParam();
  if (!std::filesystem::exists(dir + "/model-f32.gguf")) GTEST_SKIP() << dir << " missing";
  auto hf = ModelSource::Open(dir);
  ASSERT_TRUE(hf.ok()) << hf.status();
  auto gg = ModelSource::Open(dir + "/model-f32.gguf");
  ASSERT_TRUE(gg.ok()) << gg.status();
  EXPECT_EQ((*hf)->format(), ModelFormat::kSafetensors);
  const ModelConfig& a = (*hf)->config();
  const ModelConfig& b = (*gg)->config();
  EXPECT_EQ(a.arch, b.arch);
  EXPECT_EQ(a.num_layers, b.num_layers);
  EXPECT_EQ(a.num_kv_heads, b.num_kv_heads);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.tie_word_embeddings, b.tie_word_embeddings);
  EXPECT_EQ(a.attention_bias, b.attention_bias);
  EXPECT_EQ(a.rope_scaling.type, b.rope_scaling.type);
  EXPECT_NEAR(a.rms_norm_eps, b.rms_norm_eps, 1e-6 * a.rms_norm_eps);
  ASSERT_EQ((*hf)->tensors().size(), (*gg)->tensors().size());
  for (const WeightTensor& t : (*hf)->tensors()) {
    const WeightTensor* u = (*gg)->Find(t.name);
    ASSERT_NE(u, nullptr) << t.name;
    EXPECT_EQ(t.shape, u->shape) << t.name;
    ASSERT_EQ(t.dtype, DType::kF32) << t.name;
    ASSERT_EQ(u->dtype, DType::kF32) << t.name;
    ASSERT_EQ(t.data.size(), u->data.size()) << t.name;
    if (t.name == "rope_freqs.weight") {
      const auto* x = reinterpret_cast<const float*>(t.data.data());
      const auto* y = reinterpret_cast<const float*>(u->data.data());
      for (size_t i = 0; i < t.data.size() / 4; ++i) EXPECT_NEAR(x[i], y[i], 1e-6 * y[i]);
    } else {
      EXPECT_EQ(std::memcmp(t.data.data(), u->data.data(), t.data.size()), 0) << t.name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureTest,
                         ::testing::Values("llama-gqa-tied", "qwen2-bias", "llama3-rope-scaling"));

TEST(ModelSourceTest, PermuteQkRows) {
  // 2 heads of head_dim 4, one byte per row: HF rows per head are [x0 x1 | y0 y1]
  // (halves); canonical rows interleave them: x0 y0 x1 y1.
  const std::vector<uint8_t> hf = {0, 1, 2, 3, 10, 11, 12, 13};
  EXPECT_EQ(PermuteQkRows(hf, 2, 4, 1), (std::vector<uint8_t>{0, 2, 1, 3, 10, 12, 11, 13}));
}

TEST(ModelSourceTest, OpenErrors) {
  EXPECT_STATUS(ModelSource::Open("/nonexistent/model.gguf").status(), kNotFound, "does not exist");
  EXPECT_STATUS(ModelSource::Open("CMakeLists.txt").status(), kInvalidArgument,
                "not a .gguf file");
}

}  // namespace
}  // namespace radixserve::model
