// Helpers for driving a Backend directly in tests: a sequence with a hand-made block
// table, golden data from tests/fixtures/models, and relative error.
#pragma once

#include <cmath>
#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "gtest/gtest.h"
#include "model/safetensors.h"

namespace radixserve::backend::testing {

inline std::string FixtureDir(const std::string& model) { return "tests/fixtures/models/" + model; }

// ||a - b||_2 / ||b||_2
inline double RelativeError(std::span<const float> a, std::span<const float> b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return a.size() == b.size() ? std::sqrt(num / std::max(den, 1e-30)) : INFINITY;
}

// Golden tensors of one fixture model: tokens_i (int32) and logits_* (f32).
class Golden {
 public:
  explicit Golden(const std::string& model) {
    auto file = model::SafetensorsFile::Open(FixtureDir(model) + "/golden.safetensors");
    EXPECT_TRUE(file.ok()) << file.status();
    if (file.ok()) file_ = std::move(*file);
  }
  std::vector<int32_t> Tokens(int i) const { return Read<int32_t>("tokens_" + std::to_string(i)); }
  // Logits row `pos` of `key` ([len, vocab]).
  std::vector<float> LogitsRow(const std::string& key, int64_t pos) const {
    const model::SafetensorsTensor* t = file_->Find(key);
    EXPECT_NE(t, nullptr) << key;
    if (t == nullptr) return {};
    const int64_t vocab = t->shape.back();
    std::vector<float> row(vocab);
    std::memcpy(row.data(), t->data.data() + pos * vocab * sizeof(float), vocab * sizeof(float));
    return row;
  }

 private:
  template <typename T>
  std::vector<T> Read(const std::string& key) const {
    const model::SafetensorsTensor* t = file_->Find(key);
    EXPECT_NE(t, nullptr) << key;
    if (t == nullptr) return {};
    std::vector<T> out(t->data.size() / sizeof(T));
    std::memcpy(out.data(), t->data.data(), out.size() * sizeof(T));
    return out;
  }
  std::unique_ptr<model::SafetensorsFile> file_;
};

// A sequence driven by hand: its tokens so far and a block table of blocks it was given.
struct TestSequence {
  std::vector<int32_t> tokens;      // tokens whose KV is in the blocks
  std::vector<int32_t> block_table;
};

// Runs one step that appends `tokens` to each sequence (one entry per sequence) and
// returns the logits of each sequence's last new token. Blocks come from `next_block`.
inline std::vector<std::vector<float>> Step(Backend& backend, std::vector<TestSequence*> seqs,
                                            const std::vector<std::vector<int32_t>>& tokens,
                                            int32_t& next_block) {
  const int32_t bs = backend.kv_layout().block_size;
  StepBatch batch;
  for (size_t i = 0; i < seqs.size(); ++i) {
    TestSequence& s = *seqs[i];
    const size_t total = s.tokens.size() + tokens[i].size();
    while (s.block_table.size() * bs < total) s.block_table.push_back(next_block++);
    SequenceStep step;
    step.tokens = tokens[i];
    step.start_position = static_cast<int32_t>(s.tokens.size());
    step.block_table = s.block_table;
    step.return_logits = true;
    batch.sequences.push_back(step);
  }
  auto result = backend.Forward(batch);
  EXPECT_TRUE(result.ok()) << result.status();
  std::vector<std::vector<float>> logits;
  for (size_t i = 0; i < seqs.size(); ++i) {
    seqs[i]->tokens.insert(seqs[i]->tokens.end(), tokens[i].begin(), tokens[i].end());
    logits.push_back(result.ok() ? result->sequences[i].logits : std::vector<float>{});
  }
  return logits;
}

}  // namespace radixserve::backend::testing
