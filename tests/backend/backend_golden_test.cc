// Each backend against Hugging Face transformers' logits (tests/fixtures/models, made by
// scripts/make_model_fixtures.py) for every fixture model and weight format it runs: the
// built-in CPU backend everywhere, the CUDA plugin where a GPU is (SKIPPED elsewhere,
// with the plugin's reason; CudaPluginExplainsWhyItCannotRun checks that reason).
#include <cstdlib>
#include <string>

#include "backend/cpu/cpu_backend.h"
#include "backend/plugin_loader.h"
#include "backend_test_util.h"
#include "gtest/gtest.h"

namespace radixserve::backend {
namespace {

using testing::Golden;
using testing::RelativeError;
using testing::Step;
using testing::TestSequence;

struct GoldenCase {
  std::string backend;    // "cpu" or a plugin name
  std::string model;
  std::string file;       // model file inside the fixture dir ("" = the HF directory)
  std::string logits;     // golden key prefix: "logits" (F32) or "logits_<type>"
  std::vector<int> prompts;
  double bound;           // relative error bound over a row of logits
};

// Bounds. F32: float32 rounding only (1e-4). F16 weights: products in float on exactly
// the dequantized weights, the same math as F32. Q8_0/Q4_1: the reference ran on the same
// dequantized weights, so the one extra error is ours by design: the activations are
// quantized to 8-bit blocks of 32 before the integer dot products, as llama.cpp does
// (per element |error| <= scale/2, scale = max|x|/127 of its block). On these tiny random
// models (rows of 64-96 elements, Gaussian weights) that measures 3-5% of the logits'
// norm, about the size of Q8_0's own weight error (2.8-3.1%, fixtures README); 6e-2 bounds it.
//
// CUDA (head_dim 64/128 only: the llama-hd64 fixture): activations, weights and KV in
// bf16, so F32/F16/safetensors carry bf16 rounding, which this fixture's large weights
// (std 0.15-0.5, 4-25x a trained model's) amplify: up to 5.1e-2 measured on an H200,
// bound 8e-2 (on realistically scaled models of real shapes the error stays below
// transformers' own bf16 error: scripts/hf_backend_check.py). GGUF Q8_0 is re-quantized
// at load to one INT8 scale per row (backend/cuda/weight_repack.h): bound 1.5e-1.
// Q4_1 is re-quantized to symmetric INT4 per 128 inputs, a second rounding as coarse as
// the file's own, which moves this fixture's logits by 1.0-1.2 (Q4_1 alone moves them
// 60% from F32, fixtures README): no golden bound can tell that from a broken layout, so
// there is no Q4_1 case here; weight_repack_test bounds the repacking per element and
// tests/cuda the INT4 kernel.
std::vector<GoldenCase> Cases() {
  std::vector<GoldenCase> cases;
  for (const std::string model : {"llama-gqa-tied", "qwen2-bias", "llama3-rope-scaling", "llama-hd64"}) {
    cases.push_back({"cpu", model, "model-f32.gguf", "logits", {0, 1, 2, 3, 4}, 1e-4});
    cases.push_back({"cpu", model, "", "logits", {0, 1, 2, 3, 4}, 1e-4});
    cases.push_back({"cpu", model, "model-f16.gguf", "logits_f16", {1, 4}, 1e-4});
    // llama-hd64's rows are 128-256 wide with peakier activations: the same 8-bit
    // activation rounding reaches 7% (Q8_0) and 18% (Q4_1) on single rows in numpy's
    // simulation of it (scripts/make_model_fixtures.py, stage "check").
    const bool wide = model == "llama-hd64";
    cases.push_back({"cpu", model, "model-q8_0.gguf", "logits_q8_0", {1, 4}, wide ? 1e-1 : 6e-2});
    cases.push_back({"cpu", model, "model-q4_1.gguf", "logits_q4_1", {1, 4}, wide ? 2.5e-1 : 6e-2});
  }
  cases.push_back({"cuda", "llama-hd64", "model-f32.gguf", "logits", {0, 1, 2, 3, 4}, 8e-2});
  cases.push_back({"cuda", "llama-hd64", "", "logits", {0, 1, 2, 3, 4}, 8e-2});
  cases.push_back({"cuda", "llama-hd64", "model-f16.gguf", "logits_f16", {1, 4}, 8e-2});
  cases.push_back({"cuda", "llama-hd64", "model-q8_0.gguf", "logits_q8_0", {1, 4}, 1.5e-1});
  return cases;
}

void PrintTo(const GoldenCase& c, std::ostream* os) {
  *os << c.backend << ":" << c.model << "/" << (c.file.empty() ? "hf" : c.file);
}

class BackendGoldenTest : public ::testing::TestWithParam<GoldenCase> {};

// The plugin as the server finds it: beside the server binary in the build tree.
absl::StatusOr<std::unique_ptr<Backend>> LoadPlugin(const std::string& name) {
  const char* build = std::getenv("RADIXSERVE_BUILD_DIR");
  return FindAndLoadPluginBackend(name, {std::string(build != nullptr ? build : "build") + "/service"});
}

std::unique_ptr<Backend> LoadCase(const GoldenCase& c) {
  std::unique_ptr<Backend> backend;
  if (c.backend == "cpu") {
    backend = CreateCpuBackend();
  } else {
    auto plugin = LoadPlugin(c.backend);
    if (!plugin.ok()) return nullptr;
    backend = std::move(*plugin);
  }
  BackendOptions options;
  options.num_threads = 2;
  options.num_device_blocks = 64;
  options.num_host_blocks = 16;
  // The CPU backend's default F16 KV cache is llama.cpp's numerics; the bounds here are
  // against exact math, so the CPU cases keep K/V in float32.
  if (c.backend == "cpu") options.kv_dtype = "f32";
  const std::string path = testing::FixtureDir(c.model) + (c.file.empty() ? "" : "/" + c.file);
  auto info = backend->Load(path, options);
  EXPECT_TRUE(info.ok()) << path << ": " << info.status();
  return info.ok() ? std::move(backend) : nullptr;
}

#define LOAD_OR_SKIP(backend, c)                                                                 \
  auto backend = LoadCase(c);                                                                    \
  if (backend == nullptr && c.backend != "cpu") GTEST_SKIP() << LoadPlugin(c.backend).status(); \
  ASSERT_NE(backend, nullptr)

TEST_P(BackendGoldenTest, PrefillMatchesTransformers) {
  const GoldenCase& c = GetParam();
  LOAD_OR_SKIP(backend, c);
  Golden golden(c.model);
  int32_t next_block = 0;
  for (int p : c.prompts) {
    const std::vector<int32_t> tokens = golden.Tokens(p);
    TestSequence seq;
    auto logits = Step(*backend, {&seq}, {tokens}, next_block);
    const auto want = golden.LogitsRow(c.logits + "_" + std::to_string(p), tokens.size() - 1);
    EXPECT_LT(RelativeError(logits[0], want), c.bound) << "prompt " << p;
  }
}

TEST_P(BackendGoldenTest, TokenByTokenDecodeMatchesTransformersAtEveryPosition) {
  const GoldenCase& c = GetParam();
  LOAD_OR_SKIP(backend, c);
  Golden golden(c.model);
  int32_t next_block = 0;
  const int p = c.prompts.back();  // the longest prompt crosses block boundaries
  const std::vector<int32_t> tokens = golden.Tokens(p);
  TestSequence seq;
  for (size_t i = 0; i < tokens.size(); ++i) {
    auto logits = Step(*backend, {&seq}, {{tokens[i]}}, next_block);
    const auto want = golden.LogitsRow(c.logits + "_" + std::to_string(p), i);
    ASSERT_LT(RelativeError(logits[0], want), c.bound) << "position " << i;
  }
}

// Where the plugin cannot run (no driver, no device) it must say why, and the loader must
// report it as FAILED_PRECONDITION; where it can, it loads.
TEST(CudaPluginTest, LoadsOrExplainsWhyItCannotRun) {
  auto plugin = LoadPlugin("cuda");
  if (plugin.ok()) {
    EXPECT_EQ((*plugin)->name(), "cuda");
    return;
  }
  if (plugin.status().code() == absl::StatusCode::kNotFound) GTEST_SKIP() << "built without CUDA: " << plugin.status();
  EXPECT_EQ(plugin.status().code(), absl::StatusCode::kFailedPrecondition) << plugin.status();
  const std::string message(plugin.status().message());
  EXPECT_TRUE(message.find("NVIDIA driver") != std::string::npos || message.find("CUDA device") != std::string::npos)
      << message;
}

// The CUDA KV cache is bf16 only: asking for another type is a clear InvalidArgument.
TEST(CudaPluginTest, RefusesAKvTypeItLacks) {
  auto plugin = LoadPlugin("cuda");
  if (!plugin.ok()) GTEST_SKIP() << plugin.status();
  BackendOptions options;
  options.num_device_blocks = 8;
  options.kv_dtype = "f16";
  auto info = (*plugin)->Load(testing::FixtureDir("llama-hd64") + "/model-f32.gguf", options);
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), absl::StatusCode::kInvalidArgument) << info.status();
  EXPECT_NE(info.status().message().find("bf16"), std::string::npos) << info.status();
}

INSTANTIATE_TEST_SUITE_P(Fixtures, BackendGoldenTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<GoldenCase>& info) {
                           std::string name = info.param.backend + "_" + info.param.model + "_" +
                                              (info.param.file.empty() ? "safetensors" : info.param.file);
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace radixserve::backend
