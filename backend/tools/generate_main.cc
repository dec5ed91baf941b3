// radixserve-generate: runs a model in-process on a backend (no server, no KV sharing):
// tokenizes a prompt (optionally in the model's chat format), prefills it in one step,
// then decodes token by token, streaming text as it comes. The smallest end-to-end
// path through model/, backend/ and kernels/.
//
//   radixserve-generate --model models/SmolLM2-135M-Instruct.Q4_1.gguf --chat "Hello!"
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "backend/cpu/cpu_backend.h"
#include "model/incremental_decoder.h"
#include "model/tokenizer_loader.h"

namespace {

using radixserve::backend::SequenceStep;
using radixserve::backend::StepBatch;
using Clock = std::chrono::steady_clock;

// ChatML, the default model's format: one user turn and the assistant's opening.
std::string ChatMlPrompt(const std::string& system, const std::string& user) {
  std::string s;
  if (!system.empty()) s += "<|im_start|>system\n" + system + "<|im_end|>\n";
  return s + "<|im_start|>user\n" + user + "<|im_end|>\n<|im_start|>assistant\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Generate text with a model in-process (no server)"};
  std::string model_path = "models/SmolLM2-135M-Instruct.Q4_1.gguf";
  std::string prompt;
  std::string system;
  bool chat = false;
  int max_tokens = 64, threads = 0;
  radixserve::backend::SamplingOptions sampling;
  app.add_option("prompt", prompt, "the prompt text")->required();
  app.add_option("--model", model_path, "GGUF file or HF directory");
  app.add_flag("--chat", chat, "wrap the prompt as one ChatML user turn");
  app.add_option("--system", system, "system message for --chat");
  app.add_option("--max-tokens", max_tokens, "tokens to generate");
  app.add_option("--threads", threads, "CPU threads (0 = all cores)");
  app.add_option("--temperature", sampling.temperature, "0 = greedy");
  app.add_option("--top-k", sampling.top_k);
  app.add_option("--top-p", sampling.top_p);
  app.add_option("--min-p", sampling.min_p);
  app.add_option("--seed", sampling.seed);
  CLI11_PARSE(app, argc, argv);

  auto tokenizer = radixserve::model::LoadTokenizer(model_path);
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "tokenizer: %s\n", tokenizer.status().ToString().c_str());
    return 1;
  }
  auto ids = (*tokenizer)->Encode(chat ? ChatMlPrompt(system, prompt) : prompt);
  if (!ids.ok()) {
    std::fprintf(stderr, "tokenize: %s\n", ids.status().ToString().c_str());
    return 1;
  }
  auto backend = radixserve::backend::CreateCpuBackend();
  radixserve::backend::BackendOptions options;
  options.num_threads = threads;
  options.num_device_blocks = (static_cast<int64_t>(ids->size()) + max_tokens + 15) / 16 + 1;
  auto info = backend->Load(model_path, options);
  if (!info.ok()) {
    std::fprintf(stderr, "load: %s\n", info.status().ToString().c_str());
    return 1;
  }
  std::vector<int32_t> table;
  for (int64_t b = 0; b < options.num_device_blocks; ++b) table.push_back(static_cast<int32_t>(b));

  std::vector<int32_t> history = *ids;
  radixserve::model::IncrementalDecoder decoder(**tokenizer);
  const auto t0 = Clock::now();
  Clock::time_point first;
  int generated = 0;
  std::vector<int32_t> next = *ids;
  for (; generated < max_tokens; ++generated) {
    StepBatch batch;
    SequenceStep step;
    step.tokens = next;
    step.start_position = static_cast<int32_t>(history.size() - next.size());
    step.block_table = table;
    step.sample = true;
    step.sampling = sampling;
    step.sample_index = static_cast<uint64_t>(generated);
    step.penalty_history = history;
    batch.sequences.push_back(step);
    auto result = backend->Forward(batch);
    if (!result.ok()) {
      std::fprintf(stderr, "\nforward: %s\n", result.status().ToString().c_str());
      return 1;
    }
    if (generated == 0) first = Clock::now();
    const int32_t token = result->sequences[0].token;
    if ((*tokenizer)->IsEndOfGeneration(token)) break;
    auto piece = decoder.Next(token);
    if (!piece.ok()) {
      std::fprintf(stderr, "\ndetokenize: %s\n", piece.status().ToString().c_str());
      return 1;
    }
    std::fputs(piece->c_str(), stdout);
    std::fflush(stdout);
    history.push_back(token);
    next.assign(1, token);
  }
  std::fputs(decoder.Finish().c_str(), stdout);
  const auto t1 = Clock::now();
  const double ttft = std::chrono::duration<double>(first - t0).count();
  const double decode_s = std::chrono::duration<double>(t1 - first).count();
  std::fprintf(stderr, "\n[%zu prompt tokens, %d generated, first token %.0f ms, %.1f tokens/s]\n", ids->size(),
               generated, ttft * 1e3, generated > 1 ? (generated - 1) / decode_s : 0.0);
  return 0;
}
