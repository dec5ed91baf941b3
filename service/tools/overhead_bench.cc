// radixserve-overhead-bench: what the gRPC service costs over the in-process engine.
// One engine (CPU backend) is driven twice with the same greedy workload: directly
// through Engine::Submit, then through a loopback gRPC server (streaming Generate, one
// client thread per stream). Prints decode tokens/s and ms/token for 1 and N streams.
//
//   radixserve-overhead-bench --model models/SmolLM2-135M-Instruct.Q4_1.gguf
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "backend/cpu/cpu_backend.h"
#include "grpcpp/create_channel.h"
#include "model/tokenizer_loader.h"
#include "radixserve/v1/inference.grpc.pb.h"
#include "service/server.h"

ABSL_FLAG(std::string, model, "models/SmolLM2-135M-Instruct.Q4_1.gguf", "model file");
ABSL_FLAG(int, threads, 0, "CPU threads");
ABSL_FLAG(int, tokens, 64, "tokens generated per stream");
ABSL_FLAG(int, prompt, 32, "prompt tokens per stream");
ABSL_FLAG(std::vector<std::string>, streams, std::vector<std::string>({"1", "16"}), "concurrent streams");

namespace radixserve::service {
namespace {

// Distinct per (stream, salt), so no run reuses another's prefix from the cache.
std::vector<int32_t> Prompt(int i, int n, int salt) {
  std::vector<int32_t> p(static_cast<size_t>(n));
  for (int k = 0; k < n; ++k) p[static_cast<size_t>(k)] = 100 + (salt * 7919 + i * 131 + k * 17) % 5000;
  return p;
}

// Seconds for `streams` concurrent greedy generations, in-process.
double InProcess(Engine& engine, int streams, int tokens, int prompt, int salt) {
  std::vector<absl::Notification> done(static_cast<size_t>(streams));
  const absl::Time start = absl::Now();
  for (int i = 0; i < streams; ++i) {
    GenerateSpec spec;
    spec.input = Prompt(i, prompt, salt);
    spec.max_tokens = tokens;
    spec.ignore_eos = true;
    GenerateCallbacks cb;
    cb.on_done = [&done, i](GenerateOutcome) { done[static_cast<size_t>(i)].Notify(); };
    (void)engine.Submit(std::move(spec), std::move(cb));
  }
  for (auto& d : done) d.WaitForNotification();
  return absl::ToDoubleSeconds(absl::Now() - start);
}

double OverGrpc(v1::Inference::Stub& stub, int streams, int tokens, int prompt, int salt) {
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int i = 0; i < streams; ++i) {
    threads.emplace_back([&, i] {
      grpc::ClientContext ctx;
      v1::GenerateRequest req;
      const auto p = Prompt(i, prompt, salt);
      req.mutable_input()->mutable_tokens()->mutable_ids()->Add(p.begin(), p.end());
      req.mutable_stop()->set_max_tokens(tokens);
      req.mutable_stop()->set_ignore_eos(true);
      auto reader = stub.Generate(&ctx, req);
      v1::GenerateResponse chunk;
      while (reader->Read(&chunk)) {
      }
      (void)reader->Finish();
    });
  }
  for (auto& t : threads) t.join();
  return absl::ToDoubleSeconds(absl::Now() - start);
}

int Main() {
  const std::string path = absl::GetFlag(FLAGS_model);
  auto tokenizer = model::LoadTokenizer(path);
  auto backend = backend::CreateCpuBackend();
  backend::BackendOptions bo;
  bo.num_threads = absl::GetFlag(FLAGS_threads);
  auto info = backend->Load(path, bo);
  if (!tokenizer.ok() || !info.ok()) {
    std::fprintf(stderr, "load failed\n");
    return 1;
  }
  auto engine = Engine::Create(std::move(backend), *info, tokenizer->get(), {}, {});
  if (!engine.ok()) return 1;
  (*engine)->Start();
  auto server = Server::Start(engine->get(), nullptr, "127.0.0.1:0", 16 << 20);
  if (!server.ok()) return 1;
  auto stub = v1::Inference::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->port()), grpc::InsecureChannelCredentials()));
  const int tokens = absl::GetFlag(FLAGS_tokens), prompt = absl::GetFlag(FLAGS_prompt);
  int salt = 0;
  InProcess(**engine, 1, 8, prompt, ++salt);  // warm up
  OverGrpc(*stub, 1, 8, prompt, ++salt);
  std::printf("| streams | in-process tok/s | gRPC tok/s | in-process ms/tok/stream | gRPC ms/tok/stream | overhead |\n");
  std::printf("|---|---|---|---|---|---|\n");
  for (const std::string& s : absl::GetFlag(FLAGS_streams)) {
    const int n = std::stoi(s);
    const double a = InProcess(**engine, n, tokens, prompt, ++salt);
    const double b = OverGrpc(*stub, n, tokens, prompt, ++salt);
    const double total = static_cast<double>(n) * tokens;
    std::printf("| %d | %.1f | %.1f | %.2f | %.2f | %+.1f%% |\n", n, total / a, total / b, a * 1e3 / tokens,
                b * 1e3 / tokens, (b / a - 1) * 100);
  }
  (*server)->Shutdown(absl::ZeroDuration());
  (*engine)->Stop();
  return 0;
}

}  // namespace
}  // namespace radixserve::service

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return radixserve::service::Main();
}
