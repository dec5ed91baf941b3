// Equivalences the engine relies on, with the real KV bookkeeping (cache/) deciding the
// blocks and the CPU backend computing: each way of arriving at the same tokens gives
// the same logits as a cold one-shot prefill.
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend_test_util.h"
#include "cache/kv_cache_manager.h"
#include "gtest/gtest.h"

namespace radixserve::backend {
namespace {

using testing::Golden;
using testing::RelativeError;

constexpr double kSameMath = 1e-5;  // same float ops up to summation order

// Params are "<model dir>/<file>", with "@f32kv" for a float32 KV cache (else the
// default F16 one).
//  * float weights, F32 KV: the same float ops up to summation order (kSameMath);
//  * float weights, F16 KV: llama.cpp's attention sums a single query token's dots in
//    another lane order than several tokens' (f16_kv_attention.h), and a 1e-7 difference
//    can round a probability to the other fp16 neighbour (2^-11 of it): 1e-3;
//  * quantized weights: a 1e-7 difference (attention, or the float tiles of another
//    batch shape) can move an activation across a rounding boundary of the next layer's
//    8-bit quantization (one step is ~0.8% of a block's max), which these tiny random
//    models amplify to ~1e-2 (llama.cpp behaves the same way across batch sizes).
// A broken chunking gives O(1) errors.
double ChunkingBound(const std::string& param) {
  if (param.find("model-f32") == std::string::npos) return 3e-2;
  return param.find("@f32kv") != std::string::npos ? kSameMath : 1e-3;
}

// A backend plus the cache manager that tells it where every token goes.
class Engine {
 public:
  explicit Engine(const std::string& model, int32_t device_blocks = 32, int32_t host_blocks = 16) {
    const size_t slash = model.find('/'), at = model.find('@');
    backend_ = CreateCpuBackend();
    BackendOptions options;
    options.num_threads = 2;
    options.num_device_blocks = device_blocks;
    options.num_host_blocks = host_blocks;
    if (at != std::string::npos && model.substr(at) == "@f32kv") options.kv_dtype = "f32";
    auto info = backend_->Load(
        testing::FixtureDir(model.substr(0, slash)) + model.substr(slash, at == std::string::npos ? at : at - slash),
        options);
    EXPECT_TRUE(info.ok()) << info.status();
    cache::KvCacheOptions cache_options;
    cache_options.num_device_blocks = device_blocks;
    cache_options.num_host_blocks = host_blocks;
    auto manager = cache::KvCacheManager::Create(cache_options);
    EXPECT_TRUE(manager.ok()) << manager.status();
    manager_ = std::move(*manager);
  }

  std::string NewSession() { return *manager_->CreateSession(); }

  // Appends `tokens` (in one step) and returns the last token's logits.
  std::vector<float> Append(const std::string& id, const std::vector<int32_t>& tokens) {
    auto plan = manager_->Append(id, tokens);
    EXPECT_TRUE(plan.ok()) << plan.status();
    last_cached_ = plan->cached_tokens;
    std::vector<BlockCopy> copies;
    for (const cache::CopyOp& c : plan->copies) copies.push_back({c.src, c.dst});
    EXPECT_TRUE(backend_->CopyBlocks(copies).ok());
    auto all = manager_->Tokens(id);
    auto table = manager_->BlockTable(id);
    std::vector<int32_t> todo(all->begin() + plan->first_position, all->end());
    std::vector<int32_t> blocks(table->begin(), table->end());
    SequenceStep step;
    step.tokens = todo;
    step.start_position = static_cast<int32_t>(plan->first_position);
    step.block_table = blocks;
    step.return_logits = true;
    StepBatch batch;
    batch.sequences.push_back(step);
    auto result = backend_->Forward(batch);
    EXPECT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(manager_->Commit(id, static_cast<int64_t>(todo.size())).ok());
    EXPECT_TRUE(manager_->CheckInvariants().ok());
    return result.ok() ? result->sequences[0].logits : std::vector<float>{};
  }

  std::vector<float> AppendInChunks(const std::string& id, const std::vector<int32_t>& tokens, size_t chunk) {
    std::vector<float> logits;
    for (size_t i = 0; i < tokens.size(); i += chunk) {
      logits = Append(id, {tokens.begin() + i, tokens.begin() + std::min(tokens.size(), i + chunk)});
    }
    return logits;
  }

  Backend& backend() { return *backend_; }
  cache::KvCacheManager& manager() { return *manager_; }
  int64_t last_cached() const { return last_cached_; }

 private:
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<cache::KvCacheManager> manager_;
  int64_t last_cached_ = 0;
};

std::vector<int32_t> Prefix(const std::vector<int32_t>& v, size_t n) { return {v.begin(), v.begin() + n}; }

std::vector<float> Cold(const std::string& model, const std::vector<int32_t>& tokens) {
  Engine engine(model);
  return engine.Append(engine.NewSession(), tokens);
}

class EquivalenceTest : public ::testing::TestWithParam<std::string> {
 protected:
  // 40 tokens of the model's golden prompts.
  std::vector<int32_t> Prompt() { return Golden(GetParam().substr(0, GetParam().find('/'))).Tokens(4); }
};

TEST_P(EquivalenceTest, ChunkedPrefillEqualsOneShot) {
  const auto prompt = Prompt();
  const auto want = Cold(GetParam(), prompt);
  for (size_t chunk : {1, 5, 16, 17}) {
    Engine engine(GetParam());
    EXPECT_LT(RelativeError(engine.AppendInChunks(engine.NewSession(), prompt, chunk), want),
              ChunkingBound(GetParam()))
        << "chunk " << chunk;
  }
}

TEST_P(EquivalenceTest, PrefillThenDecodeEqualsLongerPrefill) {
  const auto prompt = Prompt();
  Engine engine(GetParam());
  const std::string id = engine.NewSession();
  engine.Append(id, Prefix(prompt, 17));
  std::vector<float> logits;
  for (size_t i = 17; i < prompt.size(); ++i) logits = engine.Append(id, {prompt[i]});
  EXPECT_LT(RelativeError(logits, Cold(GetParam(), prompt)), ChunkingBound(GetParam()));
}

TEST_P(EquivalenceTest, PrefixFromRadixCacheEqualsColdRun) {
  const auto prompt = Prompt();
  Engine engine(GetParam());
  const std::string first = engine.NewSession();
  engine.Append(first, prompt);
  ASSERT_TRUE(engine.manager().DeleteSession(first).ok());  // its full blocks stay cached

  std::vector<int32_t> longer = prompt;
  longer.push_back(prompt[3]);
  longer.push_back(prompt[5]);
  const std::string second = engine.NewSession();
  const auto logits = engine.Append(second, longer);
  EXPECT_EQ(engine.last_cached(), 32);  // two full blocks of 16 reused, the rest computed
  EXPECT_LT(RelativeError(logits, Cold(GetParam(), longer)), ChunkingBound(GetParam()));
}

TEST_P(EquivalenceTest, ForkedSequencesContinueAsTheParentWould) {
  const auto prompt = Prompt();
  Engine engine(GetParam());
  const std::string parent = engine.NewSession();
  engine.Append(parent, Prefix(prompt, 20));  // ends inside a block: forces copy-on-write
  auto child = engine.manager().ForkSession(parent);
  ASSERT_TRUE(child.ok()) << child.status();

  // Diverge: each side writes into the shared partial block.
  const auto parent_logits = engine.Append(parent, {prompt[20], prompt[21]});
  const auto child_logits = engine.Append(*child, {prompt[30], prompt[31]});
  auto parent_tokens = Prefix(prompt, 20);
  parent_tokens.insert(parent_tokens.end(), {prompt[20], prompt[21]});
  auto child_tokens = Prefix(prompt, 20);
  child_tokens.insert(child_tokens.end(), {prompt[30], prompt[31]});
  EXPECT_LT(RelativeError(parent_logits, Cold(GetParam(), parent_tokens)), ChunkingBound(GetParam()));
  EXPECT_LT(RelativeError(child_logits, Cold(GetParam(), child_tokens)), ChunkingBound(GetParam()));
}

TEST_P(EquivalenceTest, SwapOutAndInChangesNothing) {
  const auto prompt = Prompt();
  Engine engine(GetParam(), /*device_blocks=*/8, /*host_blocks=*/8);
  const std::string id = engine.NewSession();
  engine.Append(id, Prefix(prompt, 30));
  auto out = engine.manager().Offload(id);
  ASSERT_TRUE(out.ok()) << out.status();
  std::vector<BlockCopy> pairs;
  for (const cache::SwapPair& p : *out) pairs.push_back({p.device, p.host});
  ASSERT_TRUE(engine.backend().SwapOut(pairs).ok());

  // Another session overwrites the device blocks the first one had.
  engine.manager().ClearPrefixCache();
  const std::string other = engine.NewSession();
  engine.Append(other, {prompt[39], prompt[38], prompt[37], prompt[36], prompt[35], prompt[34], prompt[33],
                        prompt[32], prompt[31], prompt[30], prompt[29], prompt[28], prompt[27], prompt[26],
                        prompt[25], prompt[24], prompt[23], prompt[22], prompt[21], prompt[20]});
  ASSERT_TRUE(engine.manager().DeleteSession(other).ok());
  engine.manager().ClearPrefixCache();

  auto in = engine.manager().Restore(id);
  ASSERT_TRUE(in.ok()) << in.status();
  pairs.clear();
  for (const cache::SwapPair& p : in->swap_in) pairs.push_back({p.host, p.device});
  ASSERT_TRUE(engine.backend().SwapIn(pairs).ok());
  const auto logits = engine.Append(id, {prompt[30], prompt[31]});
  EXPECT_LT(RelativeError(logits, Cold(GetParam(), Prefix(prompt, 32))), ChunkingBound(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Models, EquivalenceTest, // Quantized weights are included: activations are quantized per token, so every
// equivalence holds to float rounding there too.
                         ::testing::Values("llama-gqa-tied/model-f32.gguf@f32kv", "qwen2-bias/model-f32.gguf@f32kv",
                                           "llama-gqa-tied/model-f32.gguf", "qwen2-bias/model-f32.gguf",
                                           "llama-gqa-tied/model-q4_1.gguf", "qwen2-bias/model-q8_0.gguf"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

}  // namespace
}  // namespace radixserve::backend
