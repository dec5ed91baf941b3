// radixctl bench: a load generator against a running server.
//
// The workload is a list of conversations of --turns requests each (one request when
// --turns is 1); every request is a streaming Generate of random token ids (exact
// prompt lengths) with ignore_eos (exact output lengths). Closed loop: --concurrency
// workers each run one conversation at a time. Open loop (--rate R): conversations
// start at Poisson arrival times, R per second, each on its own thread.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "client/radixctl/bench_stats.h"
#include "client/radixctl/common.h"

namespace radixctl {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchFlags {
  int requests = 32;
  int concurrency = 4;
  double rate = 0;
  std::string prompt_tokens = "128";
  std::string output_tokens = "32";
  int shared_prefix = 0;
  int turns = 1;
  uint64_t seed = 1;
  float temperature = 0;
  std::string json_out;  // --json[=FILE]; "-" or empty with the flag = stdout
  bool json_flag = false;
  std::string progress = "auto";
};

struct Turn {
  std::vector<int32_t> prompt;  // the first turn of a conversation starts with the shared prefix
  int output_tokens = 1;
};

struct Conversation {
  std::vector<Turn> turns;
  double arrival_s = 0;  // open loop only
};

struct Sample {
  bool ok = false;
  bool cancelled = false;  // cut by Ctrl-C
  double ttft_ms = 0, tpot_ms = 0, e2e_ms = 0;
  int64_t prompt_tokens = 0, cached_tokens = 0, generated_tokens = 0;
  absl::Status status;
};

std::vector<Conversation> MakeWorkload(const BenchFlags& f, const LengthDist& prompt, const LengthDist& output,
                                       int vocab_size) {
  std::mt19937_64 rng(f.seed);
  // Ordinary tokens only: special tokens sit at the low ids (GPT-2 style vocabularies,
  // SmolLM2) or at the top (Llama 3).
  const int lo = std::min(256, vocab_size / 4);
  const int hi = std::max(lo + 1, static_cast<int>(static_cast<double>(vocab_size) * 0.9));
  std::uniform_int_distribution<int32_t> token(lo, hi - 1);
  std::vector<int32_t> prefix(f.shared_prefix);
  for (auto& t : prefix) t = token(rng);
  std::exponential_distribution<double> gap(f.rate > 0 ? f.rate : 1.0);
  std::vector<Conversation> convs;
  double t = 0;
  for (int left = f.requests; left > 0;) {
    Conversation c;
    for (int k = 0; k < f.turns && left > 0; ++k, --left) {
      Turn turn;
      if (k == 0) turn.prompt = prefix;
      const int n = prompt.Sample(rng);
      for (int i = 0; i < n; ++i) turn.prompt.push_back(token(rng));
      turn.output_tokens = output.Sample(rng);
      c.turns.push_back(std::move(turn));
    }
    c.arrival_s = t;
    t += gap(rng);
    convs.push_back(std::move(c));
  }
  return convs;
}

class Runner {
 public:
  Runner(Client* client, const BenchFlags& f, std::vector<Conversation> convs)
      : client_(client), f_(f), convs_(std::move(convs)) {
    for (const auto& c : convs_) total_ += static_cast<int>(c.turns.size());
  }

  void Run(bool progress) {
    start_ = Clock::now();
    std::thread bar;
    if (progress) bar = std::thread([this] { DrawProgress(); });
    std::vector<std::thread> threads;
    std::atomic<size_t> next{0};  // closed loop: the next conversation to run
    if (f_.rate > 0) {
      for (size_t i = 0; i < convs_.size(); ++i) {
        threads.emplace_back([this, i] {
          const auto at = start_ + std::chrono::microseconds(static_cast<int64_t>(convs_[i].arrival_s * 1e6));
          {
            std::unique_lock<std::mutex> l(mu_);
            if (cv_.wait_until(l, at, [this] { return stop_.load(); })) return;
          }
          RunConversation(convs_[i]);
        });
      }
    } else {
      for (int w = 0; w < f_.concurrency; ++w) {
        threads.emplace_back([this, &next] {
          for (size_t i; !stop_ && (i = next.fetch_add(1)) < convs_.size();) RunConversation(convs_[i]);
        });
      }
    }
    for (auto& t : threads) t.join();
    duration_s_ = std::chrono::duration<double>(Clock::now() - start_).count();
    {
      std::lock_guard<std::mutex> l(mu_);
      finished_ = true;
    }
    cv_.notify_all();
    if (bar.joinable()) bar.join();
  }

  // Ctrl-C: cancels the requests in flight and starts no more (any thread).
  void Stop() {
    stop_ = true;
    {
      std::lock_guard<std::mutex> l(inflight_mu_);
      for (auto* c : inflight_) c->Cancel();
    }
    std::lock_guard<std::mutex> l(mu_);
    cv_.notify_all();
  }
  bool stopped() const { return stop_; }

  const std::vector<Sample>& samples() const { return samples_; }
  double duration_s() const { return duration_s_; }

 private:
  void RunConversation(const Conversation& c) {
    std::string session;
    if (c.turns.size() > 1) {  // an explicit session: its id is known even if a turn fails
      auto s = client_->CreateSession(v1::CreateSessionRequest());
      if (!s.ok()) {
        Sample failed;
        failed.status = s.status();
        Record(failed);
        return;
      }
      session = s->session_id();
    }
    radixserve::client::Cancellation cancel;
    {
      std::lock_guard<std::mutex> l(inflight_mu_);
      inflight_.insert(&cancel);
      if (stop_) cancel.Cancel();
    }
    for (size_t k = 0; k < c.turns.size() && !stop_; ++k) {
      const Turn& t = c.turns[k];
      v1::GenerateRequest req;
      req.set_session_id(session);
      req.mutable_input()->mutable_tokens()->mutable_ids()->Add(t.prompt.begin(), t.prompt.end());
      req.mutable_sampling()->set_temperature(f_.temperature);
      req.mutable_sampling()->set_seed(f_.seed + k);
      req.mutable_stop()->set_max_tokens(t.output_tokens);
      req.mutable_stop()->set_ignore_eos(true);
      auto r = client_->Generate(req, {}, &cancel);
      Sample s;
      if (r.ok()) {
        s.ok = true;
        s.ttft_ms = r->client_ttft_ms;
        s.e2e_ms = r->client_total_ms;
        s.prompt_tokens = r->usage.prompt_tokens();
        s.cached_tokens = r->usage.cached_tokens();
        s.generated_tokens = r->usage.generated_tokens();
        if (s.generated_tokens > 1) s.tpot_ms = (s.e2e_ms - s.ttft_ms) / static_cast<double>(s.generated_tokens - 1);
        session = r->session_id;
      } else {
        s.status = r.status();
        s.cancelled = stop_ && r.status().code() == absl::StatusCode::kCancelled;
      }
      Record(s);
      if (!r.ok()) break;  // the rest of the conversation is not run
    }
    {
      std::lock_guard<std::mutex> l(inflight_mu_);
      inflight_.erase(&cancel);
    }
    if (!session.empty()) {
      (void)radixserve::client::RetryWhileBusy([&] { return client_->DeleteSession(session); });
    }
  }

  void Record(const Sample& s) {
    std::lock_guard<std::mutex> l(mu_);
    samples_.push_back(s);
    generated_ += s.generated_tokens;
  }

  void DrawProgress() {
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      const bool done = finished_;
      const int n = static_cast<int>(samples_.size());
      const double el = std::chrono::duration<double>(Clock::now() - start_).count();
      const int width = 30;
      const int fill = total_ > 0 ? n * width / total_ : width;
      std::fprintf(stderr, "\r[%s%s] %d/%d requests  %.1f s  %.1f tok/s ", std::string(fill, '#').c_str(),
                   std::string(width - fill, '.').c_str(), n, total_, el,
                   el > 0 ? static_cast<double>(generated_) / el : 0.0);
      std::fflush(stderr);
      if (done) break;
      cv_.wait_for(l, std::chrono::milliseconds(200));
    }
    std::fputc('\n', stderr);
  }

  Client* client_;
  const BenchFlags& f_;
  std::vector<Conversation> convs_;
  int total_ = 0;
  Clock::time_point start_;
  double duration_s_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool finished_ = false;
  std::atomic<bool> stop_{false};
  std::mutex inflight_mu_;
  std::set<radixserve::client::Cancellation*> inflight_;
  std::vector<Sample> samples_;
  int64_t generated_ = 0;
};

// The runner Ctrl-C stops, while one runs.
std::atomic<Runner*> g_runner{nullptr};

int Run(const BenchFlags& f, const Globals& g) {
  // Ctrl-C is taken by a thread (blocked everywhere else, gRPC's threads included): the
  // first stops the run and reports what finished; a second leaves at once.
  sigset_t sigint;
  sigemptyset(&sigint);
  sigaddset(&sigint, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigint, nullptr);
  std::thread([sigint] {
    for (int n = 0;; ++n) {
      int sig = 0;
      if (sigwait(&sigint, &sig) != 0) continue;
      Runner* r = g_runner.load();
      if (r == nullptr || n > 0) std::_Exit(kExitInterrupted);
      std::fprintf(stderr, "\n[interrupted: cancelling the requests in flight; Ctrl-C again to leave now]\n");
      r->Stop();
    }
  }).detach();
  auto prompt = LengthDist::Parse(f.prompt_tokens);
  if (!prompt.ok()) return UsageError(std::string(prompt.status().message()));
  auto output = LengthDist::Parse(f.output_tokens);
  if (!output.ok()) return UsageError(std::string(output.status().message()));
  int rc = kExitOk;
  auto client = Connect(g, &rc);
  if (client == nullptr) return rc;
  auto info = client->GetModelInfo();
  if (!info.ok()) return Fail(info.status(), "GetModelInfo", g);
  auto before = client->GetCacheStats();
  if (!before.ok()) return Fail(before.status(), "GetCacheStats", g);

  Runner runner(client.get(), f, MakeWorkload(f, *prompt, *output, info->vocab_size()));
  const bool progress = f.progress == "always" || (f.progress == "auto" && isatty(STDERR_FILENO) != 0);
  g_runner = &runner;
  runner.Run(progress);
  g_runner = nullptr;  // from here Ctrl-C leaves at once
  const bool interrupted = runner.stopped();

  auto after = client->GetCacheStats();
  if (!after.ok()) return Fail(after.status(), "GetCacheStats", g);

  int ok = 0, failed = 0, cancelled = 0;
  int64_t prompt_tokens = 0, cached_tokens = 0, generated_tokens = 0;
  std::vector<double> ttft, tpot, e2e;
  absl::Status first_error;
  for (const Sample& s : runner.samples()) {
    if (s.cancelled) {
      ++cancelled;
      continue;
    }
    if (!s.ok) {
      ++failed;
      if (first_error.ok()) first_error = s.status;
      continue;
    }
    ++ok;
    prompt_tokens += s.prompt_tokens;
    cached_tokens += s.cached_tokens;
    generated_tokens += s.generated_tokens;
    ttft.push_back(s.ttft_ms);
    e2e.push_back(s.e2e_ms);
    if (s.generated_tokens > 1) tpot.push_back(s.tpot_ms);
  }
  const double dur = std::max(runner.duration_s(), 1e-9);
  const int64_t q = after->prefix_query_tokens() - before->prefix_query_tokens();
  const int64_t h = after->prefix_hit_tokens() - before->prefix_hit_tokens();
  const double hit_ratio = q > 0 ? static_cast<double>(h) / static_cast<double>(q) : 0.0;
  const auto pt = Percentiles::Of(ttft), pp = Percentiles::Of(tpot), pe = Percentiles::Of(e2e);

  nlohmann::json j;
  j["config"] = {{"address", g.addr},
                 {"requests", f.requests},
                 {"mode", f.rate > 0 ? "rate" : "concurrency"},
                 {"concurrency", f.rate > 0 ? 0 : f.concurrency},
                 {"rate", f.rate},
                 {"prompt_tokens", f.prompt_tokens},
                 {"output_tokens", f.output_tokens},
                 {"shared_prefix", f.shared_prefix},
                 {"turns", f.turns},
                 {"seed", f.seed},
                 {"temperature", f.temperature},
                 {"model", info->name()}};
  j["duration_s"] = dur;
  j["requests"] = {{"total", ok + failed}, {"ok", ok}, {"failed", failed}};
  if (interrupted) {
    j["interrupted"] = true;
    j["requests"]["cancelled"] = cancelled;
  }
  j["tokens"] = {{"prompt", prompt_tokens}, {"cached", cached_tokens}, {"generated", generated_tokens}};
  j["throughput"] = {{"requests_per_s", ok / dur},
                     {"prompt_tokens_per_s", static_cast<double>(prompt_tokens) / dur},
                     {"generated_tokens_per_s", static_cast<double>(generated_tokens) / dur}};
  j["latency_ms"] = {{"ttft", pt.ToJson()}, {"tpot", pp.ToJson()}, {"e2e", pe.ToJson()}};
  j["server"] = {{"prefix_query_tokens", q},
                 {"prefix_hit_tokens", h},
                 {"prefix_hit_ratio", hit_ratio},
                 {"preemptions", after->preemptions() - before->preemptions()}};
  if (!first_error.ok()) {
    j["first_error"] = radixserve::client::StatusCodeName(first_error.code()) + ": " +
                       std::string(first_error.message());
  }

  const bool json_to_stdout = (f.json_flag && (f.json_out.empty() || f.json_out == "-")) || g.json;
  if (f.json_flag && !f.json_out.empty() && f.json_out != "-") {
    std::ofstream out(f.json_out);
    out << DumpJson(j) << "\n";
    if (!out) return UsageError("cannot write " + f.json_out);
  }
  if (json_to_stdout) {
    PrintJson(j);
  } else {
    std::printf("radixctl bench: %s, %s, prompt %s tokens, output %s tokens, shared prefix %d, turns %d\n",
                info->name().c_str(),
                f.rate > 0 ? absl::StrFormat("rate %.2f req/s", f.rate).c_str()
                           : absl::StrFormat("concurrency %d", f.concurrency).c_str(),
                f.prompt_tokens.c_str(), f.output_tokens.c_str(), f.shared_prefix, f.turns);
    std::printf("duration            %.2f s\n", dur);
    std::printf("requests            %d (ok %d, failed %d)%s\n", ok + failed, ok, failed,
                interrupted ? absl::StrFormat(", interrupted: %d cancelled", cancelled).c_str() : "");
    std::printf("prompt tokens       %lld (cached %lld)\n", static_cast<long long>(prompt_tokens),
                static_cast<long long>(cached_tokens));
    std::printf("generated tokens    %lld\n", static_cast<long long>(generated_tokens));
    std::printf("throughput          %.2f req/s | prompt %.1f tok/s | generated %.1f tok/s\n", ok / dur,
                static_cast<double>(prompt_tokens) / dur, static_cast<double>(generated_tokens) / dur);
    std::printf("\n%-18s %9s %9s %9s %9s\n", "latency (ms)", "mean", "p50", "p90", "p99");
    for (const auto& [name, p] : {std::pair<const char*, Percentiles>{"TTFT", pt}, {"TPOT", pp}, {"E2E", pe}}) {
      std::printf("%-18s %9.1f %9.1f %9.1f %9.1f\n", name, p.mean, p.p50, p.p90, p.p99);
    }
    std::printf("\nserver prefix-cache hit ratio  %.3f (%lld of %lld prefill tokens)\n", hit_ratio,
                static_cast<long long>(h), static_cast<long long>(q));
    if (!first_error.ok()) {
      std::printf("first error         %s\n", j["first_error"].get<std::string>().c_str());
    }
    std::fflush(stdout);
  }
  if (interrupted) return kExitInterrupted;
  if (failed > 0) return Fail(first_error, absl::StrFormat("%d of %d requests failed; first", failed, ok + failed), g);
  return kExitOk;
}

}  // namespace

void AddBench(CLI::App& app, Globals& g, int* rc) {
  auto f = std::make_shared<BenchFlags>();
  CLI::App* cmd = app.add_subcommand("bench", "load generator: throughput and latency percentiles");
  cmd->footer(
      "Lengths: N (fixed), MIN:MAX (uniform) or normal:MEAN:STDDEV. Prompts are random token ids; outputs\n"
      "use ignore_eos, so every request generates exactly its sampled length.\n"
      "Example: radixctl bench --requests 64 --concurrency 8 --prompt-tokens 64:256 --output-tokens 32 \\\n"
      "           --shared-prefix 512 --json results.json");
  cmd->add_option("-r,--requests", f->requests, "requests in all (each turn is one request)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("-c,--concurrency", f->concurrency, "closed loop: conversations in flight")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--rate", f->rate, "open loop: conversations per second (Poisson arrivals); 0 = closed loop")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--prompt-tokens", f->prompt_tokens, "prompt length distribution")->capture_default_str();
  cmd->add_option("--output-tokens", f->output_tokens, "output length distribution")->capture_default_str();
  cmd->add_option("--shared-prefix", f->shared_prefix,
                  "tokens of a common prefix (a long system prompt) every conversation starts with")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--turns", f->turns, "requests per conversation, on one session (multi-turn)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", f->seed, "workload and sampling seed")->capture_default_str();
  cmd->add_option("--temperature", f->temperature, "sampling temperature (0: greedy)");
  cmd->add_option("--json", f->json_out, "write the results as JSON to FILE (no FILE or -: stdout)")
      ->expected(0, 1);
  cmd->add_option("--progress", f->progress, "progress bar on stderr: auto (when a terminal), always, never")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "always", "never"}));
  cmd->callback([f, &g, rc, cmd] {
    f->json_flag = cmd->count("--json") > 0;
    *rc = Run(*f, g);
  });
}

}  // namespace radixctl
