#include "client/client.h"

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace radixserve::client {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", what, " file '", path, "'"));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

const char* HealthStatusName(HealthStatus s) {
  switch (s) {
    case HealthStatus::kServing: return "SERVING";
    case HealthStatus::kNotServing: return "NOT_SERVING";
    case HealthStatus::kServiceUnknown: return "SERVICE_UNKNOWN";
    case HealthStatus::kUnknown: break;
  }
  return "UNKNOWN";
}

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

std::string StatusCodeName(absl::StatusCode code) {
  // absl::StatusCodeToString spells them "NOT_FOUND" too, but is not in every Abseil.
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  const int i = static_cast<int>(code);
  return i >= 0 && i < 17 ? kNames[i] : absl::StrCat("CODE_", i);
}

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(const ConnectOptions& options) {
  if (options.address.empty()) return absl::InvalidArgumentError("empty server address");
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    if (!options.ca_file.empty()) {
      auto ca = ReadFile(options.ca_file, "CA certificate");
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *std::move(ca);
    }
    if (options.cert_file.empty() != options.key_file.empty()) {
      return absl::InvalidArgumentError("a client certificate needs both --cert and --key");
    }
    if (!options.cert_file.empty()) {
      auto cert = ReadFile(options.cert_file, "client certificate");
      if (!cert.ok()) return cert.status();
      auto key = ReadFile(options.key_file, "client key");
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *std::move(cert);
      ssl.pem_private_key = *std::move(key);
    }
    creds = grpc::SslCredentials(ssl);
  } else {
    if (!options.ca_file.empty() || !options.cert_file.empty() || !options.key_file.empty()) {
      return absl::InvalidArgumentError("--ca, --cert and --key need --tls");
    }
    creds = grpc::InsecureChannelCredentials();
  }
  std::unique_ptr<Client> c(new Client(options));
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  c->channel_ = grpc::CreateCustomChannel(options.address, creds, args);
  c->inference_ = v1::Inference::NewStub(c->channel_);
  c->cache_ = v1::Cache::NewStub(c->channel_);
  c->model_ = v1::Model::NewStub(c->channel_);
  c->health_ = grpc::health::v1::Health::NewStub(c->channel_);
  return c;
}

Client::~Client() = default;

void Client::Prepare(grpc::ClientContext* ctx) const {
  if (options_.timeout_s > 0) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::microseconds(static_cast<int64_t>(options_.timeout_s * 1e6)));
  }
}

absl::Status RetryWhileBusy(const std::function<absl::Status()>& call, double timeout_s) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1e3));
  for (;;) {
    absl::Status st = call();
    if (st.code() != absl::StatusCode::kAborted || std::chrono::steady_clock::now() >= until) return st;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool Cancellation::Cancel() {
  std::lock_guard<std::mutex> l(mu_);
  cancelled_ = true;
  if (ctx_ == nullptr) return false;
  ctx_->TryCancel();
  return true;
}

void Cancellation::Reset() {
  std::lock_guard<std::mutex> l(mu_);
  cancelled_ = false;
}

absl::StatusOr<GenerateResult> Client::Generate(const v1::GenerateRequest& request,
                                                const std::function<void(const v1::GenerateResponse&)>& on_chunk,
                                                Cancellation* cancel) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  if (cancel != nullptr) {
    std::lock_guard<std::mutex> l(cancel->mu_);
    if (cancel->cancelled_) return absl::CancelledError("cancelled before it started");
    cancel->ctx_ = &ctx;
  }
  struct Unregister {
    Cancellation* c;
    ~Unregister() {
      if (c == nullptr) return;
      std::lock_guard<std::mutex> l(c->mu_);
      c->ctx_ = nullptr;
    }
  } unregister{cancel};
  GenerateResult r;
  const auto t0 = std::chrono::steady_clock::now();
  auto reader = inference_->Generate(&ctx, request);
  v1::GenerateResponse chunk;
  while (reader->Read(&chunk)) {
    if (chunk.tokens_size() > 0 && r.tokens.empty()) r.client_ttft_ms = MsSince(t0);
    r.text += chunk.text();
    for (const auto& t : chunk.tokens()) r.tokens.push_back(t);
    if (chunk.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) {
      r.finish_reason = chunk.finish_reason();
      r.usage = chunk.usage();
      r.timings = chunk.timings();
      r.session_id = chunk.session_id();
    }
    if (on_chunk) on_chunk(chunk);
  }
  grpc::Status st = reader->Finish();
  r.client_total_ms = MsSince(t0);
  if (!st.ok()) return FromGrpc(st);
  return r;
}

// Unary calls: one helper per stub type keeps each method a line.
#define RS_UNARY(stub, method, request, response)              \
  do {                                                         \
    grpc::ClientContext ctx;                                   \
    Prepare(&ctx);                                             \
    grpc::Status st = (stub)->method(&ctx, (request), &(response)); \
    if (!st.ok()) return FromGrpc(st);                         \
  } while (0)

absl::StatusOr<v1::PrefillResponse> Client::Prefill(const v1::PrefillRequest& request) {
  v1::PrefillResponse resp;
  RS_UNARY(inference_, Prefill, request, resp);
  return resp;
}

absl::StatusOr<v1::DecodeResponse> Client::Decode(const v1::DecodeRequest& request) {
  v1::DecodeResponse resp;
  RS_UNARY(inference_, Decode, request, resp);
  return resp;
}

absl::StatusOr<std::vector<int32_t>> Client::Tokenize(const std::string& text, bool add_special_tokens) {
  v1::TokenizeRequest req;
  req.set_text(text);
  req.set_add_special_tokens(add_special_tokens);
  v1::TokenizeResponse resp;
  RS_UNARY(inference_, Tokenize, req, resp);
  return std::vector<int32_t>(resp.tokens().begin(), resp.tokens().end());
}

absl::StatusOr<std::string> Client::Detokenize(const std::vector<int32_t>& tokens, bool skip_special_tokens) {
  v1::DetokenizeRequest req;
  req.mutable_tokens()->Add(tokens.begin(), tokens.end());
  req.set_skip_special_tokens(skip_special_tokens);
  v1::DetokenizeResponse resp;
  RS_UNARY(inference_, Detokenize, req, resp);
  return resp.text();
}

absl::StatusOr<v1::ModelInfo> Client::GetModelInfo() {
  v1::ModelInfo resp;
  RS_UNARY(model_, GetModelInfo, v1::GetModelInfoRequest(), resp);
  return resp;
}

absl::StatusOr<HealthStatus> Client::Health(const std::string& service) {
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  grpc::health::v1::HealthCheckResponse resp;
  RS_UNARY(health_, Check, req, resp);
  return static_cast<HealthStatus>(resp.status());
}

absl::StatusOr<v1::Session> Client::CreateSession(const v1::CreateSessionRequest& request) {
  v1::Session resp;
  RS_UNARY(cache_, CreateSession, request, resp);
  return resp;
}

absl::StatusOr<v1::Session> Client::GetSession(const std::string& session_id) {
  v1::GetSessionRequest req;
  req.set_session_id(session_id);
  v1::Session resp;
  RS_UNARY(cache_, GetSession, req, resp);
  return resp;
}

absl::StatusOr<std::vector<v1::Session>> Client::ListSessions() {
  std::vector<v1::Session> all;
  v1::ListSessionsRequest req;
  req.set_page_size(1000);
  for (;;) {
    v1::ListSessionsResponse resp;
    RS_UNARY(cache_, ListSessions, req, resp);
    for (const auto& s : resp.sessions()) all.push_back(s);
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  return all;
}

absl::StatusOr<v1::Session> Client::ForkSession(const std::string& session_id) {
  v1::ForkSessionRequest req;
  req.set_session_id(session_id);
  v1::Session resp;
  RS_UNARY(cache_, ForkSession, req, resp);
  return resp;
}

absl::StatusOr<v1::Session> Client::TruncateSession(const std::string& session_id, int64_t num_tokens) {
  v1::TruncateSessionRequest req;
  req.set_session_id(session_id);
  req.set_num_tokens(num_tokens);
  v1::Session resp;
  RS_UNARY(cache_, TruncateSession, req, resp);
  return resp;
}

absl::Status Client::DeleteSession(const std::string& session_id) {
  v1::DeleteSessionRequest req;
  req.set_session_id(session_id);
  v1::DeleteSessionResponse resp;
  RS_UNARY(cache_, DeleteSession, req, resp);
  return absl::OkStatus();
}

#define RS_SESSION_CALL(Method)                                                  \
  absl::StatusOr<v1::Session> Client::Method(const std::string& session_id) {   \
    v1::Method##Request req;                                                     \
    req.set_session_id(session_id);                                              \
    v1::Session resp;                                                            \
    RS_UNARY(cache_, Method, req, resp);                                         \
    return resp;                                                                 \
  }
RS_SESSION_CALL(PinSession)
RS_SESSION_CALL(UnpinSession)
RS_SESSION_CALL(OffloadSession)
RS_SESSION_CALL(RestoreSession)
#undef RS_SESSION_CALL

absl::StatusOr<v1::CacheStats> Client::GetCacheStats(bool include_sessions) {
  v1::GetCacheStatsRequest req;
  req.set_include_sessions(include_sessions);
  v1::CacheStats resp;
  RS_UNARY(cache_, GetCacheStats, req, resp);
  return resp;
}

absl::StatusOr<int32_t> Client::ClearPrefixCache() {
  v1::ClearPrefixCacheResponse resp;
  RS_UNARY(cache_, ClearPrefixCache, v1::ClearPrefixCacheRequest(), resp);
  return resp.blocks_freed();
}

#undef RS_UNARY

}  // namespace radixserve::client
