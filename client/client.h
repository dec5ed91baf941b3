// radixserve::client::Client: a small synchronous C++ client of the radixserve.v1
// services (Inference, Cache, Model) and grpc.health.v1, over the generated stubs.
//
//   auto client = radixserve::client::Client::Connect({.address = "localhost:50051"});
//   v1::GenerateRequest req;
//   req.mutable_input()->set_text("Hello");
//   auto result = (*client)->Generate(req, [](const v1::GenerateResponse& chunk) {
//     std::cout << chunk.text() << std::flush;
//   });
//
// Every call returns absl::Status(Or): the code is the gRPC status code (same numbers)
// and the message is the server's. A Client is thread-safe (one channel, shared by
// every call); each call gets the deadline ConnectOptions::timeout_s unless given one.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/channel.h"
#include "radixserve/v1/cache.grpc.pb.h"
#include "radixserve/v1/inference.grpc.pb.h"
#include "radixserve/v1/model.grpc.pb.h"

namespace radixserve::client {

namespace v1 = ::radixserve::v1;

struct ConnectOptions {
  std::string address = "localhost:50051";  // host:port
  // TLS: server certificate checked against ca_file (system roots when empty); a client
  // certificate (cert_file + key_file) for servers that require one.
  bool tls = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // Deadline of every call in seconds (streaming Generate: of the whole stream); 0 = none.
  double timeout_s = 0;
};

// The outcome of a streaming Generate, with the client's own clock.
struct GenerateResult {
  std::string text;                         // concatenated chunk texts
  std::vector<v1::GeneratedToken> tokens;   // every generated token (logprobs when asked)
  v1::FinishReason finish_reason = v1::FINISH_REASON_UNSPECIFIED;
  v1::Usage usage;                          // the server's accounting
  v1::Timings timings;                      // the server's timings
  std::string session_id;                   // the session used (empty if temporary)
  double client_ttft_ms = 0;   // from sending the request to the first chunk with a token
  double client_total_ms = 0;  // from sending the request to the end of the stream
};

enum class HealthStatus { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };
const char* HealthStatusName(HealthStatus s);

// grpc::Status -> absl::Status (same code, the server's message).
absl::Status FromGrpc(const grpc::Status& status);
// "NOT_FOUND" for absl::StatusCode::kNotFound (the gRPC spelling).
std::string StatusCodeName(absl::StatusCode code);

// Cancels the call it is passed to from another thread (e.g. on Ctrl-C). Cancel() is
// sticky: a call started later with it fails at once with CANCELLED, until Reset().
class Cancellation {
 public:
  // Returns whether a call was in flight.
  bool Cancel();
  void Reset();

 private:
  friend class Client;
  std::mutex mu_;
  grpc::ClientContext* ctx_ = nullptr;
  bool cancelled_ = false;
};

// Runs `call` again while it returns ABORTED (its session still busy, e.g. with a call
// just cancelled, which the server ends between engine steps), for up to timeout_s.
absl::Status RetryWhileBusy(const std::function<absl::Status()>& call, double timeout_s = 5);

// Tokens of a session's context whose KV a call did not compute (the session's KV from
// earlier calls plus prefix-cache hits), from the session's size after the call.
inline int64_t ReusedTokens(int64_t session_tokens_after, const v1::Usage& usage) {
  return session_tokens_after - usage.generated_tokens() - (usage.prompt_tokens() - usage.cached_tokens());
}

class Client {
 public:
  // Builds the channel (reads the TLS files); does not wait for the server: a server
  // that is not there shows as UNAVAILABLE on the first call.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const ConnectOptions& options);
  ~Client();

  // Streams one generation; on_chunk (optional) sees every chunk as it arrives. An
  // error mid-stream returns that error (the tokens so far are lost to the caller; they
  // stay in a kept session).
  // cancel (optional): Cancel() from another thread ends the call with CANCELLED.
  absl::StatusOr<GenerateResult> Generate(const v1::GenerateRequest& request,
                                          const std::function<void(const v1::GenerateResponse&)>& on_chunk = {},
                                          Cancellation* cancel = nullptr);
  absl::StatusOr<v1::PrefillResponse> Prefill(const v1::PrefillRequest& request);
  absl::StatusOr<v1::DecodeResponse> Decode(const v1::DecodeRequest& request);
  absl::StatusOr<std::vector<int32_t>> Tokenize(const std::string& text, bool add_special_tokens = false);
  absl::StatusOr<std::string> Detokenize(const std::vector<int32_t>& tokens, bool skip_special_tokens = false);

  absl::StatusOr<v1::ModelInfo> GetModelInfo();
  // grpc.health.v1 Check; service "" = the whole server.
  absl::StatusOr<HealthStatus> Health(const std::string& service = "");

  absl::StatusOr<v1::Session> CreateSession(const v1::CreateSessionRequest& request);
  absl::StatusOr<v1::Session> GetSession(const std::string& session_id);
  // Every page, in id order.
  absl::StatusOr<std::vector<v1::Session>> ListSessions();
  absl::StatusOr<v1::Session> ForkSession(const std::string& session_id);
  absl::StatusOr<v1::Session> TruncateSession(const std::string& session_id, int64_t num_tokens);
  absl::Status DeleteSession(const std::string& session_id);
  absl::StatusOr<v1::Session> PinSession(const std::string& session_id);
  absl::StatusOr<v1::Session> UnpinSession(const std::string& session_id);
  absl::StatusOr<v1::Session> OffloadSession(const std::string& session_id);
  absl::StatusOr<v1::Session> RestoreSession(const std::string& session_id);
  absl::StatusOr<v1::CacheStats> GetCacheStats(bool include_sessions = false);
  // Returns the number of blocks freed.
  absl::StatusOr<int32_t> ClearPrefixCache();

  const ConnectOptions& options() const { return options_; }

 private:
  explicit Client(ConnectOptions options) : options_(std::move(options)) {}
  void Prepare(grpc::ClientContext* ctx) const;

  ConnectOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Inference::Stub> inference_;
  std::unique_ptr<v1::Cache::Stub> cache_;
  std::unique_ptr<v1::Model::Stub> model_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

}  // namespace radixserve::client
