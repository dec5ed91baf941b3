// LoadCpuWeights' two placements of the matrices (the huge-page arena and the file
// mapping) and the arena itself.
#include "backend/cpu/cpu_weights.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "backend/cpu/weight_arena.h"
#include "kernels/cpu/quantize.h"
#include "model/model_source.h"

namespace radixserve::backend::cpu {
namespace {

using kernels::cpu::MatmulWeight;

TEST(WeightArenaTest, CopiesAreAlignedEqualAndBoundedByTheCapacity) {
  std::vector<uint8_t> a(10, 1), b(64, 2), c(65, 3);
  const size_t capacity =
      WeightArena::RoundedSize(a.size()) + WeightArena::RoundedSize(b.size()) + WeightArena::RoundedSize(c.size());
  EXPECT_EQ(capacity, 64u + 64u + 128u);
  auto arena = WeightArena::Create(capacity);
  ASSERT_TRUE(arena.ok()) << arena.status();
  for (const auto* v : {&a, &b, &c}) {
    const void* copy = (*arena)->Copy(*v);
    ASSERT_NE(copy, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(copy) % 64, 0u);
    EXPECT_EQ(std::memcmp(copy, v->data(), v->size()), 0);
  }
  EXPECT_EQ((*arena)->Copy(std::vector<uint8_t>(1, 4)), nullptr);  // full
}

TEST(WeightArenaTest, FitsOnlyWhatMemoryHolds) {
  EXPECT_TRUE(WeightArena::Fits(1 << 20));
  EXPECT_FALSE(WeightArena::Fits(size_t{1} << 60));
}

// Every matrix of `w` with its tensor in `source` (output = token_embd when tied).
std::vector<std::pair<const MatmulWeight*, const model::WeightTensor*>> Matrices(const CpuWeights& w,
                                                                                 const model::ModelSource& source) {
  std::vector<std::pair<const MatmulWeight*, const model::WeightTensor*>> out;
  out.emplace_back(&w.token_embd, source.Find("token_embd.weight"));
  const model::WeightTensor* output = source.Find("output.weight");
  out.emplace_back(&w.output, output != nullptr ? output : source.Find("token_embd.weight"));
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const CpuLayerWeights& l = w.layers[i];
    const std::string p = "blk." + std::to_string(i) + ".";
    const std::pair<const MatmulWeight*, const char*> named[] = {
        {&l.q, "attn_q.weight"},    {&l.k, "attn_k.weight"},     {&l.v, "attn_v.weight"},
        {&l.o, "attn_output.weight"}, {&l.gate, "ffn_gate.weight"}, {&l.up, "ffn_up.weight"},
        {&l.down, "ffn_down.weight"}};
    for (const auto& [m, name] : named) out.emplace_back(m, source.Find(p + name));
  }
  return out;
}

class CpuWeightsTest : public ::testing::TestWithParam<std::string> {};

// The arena holds the same bytes as the file (read again after the copies released its
// pages) and as the Q/K rows the safetensors loader permuted in memory; tied weights
// are copied once. Without the arena, the matrices are the source's own bytes.
TEST_P(CpuWeightsTest, ArenaCopiesEqualTheSourceAndFileMappingPointsIntoIt) {
  auto source = model::ModelSource::Open(GetParam());
  ASSERT_TRUE(source.ok()) << source.status();
  auto in_arena = LoadCpuWeights(**source, WeightPlacement::kArena);
  ASSERT_TRUE(in_arena.ok()) << in_arena.status();
  ASSERT_NE(in_arena->arena, nullptr);
  auto mapped = LoadCpuWeights(**source, WeightPlacement::kFileMapping);
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  EXPECT_EQ(mapped->arena, nullptr);

  for (const auto& [m, t] : Matrices(*in_arena, **source)) {
    ASSERT_NE(t, nullptr);
    EXPECT_NE(m->data, t->data.data()) << t->name;
    EXPECT_EQ(kernels::cpu::RowBytes(m->dtype, m->k) * m->n, static_cast<int64_t>(t->data.size())) << t->name;
    EXPECT_EQ(std::memcmp(m->data, t->data.data(), t->data.size()), 0) << t->name;
  }
  if ((*source)->Find("output.weight") == nullptr) {
    EXPECT_EQ(in_arena->output.data, in_arena->token_embd.data);
  }
  for (const auto& [m, t] : Matrices(*mapped, **source)) EXPECT_EQ(m->data, t->data.data()) << t->name;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CpuWeightsTest,
                         ::testing::Values("tests/fixtures/models/llama-gqa-tied/model-q4_1.gguf",
                                           "tests/fixtures/models/llama-gqa-tied/model-f32.gguf",
                                           "tests/fixtures/models/llama-gqa-tied"));

}  // namespace
}  // namespace radixserve::backend::cpu
