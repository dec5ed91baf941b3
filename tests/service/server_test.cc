// The real `radixserve` binary over gRPC: every RPC, the error codes, multi-turn chat,
// fork, offload/restore, cancel and deadline, metrics (promtool), graceful shutdown.
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "server_process.h"

namespace radixserve::service {
namespace {

using testing::ServerProcess;

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess({"--step_delay_ms=5"});
    ASSERT_TRUE(server_->ok()) << "radixserve did not start";
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->Stop(), 0);
    delete server_;
  }

  static v1::Input Tokens(std::vector<int32_t> ids) {
    v1::Input input;
    input.mutable_tokens()->mutable_ids()->Add(ids.begin(), ids.end());
    return input;
  }

  struct Streamed {
    grpc::Status status;
    std::vector<int32_t> tokens;
    std::string text;
    v1::GenerateResponse last;
  };

  // Runs Generate to the end (greedy, ignore_eos unless told).
  static Streamed Generate(v1::GenerateRequest request, grpc::ClientContext* ctx = nullptr, int cancel_after = -1) {
    grpc::ClientContext local;
    if (ctx == nullptr) ctx = &local;
    auto reader = server_->inference->Generate(ctx, request);
    Streamed out;
    v1::GenerateResponse chunk;
    while (reader->Read(&chunk)) {
      for (const auto& t : chunk.tokens()) out.tokens.push_back(t.id());
      out.text += chunk.text();
      out.last = chunk;
      if (cancel_after >= 0 && static_cast<int>(out.tokens.size()) >= cancel_after) ctx->TryCancel();
    }
    out.status = reader->Finish();
    return out;
  }

  static v1::GenerateRequest Request(std::vector<int32_t> prompt, int max_tokens, const std::string& session = "") {
    v1::GenerateRequest r;
    *r.mutable_input() = Tokens(std::move(prompt));
    r.mutable_stop()->set_max_tokens(max_tokens);
    r.mutable_stop()->set_ignore_eos(true);
    r.set_session_id(session);
    return r;
  }

  static v1::Session NewSession(std::vector<int32_t> prompt) {
    grpc::ClientContext ctx;
    v1::CreateSessionRequest req;
    *req.mutable_input() = Tokens(std::move(prompt));
    v1::Session s;
    EXPECT_TRUE(server_->cache->CreateSession(&ctx, req, &s).ok());
    return s;
  }

  static grpc::StatusCode Delete(const std::string& id) {
    grpc::ClientContext ctx;
    v1::DeleteSessionRequest req;
    req.set_session_id(id);
    v1::DeleteSessionResponse resp;
    return server_->cache->DeleteSession(&ctx, req, &resp).error_code();
  }

  // Waits until no call holds the session (a client-side cancel returns before the
  // engine ends the request at its next step).
  static v1::Session WaitIdle(const std::string& id) {
    v1::GetSessionRequest req;
    req.set_session_id(id);
    v1::Session s;
    for (int i = 0; i < 200; ++i) {
      grpc::ClientContext ctx;
      EXPECT_TRUE(server_->cache->GetSession(&ctx, req, &s).ok());
      if (s.busy_operation().empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(s.busy_operation().empty());
    return s;
  }

  static v1::CacheStats Stats() {
    grpc::ClientContext ctx;
    v1::CacheStats stats;
    EXPECT_TRUE(server_->cache->GetCacheStats(&ctx, v1::GetCacheStatsRequest(), &stats).ok());
    return stats;
  }

  static ServerProcess* server_;
};

ServerProcess* ServerTest::server_ = nullptr;

TEST_F(ServerTest, ModelInfoTokenizeDetokenize) {
  grpc::ClientContext c1;
  v1::ModelInfo info;
  ASSERT_TRUE(server_->model->GetModelInfo(&c1, v1::GetModelInfoRequest(), &info).ok());
  EXPECT_EQ(info.vocab_size(), 288);
  EXPECT_EQ(info.context_length(), 256);
  EXPECT_EQ(info.backend(), "cpu");
  EXPECT_EQ(info.kv_capacity_tokens(), 64 * 16);

  grpc::ClientContext c2;
  v1::TokenizeRequest treq;
  treq.set_text("hello world");
  v1::TokenizeResponse tresp;
  ASSERT_TRUE(server_->inference->Tokenize(&c2, treq, &tresp).ok());
  ASSERT_GT(tresp.tokens_size(), 0);
  grpc::ClientContext c3;
  v1::DetokenizeRequest dreq;
  *dreq.mutable_tokens() = tresp.tokens();
  v1::DetokenizeResponse dresp;
  ASSERT_TRUE(server_->inference->Detokenize(&c3, dreq, &dresp).ok());
  EXPECT_EQ(dresp.text(), "hello world");
}

TEST_F(ServerTest, MultiTurnChatOnASessionReusesItsKv) {
  const std::vector<int32_t> turn1 = {1, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36};
  v1::Session s = NewSession(turn1);
  EXPECT_EQ(s.num_tokens(), 18);
  EXPECT_EQ(s.num_computed(), 18);
  auto a = Generate(Request({40, 41}, 6, s.session_id()));
  ASSERT_TRUE(a.status.ok()) << a.status.error_message();
  EXPECT_EQ(a.tokens.size(), 6u);
  EXPECT_EQ(a.last.usage().prompt_tokens(), 2);  // only the new turn is computed
  EXPECT_EQ(a.last.finish_reason(), v1::FINISH_REASON_LENGTH);
  auto b = Generate(Request({42, 43}, 4, s.session_id()));
  ASSERT_TRUE(b.status.ok());
  EXPECT_EQ(b.last.usage().prompt_tokens(), 3);  // turn one's last token + the new turn

  // The same conversation sent statelessly finds its prefix in the cache.
  std::vector<int32_t> all = turn1;
  all.insert(all.end(), {40, 41});
  all.insert(all.end(), a.tokens.begin(), a.tokens.end());
  auto c = Generate(Request(all, 2));
  ASSERT_TRUE(c.status.ok());
  EXPECT_GE(c.last.usage().cached_tokens(), 16);
  EXPECT_EQ(Delete(s.session_id()), grpc::StatusCode::OK);
}

TEST_F(ServerTest, PrefillThenDecodeEqualsGenerate) {
  auto whole = Generate(Request({50, 51, 52, 53}, 5));
  ASSERT_TRUE(whole.status.ok());
  grpc::ClientContext c1;
  v1::PrefillRequest preq;
  *preq.mutable_input() = Tokens({50, 51, 52, 53});
  v1::PrefillResponse presp;
  ASSERT_TRUE(server_->inference->Prefill(&c1, preq, &presp).ok());
  EXPECT_EQ(presp.next_token().id(), whole.tokens[0]);
  grpc::ClientContext c2;
  v1::DecodeRequest dreq;
  dreq.add_session_ids(presp.session_id());
  dreq.set_num_tokens(4);
  dreq.mutable_stop()->set_ignore_eos(true);
  v1::DecodeResponse dresp;
  ASSERT_TRUE(server_->inference->Decode(&c2, dreq, &dresp).ok());
  ASSERT_EQ(dresp.results_size(), 1);
  std::vector<int32_t> joined = {presp.next_token().id()};
  for (const auto& t : dresp.results(0).tokens()) joined.push_back(t.id());
  EXPECT_EQ(joined, whole.tokens);
  EXPECT_EQ(Delete(presp.session_id()), grpc::StatusCode::OK);
}

TEST_F(ServerTest, DecodeTwoSessionsInOneCallWithLogprobs) {
  std::vector<std::string> ids;
  for (int32_t first : {110, 120}) {
    grpc::ClientContext ctx;
    v1::PrefillRequest req;
    *req.mutable_input() = Tokens({first, 5, 6});
    v1::PrefillResponse resp;
    ASSERT_TRUE(server_->inference->Prefill(&ctx, req, &resp).ok());
    ids.push_back(resp.session_id());
  }
  grpc::ClientContext ctx;
  v1::DecodeRequest req;
  for (const auto& id : ids) req.add_session_ids(id);
  req.set_num_tokens(3);
  req.mutable_stop()->set_ignore_eos(true);
  req.mutable_sampling()->set_logprobs(true);
  req.mutable_sampling()->set_top_logprobs(3);
  v1::DecodeResponse resp;
  ASSERT_TRUE(server_->inference->Decode(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.results_size(), 2);
  for (const auto& r : resp.results()) {
    ASSERT_EQ(r.tokens_size(), 3);
    EXPECT_EQ(r.usage().generated_tokens(), 3);
    for (const auto& t : r.tokens()) {
      EXPECT_LE(t.logprob(), 0.0f);
      ASSERT_EQ(t.top_logprobs_size(), 3);
      EXPECT_EQ(t.top_logprobs(0).token(), t.id());  // greedy picks the most likely
    }
  }
  for (const auto& id : ids) EXPECT_EQ(Delete(id), grpc::StatusCode::OK);
}

TEST_F(ServerTest, ForkThenDivergingContinuations) {
  v1::Session parent = NewSession({60, 61, 62, 63, 64, 65, 66, 67, 68, 69});
  grpc::ClientContext ctx;
  v1::ForkSessionRequest freq;
  freq.set_session_id(parent.session_id());
  v1::Session child;
  ASSERT_TRUE(server_->cache->ForkSession(&ctx, freq, &child).ok());
  EXPECT_EQ(child.num_tokens(), 10);
  auto same1 = Generate(Request({70}, 5, parent.session_id()));
  auto diverge = Generate(Request({71}, 5, child.session_id()));
  ASSERT_TRUE(same1.status.ok() && diverge.status.ok());
  // A fresh fork-free run of the parent's tokens + {70} matches the parent's branch.
  auto reference = Generate(Request({60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70}, 5));
  EXPECT_EQ(same1.tokens, reference.tokens);
  auto reference2 = Generate(Request({60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 71}, 5));
  EXPECT_EQ(diverge.tokens, reference2.tokens);
  EXPECT_EQ(Delete(parent.session_id()), grpc::StatusCode::OK);
  EXPECT_EQ(Delete(child.session_id()), grpc::StatusCode::OK);
}

TEST_F(ServerTest, OffloadRestoreContinuesIdentically) {
  auto reference = Generate(Request({80, 81, 82, 83, 84}, 10));
  v1::GenerateRequest first = Request({80, 81, 82, 83, 84}, 5);
  first.set_keep_session(true);
  auto a = Generate(first);
  ASSERT_TRUE(a.status.ok());
  const std::string id = a.last.session_id();
  ASSERT_FALSE(id.empty());
  {
    grpc::ClientContext ctx;
    v1::OffloadSessionRequest req;
    req.set_session_id(id);
    v1::Session s;
    ASSERT_TRUE(server_->cache->OffloadSession(&ctx, req, &s).ok());
    EXPECT_EQ(s.state(), v1::SESSION_STATE_SWAPPED);
    EXPECT_GT(s.host_blocks(), 0);
  }
  {
    grpc::ClientContext ctx;
    v1::RestoreSessionRequest req;
    req.set_session_id(id);
    v1::Session s;
    ASSERT_TRUE(server_->cache->RestoreSession(&ctx, req, &s).ok());
    EXPECT_EQ(s.state(), v1::SESSION_STATE_IDLE);
  }
  v1::GenerateRequest next = Request({}, 5, id);
  next.clear_input();
  auto b = Generate(next);
  ASSERT_TRUE(b.status.ok()) << b.status.error_message();
  std::vector<int32_t> joined = a.tokens;
  joined.insert(joined.end(), b.tokens.begin(), b.tokens.end());
  EXPECT_EQ(joined, reference.tokens);
  EXPECT_EQ(Delete(id), grpc::StatusCode::OK);
}

TEST_F(ServerTest, ErrorCodes) {
  {
    grpc::ClientContext ctx;
    v1::GetSessionRequest req;
    req.set_session_id("0123");
    v1::Session s;
    EXPECT_EQ(server_->cache->GetSession(&ctx, req, &s).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  EXPECT_EQ(Generate(Request({1, 9999}, 3)).status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Generate(Request(std::vector<int32_t>(300, 7), 3)).status.error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  v1::GenerateRequest bad_sampling = Request({1, 2}, 3);
  bad_sampling.mutable_sampling()->set_top_p(2.0f);
  EXPECT_EQ(Generate(bad_sampling).status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::Session s = NewSession({3, 4, 5});
  {
    grpc::ClientContext ctx;
    v1::RestoreSessionRequest req;
    req.set_session_id(s.session_id());
    v1::Session out;
    EXPECT_EQ(server_->cache->RestoreSession(&ctx, req, &out).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
  {
    grpc::ClientContext ctx;
    v1::TruncateSessionRequest req;
    req.set_session_id(s.session_id());
    req.set_num_tokens(10);
    v1::Session out;
    EXPECT_EQ(server_->cache->TruncateSession(&ctx, req, &out).error_code(), grpc::StatusCode::OUT_OF_RANGE);
  }
  // Busy: a long generation holds the session; a second operation is ABORTED.
  grpc::ClientContext stream_ctx;
  v1::GenerateRequest long_run = Request({6}, 200, s.session_id());
  auto reader = server_->inference->Generate(&stream_ctx, long_run);
  v1::GenerateResponse chunk;
  ASSERT_TRUE(reader->Read(&chunk));
  {
    grpc::ClientContext ctx;
    v1::TruncateSessionRequest req;
    req.set_session_id(s.session_id());
    req.set_num_tokens(1);
    v1::Session out;
    grpc::Status st = server_->cache->TruncateSession(&ctx, req, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::ABORTED);
    EXPECT_NE(st.error_message().find("busy with Generate"), std::string::npos) << st.error_message();
  }
  EXPECT_EQ(Generate(Request({7}, 2, s.session_id())).status.error_code(), grpc::StatusCode::ABORTED);
  stream_ctx.TryCancel();
  while (reader->Read(&chunk)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  WaitIdle(s.session_id());
  EXPECT_EQ(Delete(s.session_id()), grpc::StatusCode::OK);
  EXPECT_EQ(Delete(s.session_id()), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerTest, CancelAndDeadlineMidGenerationKeepTheSessionConsistent) {
  v1::Session s = NewSession({90, 91, 92});
  grpc::ClientContext ctx;
  auto cancelled = Generate(Request({93}, 200, s.session_id()), &ctx, /*cancel_after=*/3);
  EXPECT_EQ(cancelled.status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_GE(cancelled.tokens.size(), 3u);

  grpc::ClientContext late;
  late.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(60));
  auto timed_out = Generate(Request({}, 200, s.session_id()), &late);
  EXPECT_EQ(timed_out.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);

  // The session is usable again and consistent (generated tokens kept).
  const v1::Session after = WaitIdle(s.session_id());
  EXPECT_GE(after.num_tokens(), 4 + static_cast<int64_t>(cancelled.tokens.size()));
  auto again = Generate(Request({94}, 3, s.session_id()));
  EXPECT_TRUE(again.status.ok()) << again.status.error_message();

  // A unary Decode is cancelled too: the engine stops it long before 200 tokens.
  const int64_t before = WaitIdle(s.session_id()).num_tokens();
  grpc::ClientContext dctx;
  v1::DecodeRequest dreq;
  dreq.add_session_ids(s.session_id());
  dreq.set_num_tokens(200);
  dreq.mutable_stop()->set_ignore_eos(true);
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    dctx.TryCancel();
  });
  v1::DecodeResponse dresp;
  EXPECT_EQ(server_->inference->Decode(&dctx, dreq, &dresp).error_code(), grpc::StatusCode::CANCELLED);
  canceller.join();
  EXPECT_LT(WaitIdle(s.session_id()).num_tokens() - before, 150);
  EXPECT_EQ(Delete(s.session_id()), grpc::StatusCode::OK);
}

TEST_F(ServerTest, ListSessionsPagesAndNoBlocksLeakAfterDeletes) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(NewSession({static_cast<int32_t>(100 + i), 5, 6}).session_id());
  std::vector<std::string> seen;
  std::string token;
  do {
    grpc::ClientContext ctx;
    v1::ListSessionsRequest req;
    req.set_page_size(2);
    req.set_page_token(token);
    v1::ListSessionsResponse resp;
    ASSERT_TRUE(server_->cache->ListSessions(&ctx, req, &resp).ok());
    EXPECT_LE(resp.sessions_size(), 2);
    for (const auto& s : resp.sessions()) seen.push_back(s.session_id());
    token = resp.next_page_token();
  } while (!token.empty());
  EXPECT_GE(seen.size(), 5u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  {
    grpc::ClientContext ctx;
    v1::PinSessionRequest req;
    req.set_session_id(ids[0]);
    v1::Session s;
    ASSERT_TRUE(server_->cache->PinSession(&ctx, req, &s).ok());
    EXPECT_TRUE(s.pinned());
    grpc::ClientContext ctx2;
    v1::UnpinSessionRequest ureq;
    ureq.set_session_id(ids[0]);
    ASSERT_TRUE(server_->cache->UnpinSession(&ctx2, ureq, &s).ok());
    EXPECT_FALSE(s.pinned());
  }
  for (const std::string& id : ids) EXPECT_EQ(Delete(id), grpc::StatusCode::OK);
}

// Reads http://127.0.0.1:port/metrics with a plain socket.
std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return "";
  }
  const std::string req = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  (void)!write(fd, req.data(), req.size());
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  close(fd);
  const size_t body = out.find("\r\n\r\n");
  return body == std::string::npos ? "" : out.substr(body + 4);
}

TEST_F(ServerTest, MetricsScrapeAndPromtool) {
  ASSERT_TRUE(Generate(Request({5, 6, 7}, 3)).status.ok());
  const std::string text = HttpGet(server_->metrics_port(), "/metrics");
  for (const char* name : {"radixserve_requests_total", "radixserve_time_to_first_token_seconds",
                           "radixserve_kv_device_blocks", "radixserve_step_duration_seconds",
                           "radixserve_cached_tokens_total", "radixserve_queue_depth"}) {
    EXPECT_NE(text.find(name), std::string::npos) << name;
  }
  EXPECT_NE(text.find("method=\"Generate\""), std::string::npos);
  const std::string path = ::testing::TempDir() + "/radixserve_metrics.txt";
  std::ofstream(path) << text;
  if (system("command -v promtool > /dev/null") == 0) {
    EXPECT_EQ(system(("promtool check metrics < " + path).c_str()), 0);
  }
}

TEST_F(ServerTest, ZzNoBlocksLeakedAfterEverything) {
  grpc::ClientContext ctx;
  v1::ClearPrefixCacheResponse resp;
  ASSERT_TRUE(server_->cache->ClearPrefixCache(&ctx, v1::ClearPrefixCacheRequest(), &resp).ok());
  const v1::CacheStats stats = Stats();
  EXPECT_EQ(stats.num_sessions(), 0);
  EXPECT_EQ(stats.device_free_blocks(), stats.device_blocks());
  EXPECT_EQ(stats.host_free_blocks(), stats.host_blocks());
}

TEST(ServerShutdownTest, SigtermWhileStreamingExitsZero) {
  ServerProcess server({"--step_delay_ms=5", "--grace_period_s=0.2"});
  ASSERT_TRUE(server.ok());
  grpc::ClientContext ctx;
  v1::GenerateRequest req;
  req.mutable_input()->mutable_tokens()->add_ids(3);
  req.mutable_stop()->set_max_tokens(250);
  req.mutable_stop()->set_ignore_eos(true);
  auto reader = server.inference->Generate(&ctx, req);
  v1::GenerateResponse chunk;
  ASSERT_TRUE(reader->Read(&chunk));
  std::thread stopper([&] { EXPECT_EQ(server.Stop(), 0); });
  while (reader->Read(&chunk)) {
  }
  const grpc::StatusCode code = reader->Finish().error_code();
  EXPECT_TRUE(code == grpc::StatusCode::CANCELLED || code == grpc::StatusCode::UNAVAILABLE ||
              code == grpc::StatusCode::OK)
      << code;
  stopper.join();
}

}  // namespace
}  // namespace radixserve::service
