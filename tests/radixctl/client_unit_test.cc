// The client library's pure parts: chat template pieces against the models' own
// templates, proto -> JSON, reused-token accounting, bench's distributions and
// percentiles.
#include <random>
#include <string>

#include "client/chat_template.h"
#include "client/client.h"
#include "client/json.h"
#include "client/radixctl/bench_stats.h"
#include "gtest/gtest.h"
#include "radixserve/v1/cache.pb.h"
#include "radixserve/v1/common.pb.h"

namespace radixserve::client {
namespace {

TEST(ChatTemplate, ChatMLTurnsConcatenateToSmolLM2sTemplate) {
  // SmolLM2's GGUF tokenizer.chat_template renders each message as
  // "<|im_start|>ROLE\nCONTENT<|im_end|>\n", then "<|im_start|>assistant\n". The model
  // ends its reply with <|im_end|> (EOS), which stays in the session.
  ChatTemplate t{ChatStyle::kChatML};
  const std::string conversation = t.FirstTurn("SYS", "Hi") + "Hello!" + "<|im_end|>" + t.NextTurn("Bye", true);
  EXPECT_EQ(conversation,
            "<|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!"
            "<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n");
  // A reply cut by max_tokens gets its end marker from the next turn.
  EXPECT_EQ(t.NextTurn("Bye", false), "<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(t.FirstTurn("", "Hi"), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_FALSE(t.first_turn_adds_bos());
}

TEST(ChatTemplate, Llama3) {
  ChatTemplate t{ChatStyle::kLlama3};
  EXPECT_TRUE(t.first_turn_adds_bos());  // <|begin_of_text|>
  const std::string conversation = t.FirstTurn("SYS", "Hi") + "Hello!" + "<|eot_id|>" + t.NextTurn("Bye", true);
  EXPECT_EQ(conversation,
            "<|start_header_id|>system<|end_header_id|>\n\nSYS<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, Llama2) {
  ChatTemplate t{ChatStyle::kLlama2};
  EXPECT_EQ(t.FirstTurn("SYS", "Hi"), "[INST] <<SYS>>\nSYS\n<</SYS>>\n\nHi [/INST]");
  EXPECT_EQ(t.FirstTurn("", "Hi"), "[INST] Hi [/INST]");
  EXPECT_EQ(t.NextTurn("Bye", true), "<s>[INST] Bye [/INST]");
  EXPECT_EQ(t.NextTurn("Bye", false), " </s><s>[INST] Bye [/INST]");
}

TEST(ChatTemplate, ParseNames) {
  for (ChatStyle s : {ChatStyle::kChatML, ChatStyle::kLlama3, ChatStyle::kLlama2}) {
    auto back = ParseChatStyle(ChatStyleName(s));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(ParseChatStyle("vicuna").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Json, EveryFieldWithNumbersAndEnumNames) {
  v1::Session s;
  s.set_session_id("abc");
  s.set_state(v1::SESSION_STATE_SWAPPED);
  s.set_num_tokens(int64_t{1} << 40);
  nlohmann::json j = ToJson(s);
  EXPECT_EQ(j["session_id"], "abc");
  EXPECT_EQ(j["state"], "SESSION_STATE_SWAPPED");
  EXPECT_EQ(j["num_tokens"].get<int64_t>(), int64_t{1} << 40);  // a number, not proto3 JSON's string
  EXPECT_EQ(j["pinned"], false);                                // zero values are present
  EXPECT_EQ(j["busy_operation"], "");

  v1::GeneratedToken t;
  t.set_id(7);
  t.add_top_logprobs()->set_token(7);
  EXPECT_EQ(ToJson(t)["top_logprobs"][0]["token"], 7);
  EXPECT_TRUE(ToJson(v1::GeneratedToken())["top_logprobs"].is_array());

  v1::Input in;
  in.set_text("hi");
  nlohmann::json ij = ToJson(in);
  EXPECT_EQ(ij["text"], "hi");
  EXPECT_FALSE(ij.contains("tokens"));  // the unset member of the oneof
}

TEST(Accounting, ReusedTokens) {
  // A second chat turn: 40 tokens in the session (39 computed + the pending reply
  // token), 10 new input tokens, 8 generated. The call computes 11 (pending + input).
  v1::Usage u;
  u.set_prompt_tokens(11);
  u.set_generated_tokens(8);
  EXPECT_EQ(ReusedTokens(40 + 10 + 8, u), 39);
  // A stateless call: only prefix-cache hits are reused.
  u.set_prompt_tokens(50);
  u.set_cached_tokens(32);
  u.set_generated_tokens(4);
  EXPECT_EQ(ReusedTokens(54, u), 32);
}

TEST(StatusNames, GrpcSpelling) {
  EXPECT_EQ(StatusCodeName(absl::StatusCode::kNotFound), "NOT_FOUND");
  EXPECT_EQ(StatusCodeName(absl::StatusCode::kUnauthenticated), "UNAUTHENTICATED");
  EXPECT_EQ(FromGrpc(grpc::Status(grpc::StatusCode::ABORTED, "busy")), absl::AbortedError("busy"));
}

}  // namespace
}  // namespace radixserve::client

namespace radixctl {
namespace {

TEST(BenchStats, PercentilesInterpolateLikeNumpy) {
  std::vector<double> v;
  for (int i = 10; i >= 1; --i) v.push_back(i);
  Percentiles p = Percentiles::Of(v);
  EXPECT_DOUBLE_EQ(p.mean, 5.5);
  EXPECT_DOUBLE_EQ(p.p50, 5.5);   // numpy.percentile(range(1, 11), 50)
  EXPECT_DOUBLE_EQ(p.p90, 9.1);
  EXPECT_NEAR(p.p99, 9.91, 1e-12);
  EXPECT_EQ(p.count, 10u);
  EXPECT_EQ(Percentiles::Of({}).count, 0u);
  EXPECT_DOUBLE_EQ(Percentiles::Of({3.0}).p99, 3.0);
}

TEST(BenchStats, LengthDistributions) {
  std::mt19937_64 rng(1);
  auto fixed = LengthDist::Parse("128");
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ(fixed->Sample(rng), 128);
  auto uni = LengthDist::Parse("64:256");
  ASSERT_TRUE(uni.ok());
  auto normal = LengthDist::Parse("normal:8:20");
  ASSERT_TRUE(normal.ok());
  int lo = 1 << 30, hi = 0;
  for (int i = 0; i < 2000; ++i) {
    const int n = uni->Sample(rng);
    lo = std::min(lo, n);
    hi = std::max(hi, n);
    EXPECT_GE(normal->Sample(rng), 1);  // clamped
  }
  EXPECT_EQ(lo, 64);
  EXPECT_EQ(hi, 256);
  for (const char* bad : {"0", "10:5", "abc", "normal:1", "uniform:1:2", "-3", ""}) {
    EXPECT_FALSE(LengthDist::Parse(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace radixctl
