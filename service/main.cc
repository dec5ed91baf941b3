// radixserve: the gRPC LLM inference server.
//
//   radixserve --model models/SmolLM2-135M-Instruct.Q4_1.gguf --port 50051
//
// Prints "radixserve listening on port N" on stdout once it serves (port 0 picks a free
// port: tests read the line). SIGTERM / SIGINT shut it down gracefully: health goes
// NOT_SERVING, new calls are refused, running calls get --grace_period_s to finish, then
// are cancelled; the process exits 0.
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "backend/cpu/cpu_backend.h"
#include "backend/plugin_loader.h"
#include "model/tokenizer_loader.h"
#include "service/engine.h"
#include "service/metrics.h"
#include "service/server.h"
#include "service/tls_credentials.h"

ABSL_FLAG(std::string, model, "models/SmolLM2-135M-Instruct.Q4_1.gguf", "GGUF file or Hugging Face model directory");
ABSL_FLAG(std::string, tokenizer, "",
          "where the tokenizer is, when not with the model: a GGUF file, tokenizer.json or a directory holding it");
ABSL_FLAG(std::string, backend, "cpu", "backend: cpu (built in) or a plugin name (libradixserve_backend_<name>.so)");
ABSL_FLAG(std::string, backend_dir, "", "extra directory to search for backend plugins (before the binary's own)");
ABSL_FLAG(std::string, host, "0.0.0.0", "address to listen on");
ABSL_FLAG(int, port, 50051, "gRPC port (0: pick a free one)");
ABSL_FLAG(int, metrics_port, 9090, "Prometheus /metrics HTTP port (-1: off)");
ABSL_FLAG(int64_t, kv_blocks, 0, "device KV blocks (0: from --kv_bytes)");
ABSL_FLAG(int64_t, kv_bytes, 0, "device KV bytes when --kv_blocks is 0 (0: backend default)");
ABSL_FLAG(int64_t, host_kv_blocks, 1024, "host (swap) KV blocks for offload and preemption (0: none)");
ABSL_FLAG(int, block_size, 16, "tokens per KV block");
ABSL_FLAG(std::string, kv_dtype, "", "KV cache element type: f16, f32 or bf16 (empty: the backend's default; cpu: f16)");
ABSL_FLAG(int, threads, 0, "CPU backend threads (0: all cores)");
ABSL_FLAG(int, max_batch_tokens, 256, "token budget of one engine step (decode + prefill chunks)");
ABSL_FLAG(int, max_running, 64, "requests in the running batch at once");
ABSL_FLAG(int, context_length, 0, "tokens a session may hold (0: the model's)");
ABSL_FLAG(int, max_prompt_tokens, 0, "tokens one request may append (0: the context length)");
ABSL_FLAG(int, max_tokens_per_request, 4096, "upper bound on max_tokens");
ABSL_FLAG(int, default_max_tokens, 256, "max_tokens when a request gives none");
ABSL_FLAG(int, max_sessions, 1024, "live sessions at most");
ABSL_FLAG(int, max_message_bytes, 16 << 20, "largest gRPC message accepted or sent");
ABSL_FLAG(double, grace_period_s, 10, "seconds running calls get to finish on shutdown");
ABSL_FLAG(std::string, readiness_service, "radixserve.ready",
          "grpc.health.v1 service name that reports readiness (\"\" is liveness; empty: off)");
ABSL_FLAG(double, readiness_kv_headroom, 0.05,
          "not ready while free + evictable device KV blocks are below this fraction of the pool");
ABSL_FLAG(int64_t, readiness_max_queue_depth, -1, "not ready while more requests than this are queued (-1: off)");
ABSL_FLAG(int, readiness_interval_ms, 500, "how often readiness samples the engine");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain: serve gRPC over TLS (with --tls_key)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_ca, "", "PEM CA bundle: require client certificates signed by it (mutual TLS)");
ABSL_FLAG(std::string, log_level, "info", "info, warning or error");
ABSL_FLAG(int, step_delay_ms, 0, "testing only: sleep this long after every engine step");

namespace {

using radixserve::service::Engine;

int g_level = 0;  // 0 info, 1 warning, 2 error

void Log(int level, const std::string& line) {
  static const char* kTag[] = {"I", "W", "E"};
  if (level >= g_level) std::fprintf(stderr, "%s radixserve] %s\n", kTag[level], line.c_str());
}

absl::StatusOr<std::unique_ptr<radixserve::backend::Backend>> MakeBackend(const std::string& name,
                                                                          const char* argv0) {
  if (name == "cpu") return radixserve::backend::CreateCpuBackend();
  std::vector<std::string> dirs;
  if (!absl::GetFlag(FLAGS_backend_dir).empty()) dirs.push_back(absl::GetFlag(FLAGS_backend_dir));
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::string exe_dir = ec ? std::filesystem::path(argv0).parent_path().string() : self.parent_path().string();
  dirs.push_back(exe_dir);
  dirs.push_back(exe_dir + "/../backend/" + name);  // a build tree: build/<dir>/backend/<name>/
  return radixserve::backend::FindAndLoadPluginBackend(name, dirs);
}

int Fail(const absl::Status& status, const char* what) {
  Log(2, absl::StrCat(what, ": ", status.ToString()));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("radixserve: gRPC LLM inference server");
  absl::ParseCommandLine(argc, argv);
  const std::string level = absl::GetFlag(FLAGS_log_level);
  g_level = level == "error" ? 2 : level == "warning" ? 1 : 0;

  // Signals are taken synchronously by the main thread (sigwait); every thread started
  // from here on inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const std::string model_path = absl::GetFlag(FLAGS_model);
  const std::string tokenizer_path =
      absl::GetFlag(FLAGS_tokenizer).empty() ? model_path : absl::GetFlag(FLAGS_tokenizer);
  auto tokenizer = radixserve::model::LoadTokenizer(tokenizer_path);
  if (!tokenizer.ok()) return Fail(tokenizer.status(), "tokenizer");
  auto backend = MakeBackend(absl::GetFlag(FLAGS_backend), argv[0]);
  if (!backend.ok()) return Fail(backend.status(), "backend");
  radixserve::backend::BackendOptions bo;
  bo.num_threads = absl::GetFlag(FLAGS_threads);
  bo.block_size = absl::GetFlag(FLAGS_block_size);
  bo.num_device_blocks = absl::GetFlag(FLAGS_kv_blocks);
  bo.device_kv_bytes = absl::GetFlag(FLAGS_kv_bytes);
  bo.num_host_blocks = absl::GetFlag(FLAGS_host_kv_blocks);
  bo.kv_dtype = absl::GetFlag(FLAGS_kv_dtype);
  auto info = (*backend)->Load(model_path, bo);
  if (!info.ok()) return Fail(info.status(), "load");
  radixserve::service::EngineOptions eo;
  eo.max_batch_tokens = absl::GetFlag(FLAGS_max_batch_tokens);
  eo.max_running = absl::GetFlag(FLAGS_max_running);
  eo.context_length = absl::GetFlag(FLAGS_context_length);
  eo.max_prompt_tokens = absl::GetFlag(FLAGS_max_prompt_tokens);
  eo.max_tokens_per_request = absl::GetFlag(FLAGS_max_tokens_per_request);
  eo.default_max_tokens = absl::GetFlag(FLAGS_default_max_tokens);
  eo.max_sessions = absl::GetFlag(FLAGS_max_sessions);
  eo.step_delay = absl::Milliseconds(absl::GetFlag(FLAGS_step_delay_ms));
  const std::string backend_name((*backend)->name());
  auto engine = Engine::Create(std::move(*backend), *info, tokenizer->get(), {}, eo);
  if (!engine.ok()) return Fail(engine.status(), "engine");

  radixserve::service::Metrics metrics;
  const int metrics_port = absl::GetFlag(FLAGS_metrics_port);
  if (metrics_port >= 0) {
    absl::Status st = metrics.Serve(absl::StrCat(absl::GetFlag(FLAGS_host), ":", metrics_port));
    if (!st.ok()) return Fail(st, "metrics");
    std::printf("radixserve metrics on port %d\n", metrics.port());
    (*engine)->set_observer(&metrics);
  }
  (*engine)->Start();

  const auto& layout = (*engine)->kv_layout();
  Log(0, absl::StrFormat("model %s (%s, %s %s, %d layers, vocab %d, context %d)", info->name, model_path,
                         info->format, info->weight_type, info->config.num_layers, info->config.vocab_size,
                         (*engine)->options().context_length));
  Log(0, absl::StrFormat("backend %s; KV: %d device blocks x %d tokens = %d tokens (%.1f MiB), %d host blocks",
                         backend_name, layout.num_device_blocks, layout.block_size,
                         layout.num_device_blocks * layout.block_size,
                         static_cast<double>(layout.num_device_blocks * layout.bytes_per_block) / (1 << 20),
                         layout.num_host_blocks));

  const radixserve::service::TlsFiles tls{absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key),
                                          absl::GetFlag(FLAGS_tls_ca)};
  auto credentials = radixserve::service::MakeServerCredentials(tls);
  if (!credentials.ok()) return Fail(credentials.status(), "tls");
  auto server = radixserve::service::Server::Start(
      engine->get(), metrics_port >= 0 ? &metrics : nullptr,
      absl::StrCat(absl::GetFlag(FLAGS_host), ":", absl::GetFlag(FLAGS_port)), absl::GetFlag(FLAGS_max_message_bytes),
      *credentials);
  if (!server.ok()) return Fail(server.status(), "server");
  if (!absl::GetFlag(FLAGS_readiness_service).empty()) {
    radixserve::service::ReadinessOptions ro;
    ro.service_name = absl::GetFlag(FLAGS_readiness_service);
    ro.kv_headroom = absl::GetFlag(FLAGS_readiness_kv_headroom);
    ro.max_queue_depth = absl::GetFlag(FLAGS_readiness_max_queue_depth);
    ro.interval = absl::Milliseconds(absl::GetFlag(FLAGS_readiness_interval_ms));
    (*server)->EnableReadiness(ro);
  }
  std::printf("radixserve listening on port %d\n", (*server)->port());
  std::fflush(stdout);
  Log(0, absl::StrCat("serving (", radixserve::service::DescribeTls(tls), ") on ", absl::GetFlag(FLAGS_host), ":",
                      (*server)->port(),
                      metrics_port >= 0 ? absl::StrCat(", metrics on :", metrics.port(), "/metrics") : ""));

  int sig = 0;
  sigwait(&signals, &sig);
  Log(0, absl::StrCat("signal ", sig, ": shutting down (grace ", absl::GetFlag(FLAGS_grace_period_s), " s)"));
  (*server)->Shutdown(absl::Seconds(absl::GetFlag(FLAGS_grace_period_s)));
  (*engine)->Stop();
  Log(0, "stopped");
  return 0;
}
