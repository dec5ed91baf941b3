// End-to-end CPU backend throughput, as llama-bench measures it: prompt processing
// (tokens/s for a P-token prompt in one step) and generation (tokens/s over G decode
// steps) for B sequences at once, on random token ids. Prints a table and, with --json,
// writes the rows to a file.
//
//   bench_cpu_model --model models/SmolLM2-135M-Instruct.Q4_1.gguf --threads 2
//       --prompt 512 --gen 128 --batches 1,4,16 [--reps 3] [--json out.json]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "backend/cpu/cpu_backend.h"
#include "nlohmann/json.hpp"

namespace {

using radixserve::backend::Backend;
using radixserve::backend::SequenceStep;
using radixserve::backend::StepBatch;
using Clock = std::chrono::steady_clock;

struct Row {
  int batch;
  double pp_tps;  // prompt tokens per second (all sequences)
  double tg_tps;  // generated tokens per second (all sequences)
};

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// One run: prefill `batch` prompts of `prompt` tokens in one step, then `gen` decode steps.
Row RunOnce(Backend& backend, int batch, int prompt, int gen, int vocab, uint32_t seed) {
  const int32_t bs = backend.kv_layout().block_size;
  const int blocks_per_seq = (prompt + gen + bs - 1) / bs;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> token(0, vocab - 1);
  std::vector<std::vector<int32_t>> prompts(batch), tables(batch);
  std::vector<std::vector<int32_t>> next(batch, std::vector<int32_t>(1));
  for (int s = 0; s < batch; ++s) {
    for (int i = 0; i < prompt; ++i) prompts[s].push_back(token(rng));
    for (int b = 0; b < blocks_per_seq; ++b) tables[s].push_back(s * blocks_per_seq + b);
  }
  StepBatch pp;
  for (int s = 0; s < batch; ++s) {
    SequenceStep step;
    step.tokens = prompts[s];
    step.block_table = tables[s];
    step.sample = true;
    pp.sequences.push_back(step);
  }
  auto t0 = Clock::now();
  auto r = backend.Forward(pp);
  auto t1 = Clock::now();
  if (!r.ok()) {
    std::fprintf(stderr, "prefill failed: %s\n", r.status().ToString().c_str());
    std::exit(1);
  }
  for (int s = 0; s < batch; ++s) next[s][0] = r->sequences[s].token;
  auto t2 = Clock::now();
  for (int g = 0; g < gen; ++g) {
    StepBatch tg;
    for (int s = 0; s < batch; ++s) {
      SequenceStep step;
      step.tokens = next[s];
      step.start_position = prompt + g;
      step.block_table = tables[s];
      step.sample = true;
      tg.sequences.push_back(step);
    }
    auto out = backend.Forward(tg);
    if (!out.ok()) {
      std::fprintf(stderr, "decode failed: %s\n", out.status().ToString().c_str());
      std::exit(1);
    }
    for (int s = 0; s < batch; ++s) next[s][0] = out->sequences[s].token;
  }
  auto t3 = Clock::now();
  return {batch, batch * prompt / Seconds(t0, t1), batch * gen / Seconds(t2, t3)};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"CPU backend prompt-processing and generation throughput"};
  std::string model = "models/SmolLM2-135M-Instruct.Q4_1.gguf";
  int threads = 0, prompt = 512, gen = 128, reps = 3;
  std::vector<int> batches = {1, 4, 16};
  std::string json_path;
  app.add_option("--model", model, "GGUF file or HF directory");
  app.add_option("--threads", threads, "CPU threads (0 = all cores)");
  app.add_option("--prompt", prompt, "prompt tokens per sequence");
  app.add_option("--gen", gen, "generated tokens per sequence");
  app.add_option("--batches", batches, "batch sizes")->delimiter(',');
  app.add_option("--reps", reps, "repetitions; the best is reported");
  app.add_option("--json", json_path, "also write the rows as JSON to this file");
  CLI11_PARSE(app, argc, argv);

  const int max_batch = *std::max_element(batches.begin(), batches.end());
  auto backend = radixserve::backend::CreateCpuBackend();
  radixserve::backend::BackendOptions options;
  options.num_threads = threads;
  options.num_device_blocks = max_batch * ((prompt + gen + 15) / 16);
  auto info = backend->Load(model, options);
  if (!info.ok()) {
    std::fprintf(stderr, "%s\n", info.status().ToString().c_str());
    return 1;
  }
  const int vocab = static_cast<int>(info->config.vocab_size);
  RunOnce(*backend, 1, 16, 4, vocab, 0);  // warm-up: page in the weights

  std::vector<Row> rows;
  std::printf("model: %s (%s, %s), threads: %d\n", info->name.c_str(), info->format.c_str(),
              info->weight_type.c_str(), threads);
  std::printf("| batch | pp%d tok/s | tg%d tok/s |\n|---:|---:|---:|\n", prompt, gen);
  for (int b : batches) {
    Row best{b, 0, 0};
    for (int i = 0; i < reps; ++i) {
      Row r = RunOnce(*backend, b, prompt, gen, vocab, 1234 + i);
      best.pp_tps = std::max(best.pp_tps, r.pp_tps);
      best.tg_tps = std::max(best.tg_tps, r.tg_tps);
    }
    std::printf("| %d | %.1f | %.1f |\n", b, best.pp_tps, best.tg_tps);
    std::fflush(stdout);
    rows.push_back(best);
  }
  if (!json_path.empty()) {
    nlohmann::json j;
    j["model"] = model;
    j["weight_type"] = info->weight_type;
    j["threads"] = threads;
    j["prompt"] = prompt;
    j["gen"] = gen;
    for (const Row& r : rows) j["rows"].push_back({{"batch", r.batch}, {"pp_tps", r.pp_tps}, {"tg_tps", r.tg_tps}});
    std::ofstream(json_path) << j.dump(2) << "\n";
  }
  return 0;
}
