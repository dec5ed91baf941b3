// radixserve-engine-bench: the engine in-process (no gRPC) on any backend, on the
// workloads an inference server is judged by:
//   decode1   one request: 128 tokens generated after a short prompt -> batch-1 decode
//             tokens/s and ms/step (from token timestamps after the first)
//   offline   N requests at once (--batches): --prompt-tokens random prompts, --gen-tokens
//             generated each (EOS ignored) -> generated tokens/s over the whole run
//   prefix    --prefix-requests requests at once sharing one --prefix-tokens system
//             prompt plus 32 tokens of their own, --prefix-gen generated; run twice: with
//             the radix cache (the system prompt cached by an untimed first request, as a
//             server that has seen it holds it), and with every request's system prompt
//             made distinct by its first token (the same work with nothing to reuse)
// Prints a Markdown table and, with --json, writes the same figures.
//
//   radixserve-engine-bench --backend cuda --model DIR --tokenizer tokenizer.gguf
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "backend/cpu/cpu_backend.h"
#include "backend/plugin_loader.h"
#include "model/tokenizer_loader.h"
#include "nlohmann/json.hpp"
#include "service/engine.h"

ABSL_FLAG(std::string, model, "models/SmolLM2-135M-Instruct.Q4_1.gguf", "GGUF file or HF directory");
ABSL_FLAG(std::string, tokenizer, "", "where the tokenizer is (default: the model)");
ABSL_FLAG(std::string, backend, "cpu", "cpu or a plugin name");
ABSL_FLAG(std::string, backend_dir, "", "plugin directory (default: ../service beside this binary)");
ABSL_FLAG(std::string, workloads, "decode1,offline,prefix", "which workloads to run");
ABSL_FLAG(std::string, batches, "32,64", "concurrent requests of the offline workload");
ABSL_FLAG(int, prompt_tokens, 512, "offline prompt length");
ABSL_FLAG(int, gen_tokens, 128, "offline and decode1 generated tokens");
ABSL_FLAG(int, prefix_tokens, 2048, "shared system prompt length");
ABSL_FLAG(int, prefix_requests, 64, "requests sharing it");
ABSL_FLAG(int, prefix_gen, 32, "tokens generated per shared-prefix request");
ABSL_FLAG(int, max_batch_tokens, 8192, "engine step token budget");
ABSL_FLAG(int64_t, kv_blocks, 0, "device KV blocks (0: the backend's default)");
ABSL_FLAG(int, threads, 0, "CPU backend threads");
ABSL_FLAG(std::string, json, "", "also write the figures here");

namespace radixserve::service {
namespace {

struct RunStats {
  double seconds = 0;
  int64_t generated = 0, prompt = 0, cached = 0, errors = 0;
  double mean_ttft_ms = 0;
  // Inter-token latency of request 0 (its token timestamps). With one request this is the
  // decode step time; with many, the mean includes the steps that other requests' prefill
  // chunks stretched, so the median is the typical decode step.
  double itl_mean_ms = 0, itl_p50_ms = 0;
};

// Submits every prompt at once and waits for all; records token timestamps of request 0.
RunStats Run(Engine& engine, const std::vector<std::vector<int32_t>>& prompts, int gen) {
  const size_t n = prompts.size();
  std::vector<absl::Notification> done(n);
  absl::Mutex mu;
  std::vector<absl::Time> stamps;
  RunStats stats;
  const absl::Time start = absl::Now();
  for (size_t i = 0; i < n; ++i) {
    GenerateSpec spec;
    spec.input = prompts[i];
    spec.max_tokens = gen;
    spec.ignore_eos = true;
    GenerateCallbacks cb;
    if (i == 0) {
      cb.on_token = [&](const TokenEvent&) {
        absl::MutexLock l(&mu);
        stamps.push_back(absl::Now());
      };
    }
    cb.on_done = [&, i](GenerateOutcome o) {
      {
        absl::MutexLock l(&mu);
        if (!o.status.ok()) {
          std::fprintf(stderr, "request %zu: %s\n", i, o.status.ToString().c_str());
          ++stats.errors;
        }
        stats.generated += o.generated_tokens;
        stats.prompt += o.prompt_tokens;
        stats.cached += o.cached_tokens;
        stats.mean_ttft_ms += o.ttft_ms / static_cast<double>(n);
      }
      done[i].Notify();
    };
    auto handle = engine.Submit(std::move(spec), std::move(cb));
    if (!handle.ok()) {
      std::fprintf(stderr, "submit: %s\n", handle.status().ToString().c_str());
      absl::MutexLock l(&mu);
      ++stats.errors;
      done[i].Notify();
    }
  }
  for (auto& d : done) d.WaitForNotification();
  stats.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (stamps.size() > 1) {
    std::vector<double> gaps;
    for (size_t i = 1; i < stamps.size(); ++i) gaps.push_back(absl::ToDoubleMilliseconds(stamps[i] - stamps[i - 1]));
    stats.itl_mean_ms = std::accumulate(gaps.begin(), gaps.end(), 0.0) / static_cast<double>(gaps.size());
    std::nth_element(gaps.begin(), gaps.begin() + gaps.size() / 2, gaps.end());
    stats.itl_p50_ms = gaps[gaps.size() / 2];
  }
  return stats;
}

std::vector<int32_t> RandomTokens(std::mt19937& rng, int n, int32_t vocab) {
  std::uniform_int_distribution<int32_t> d(3, vocab - 1);
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (auto& t : v) t = d(rng);
  return v;
}

absl::StatusOr<std::unique_ptr<backend::Backend>> MakeBackend(const char* argv0) {
  const std::string name = absl::GetFlag(FLAGS_backend);
  if (name == "cpu") return backend::CreateCpuBackend();
  std::string dir = absl::GetFlag(FLAGS_backend_dir);
  if (dir.empty()) dir = (std::filesystem::canonical("/proc/self/exe").parent_path() / "../service").string();
  return backend::FindAndLoadPluginBackend(name, {dir});
}

int Main(const char* argv0) {
  const std::string path = absl::GetFlag(FLAGS_model);
  const std::string tok_path = absl::GetFlag(FLAGS_tokenizer).empty() ? path : absl::GetFlag(FLAGS_tokenizer);
  auto tokenizer = model::LoadTokenizer(tok_path);
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "tokenizer: %s\n", tokenizer.status().ToString().c_str());
    return 1;
  }
  auto backend = MakeBackend(argv0);
  if (!backend.ok()) {
    std::fprintf(stderr, "backend: %s\n", backend.status().ToString().c_str());
    return 1;
  }
  backend::BackendOptions bo;
  bo.num_threads = absl::GetFlag(FLAGS_threads);
  bo.num_device_blocks = absl::GetFlag(FLAGS_kv_blocks);
  bo.num_host_blocks = 0;
  const absl::Time load_start = absl::Now();
  auto info = (*backend)->Load(path, bo);
  if (!info.ok()) {
    std::fprintf(stderr, "load: %s\n", info.status().ToString().c_str());
    return 1;
  }
  const double load_s = absl::ToDoubleSeconds(absl::Now() - load_start);
  const backend::KvLayout layout = (*backend)->kv_layout();
  cache::KvCacheOptions co;
  co.block_size = layout.block_size;
  co.num_device_blocks = static_cast<int32_t>(layout.num_device_blocks);
  EngineOptions eo;
  eo.max_batch_tokens = absl::GetFlag(FLAGS_max_batch_tokens);
  eo.max_running = 256;
  eo.max_tokens_per_request = 1 << 20;
  eo.max_sessions = 1 << 16;
  auto engine = Engine::Create(std::move(*backend), *info, tokenizer->get(), co, eo);
  if (!engine.ok()) {
    std::fprintf(stderr, "engine: %s\n", engine.status().ToString().c_str());
    return 1;
  }
  (*engine)->Start();
  const int32_t vocab = static_cast<int32_t>(info->config.vocab_size);
  std::mt19937 rng(1234);
  nlohmann::json out = {{"model", path}, {"backend", absl::GetFlag(FLAGS_backend)}, {"load_s", load_s},
                        {"kv_blocks", layout.num_device_blocks}};
  std::printf("%s on %s: loaded in %.1f s, %lld KV blocks of %d tokens\n\n", path.c_str(),
              absl::GetFlag(FLAGS_backend).c_str(), load_s, static_cast<long long>(layout.num_device_blocks),
              layout.block_size);
  std::printf("| workload | requests | prompt tok | generated tok | cached tok | seconds | generated tok/s | mean TTFT ms | ITL p50 / mean ms | note |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
  int64_t errors = 0;
  auto row = [&](const std::string& name, size_t requests, const RunStats& s, const std::string& note) {
    errors += s.errors;
    std::printf("| %s | %zu | %lld | %lld | %lld | %.2f | %.1f | %.1f | %.2f / %.2f | %s |\n", name.c_str(), requests,
                static_cast<long long>(s.prompt), static_cast<long long>(s.generated),
                static_cast<long long>(s.cached), s.seconds, s.generated / s.seconds, s.mean_ttft_ms, s.itl_p50_ms,
                s.itl_mean_ms, note.c_str());
    std::fflush(stdout);
    out[name] = {{"requests", requests}, {"prompt_tokens", s.prompt}, {"generated_tokens", s.generated},
                 {"cached_tokens", s.cached}, {"seconds", s.seconds}, {"generated_tok_per_s", s.generated / s.seconds},
                 {"mean_ttft_ms", s.mean_ttft_ms}, {"itl_p50_ms", s.itl_p50_ms},
                 {"itl_mean_ms", s.itl_mean_ms}};
  };
  const int gen = absl::GetFlag(FLAGS_gen_tokens);
  Run(**engine, {RandomTokens(rng, 16, vocab)}, 8);  // warm-up: kernels, cuBLAS plans
  const std::vector<std::string> workloads = absl::StrSplit(absl::GetFlag(FLAGS_workloads), ',');
  for (const std::string& w : workloads) {
    if (w == "decode1") {
      const RunStats s = Run(**engine, {RandomTokens(rng, 32, vocab)}, gen);
      row("decode1", 1, s, absl::StrCat(absl::StrFormat("%.3f", s.itl_mean_ms), " ms/step, ",
                                        absl::StrFormat("%.1f", 1000.0 / s.itl_mean_ms), " tok/s"));
    } else if (w == "offline") {
      for (absl::string_view b : absl::StrSplit(absl::GetFlag(FLAGS_batches), ',')) {
        const int n = std::stoi(std::string(b));
        std::vector<std::vector<int32_t>> prompts;
        for (int i = 0; i < n; ++i) prompts.push_back(RandomTokens(rng, absl::GetFlag(FLAGS_prompt_tokens), vocab));
        row(absl::StrCat("offline", n), static_cast<size_t>(n), Run(**engine, prompts, gen), "");
      }
    } else if (w == "prefix") {
      const std::vector<int32_t> system = RandomTokens(rng, absl::GetFlag(FLAGS_prefix_tokens), vocab);
      const int n = absl::GetFlag(FLAGS_prefix_requests);
      RunStats with, without;
      for (int shared = 0; shared < 2; ++shared) {
        std::vector<std::vector<int32_t>> prompts;
        for (int i = 0; i < n; ++i) {
          std::vector<int32_t> p = system;
          if (shared == 0) p[0] = 3 + (i + 7919 * static_cast<int>(rng() % 1000)) % (vocab - 3);  // nothing to reuse
          const auto own = RandomTokens(rng, 32, vocab);
          p.insert(p.end(), own.begin(), own.end());
          prompts.push_back(std::move(p));
        }
        (*engine)->Post([e = engine->get()] { e->ClearPrefixCacheOnLoop(); });
        // A first request brings the system prompt (untimed), as a server that has seen
        // it before holds it; with distinct prompts there is nothing for it to leave.
        Run(**engine, {shared ? system : RandomTokens(rng, absl::GetFlag(FLAGS_prefix_tokens), vocab)}, 1);
        (shared ? with : without) = Run(**engine, prompts, absl::GetFlag(FLAGS_prefix_gen));
      }
      row("prefix_distinct", static_cast<size_t>(n), without, "no reuse possible");
      row("prefix_shared", static_cast<size_t>(n), with,
          absl::StrFormat("%.2fx faster with the radix cache", without.seconds / with.seconds));
    }
  }
  (*engine)->Stop();
  if (!absl::GetFlag(FLAGS_json).empty()) std::ofstream(absl::GetFlag(FLAGS_json)) << out.dump(1);
  if (errors > 0) std::fprintf(stderr, "%lld requests failed: the figures above are not valid\n", static_cast<long long>(errors));
  return errors > 0 ? 1 : 0;
}

}  // namespace
}  // namespace radixserve::service

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return radixserve::service::Main(argv[0]);
}
