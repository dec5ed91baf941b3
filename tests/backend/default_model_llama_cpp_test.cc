// The default model (SmolLM2-135M-Instruct Q4_1) against llama.cpp: greedy continuations
// of fixed prompts recorded through llama-cpp-python (scripts/llama_cpp_reference.py,
// tests/fixtures/models/smollm2_llama_cpp_greedy.json, each prompt evaluated alone with
// llama.cpp's defaults: F16 KV cache, no flash attention). All prompts decode together
// in one batch here, so this also checks that batching changes nothing.
//
// With its default F16 KV cache and the AVX2 / AVX-512 kernels, the CPU backend computes
// llama.cpp's x86 (AVX-512 build) numbers bit for bit: its 8-bit activation blocks, dot
// product summation orders, attention (fp16 q and probabilities), expf, RMSNorm and RoPE
// angles (kernels/cpu: matmul.h, f16_kv_attention.h, vec_ops.h, rope.h). So the issue's
// criterion (at least 5 prompts identical for 32 tokens) is checked with the first-step
// logits equal to llama.cpp's to 1e-3; at any divergence the two tokens must be a near
// tie in our logits. Overrides (another model file, an F32 KV cache, the scalar kernels)
// leave only the near-tie check and loose logit bounds.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend_test_util.h"
#include "gtest/gtest.h"
#include "kernels/cpu/cpu_features.h"
#include "model/tokenizer_loader.h"
#include "nlohmann/json.hpp"

namespace radixserve::backend {
namespace {

constexpr char kModel[] = "models/SmolLM2-135M-Instruct.Q4_1.gguf";
constexpr char kReference[] = "tests/fixtures/models/smollm2_llama_cpp_greedy.json";

TEST(DefaultModelTest, GreedyContinuationsMatchLlamaCpp) {
  // RADIXSERVE_TEST_MODEL swaps in another file of the same model (e.g. dequantized).
  const char* override_model = std::getenv("RADIXSERVE_TEST_MODEL");
  const std::string model_path = override_model ? override_model : kModel;
  if (!std::ifstream(model_path).good()) GTEST_SKIP() << model_path << " missing: run `make model`";
  const char* override_ref = std::getenv("RADIXSERVE_TEST_REFERENCE");
  const nlohmann::json ref = nlohmann::json::parse(std::ifstream(override_ref ? override_ref : kReference));
  const int n_gen = ref["n_gen"];
  auto tokenizer = model::LoadTokenizer(model_path);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();

  auto backend = CreateCpuBackend();
  BackendOptions options;
  options.num_device_blocks = 256;
  // RADIXSERVE_TEST_KV_DTYPE=f32: the float32 KV cache (exact-math attention).
  const char* kv_override = std::getenv("RADIXSERVE_TEST_KV_DTYPE");
  if (kv_override != nullptr) options.kv_dtype = kv_override;
  const bool llama_numerics = override_model == nullptr && kv_override == nullptr && override_ref == nullptr &&
                              kernels::cpu::ActiveCpuIsa() >= kernels::cpu::CpuIsa::kAvx2;
  ASSERT_TRUE(backend->Load(model_path, options).ok());

  struct Seq {
    std::string name;
    std::vector<int32_t> tokens, want, got, table;
    std::vector<float> top10_logits;  // llama.cpp's first-step logits of its top 10
    std::vector<int32_t> top10_ids;
  };
  std::vector<Seq> seqs;
  int32_t next_block = 0;
  for (const auto& p : ref["prompts"]) {
    Seq s;
    s.name = p["name"];
    auto ids = (*tokenizer)->Encode(p["prompt"].get<std::string>());
    ASSERT_TRUE(ids.ok());
    EXPECT_EQ(*ids, p["prompt_ids"].get<std::vector<int32_t>>()) << s.name << ": tokenization differs";
    s.tokens = p["prompt_ids"].get<std::vector<int32_t>>();
    s.want = p["continuation_ids"].get<std::vector<int32_t>>();
    for (const auto& t : p["first_step_top10"]) {
      s.top10_ids.push_back(t["id"]);
      s.top10_logits.push_back(t["logit"]);
    }
    const int blocks = static_cast<int>((s.tokens.size() + n_gen + 15) / 16);
    for (int b = 0; b < blocks; ++b) s.table.push_back(next_block++);
    seqs.push_back(std::move(s));
  }

  // Decode all prompts together. At the first step where our greedy token differs from
  // llama.cpp's, the two candidates must be a near tie in our logits: where our numbers
  // are not llama.cpp's, both engines carry the noise of 8-bit activation quantization
  // (each ~1-7% of the logits' norm away from the exact math on the same weights; see
  // the issue note), so a near tie may break
  // either way, but a clear winner must not. After a divergence the texts differ, so
  // comparison stops there.
  constexpr float kNearTie = 1.0f;  // logits
  std::vector<std::vector<int32_t>> next(seqs.size());
  std::vector<int> diverged_at(seqs.size(), -1);
  for (int step = 0; step < n_gen; ++step) {
    StepBatch batch;
    for (size_t i = 0; i < seqs.size(); ++i) {
      SequenceStep st;
      if (step == 0) {
        st.tokens = seqs[i].tokens;
      } else {
        next[i] = {seqs[i].got.back()};
        st.tokens = next[i];
        st.start_position = static_cast<int32_t>(seqs[i].tokens.size()) + step - 1;
      }
      st.block_table = seqs[i].table;
      st.sample = true;
      st.return_logits = true;
      batch.sequences.push_back(st);
    }
    auto result = backend->Forward(batch);
    ASSERT_TRUE(result.ok()) << result.status();
    for (size_t i = 0; i < seqs.size(); ++i) {
      const SequenceResult& r = result->sequences[i];
      seqs[i].got.push_back(r.token);
      if (step == 0) {
        // llama.cpp's 10 largest logits, value by value: equal (1e-3 allows for a last
        // bit) where we compute llama.cpp's numerics; otherwise two engines with
        // different 8-bit rounding noise, measured 0.2% to 12% apart (largest where all
        // logits are small), while a wrong weight, layout or norm is O(1) apart.
        std::vector<float> ours;
        for (int32_t id : seqs[i].top10_ids) ours.push_back(r.logits[id]);
        float max_abs = 0;
        for (size_t k = 0; k < ours.size(); ++k) max_abs = std::max(max_abs, std::fabs(ours[k] - seqs[i].top10_logits[k]));
        std::printf("%-14s first step: top-10 logits max |ours - llama.cpp| = %.3g\n", seqs[i].name.c_str(), max_abs);
        if (llama_numerics) {
          EXPECT_LT(max_abs, 1e-3f) << seqs[i].name;
        } else {
          EXPECT_LT(testing::RelativeError(ours, seqs[i].top10_logits), 0.2)
              << seqs[i].name << ": ours " << ::testing::PrintToString(ours) << " llama.cpp "
              << ::testing::PrintToString(seqs[i].top10_logits);
        }
      }
      if (diverged_at[i] < 0 && step < static_cast<int>(seqs[i].want.size()) && r.token != seqs[i].want[step]) {
        diverged_at[i] = step;
        const float margin = r.logits[r.token] - r.logits[seqs[i].want[step]];
        EXPECT_LT(margin, kNearTie) << seqs[i].name << " step " << step << ": we chose " << r.token
                                    << ", llama.cpp " << seqs[i].want[step] << ", not a near tie";
      }
    }
  }
  int identical = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (diverged_at[i] < 0) ++identical;
    std::printf("%-14s %s\n", seqs[i].name.c_str(),
                diverged_at[i] < 0 ? "identical to llama.cpp for all tokens"
                                   : ("first differs at token " + std::to_string(diverged_at[i])).c_str());
  }
  // Measured: 8 of 8 with llama.cpp's numerics (3 of 8 with the earlier float32-KV,
  // float-scale activation blocks). The issue asks for at least 5.
  if (llama_numerics) {
    EXPECT_GE(identical, 5) << "prompts whose whole continuation equals llama.cpp's";
  }
}

}  // namespace
}  // namespace radixserve::backend
