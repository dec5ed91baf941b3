// radixctl generate: one streamed generation, with a one-line summary on stderr.
#include <cstdio>
#include <string>

#include "absl/strings/str_format.h"
#include "client/json.h"
#include "client/radixctl/common.h"
#include "client/radixctl/sampling_flags.h"

namespace radixctl {
namespace {

struct GenerateFlags {
  std::string prompt;
  SamplingFlags sampling;
  std::string session;
  bool keep_session = false;
  bool add_special_tokens = false;
  int logprobs = -1;
  bool quiet = false;
};

// Decode speed: tokens after the first over the time after the first.
double TokensPerSecond(const radixserve::client::GenerateResult& r) {
  const double gen = static_cast<double>(r.usage.generated_tokens());
  const double decode_ms = r.timings.total_ms() - r.timings.time_to_first_token_ms();
  if (gen > 1 && decode_ms > 0) return (gen - 1) * 1e3 / decode_ms;
  return r.timings.total_ms() > 0 ? gen * 1e3 / r.timings.total_ms() : 0;
}

const char* FinishName(v1::FinishReason f) {
  switch (f) {
    case v1::FINISH_REASON_LENGTH: return "length";
    case v1::FINISH_REASON_EOS: return "eos";
    case v1::FINISH_REASON_STOP_STRING: return "stop string";
    case v1::FINISH_REASON_STOP_TOKEN: return "stop token";
    case v1::FINISH_REASON_CONTEXT_FULL: return "context full";
    default: return "?";
  }
}

int Run(const GenerateFlags& f, const Globals& g) {
  int rc = kExitOk;
  auto client = Connect(g, &rc);
  if (client == nullptr) return rc;
  std::string prompt = f.prompt == "-" ? ReadStdin() : f.prompt;
  v1::GenerateRequest req;
  f.sampling.Fill(req.mutable_sampling(), req.mutable_stop());
  if (f.logprobs >= 0) {
    req.mutable_sampling()->set_logprobs(true);
    req.mutable_sampling()->set_top_logprobs(f.logprobs);
  }
  if (!prompt.empty()) req.mutable_input()->set_text(prompt);
  req.mutable_input()->set_add_special_tokens(f.add_special_tokens);
  req.set_session_id(f.session);
  req.set_keep_session(f.keep_session);

  bool streamed = false;
  auto r = client->Generate(req, [&](const v1::GenerateResponse& chunk) {
    if (g.json || chunk.text().empty()) return;
    std::fwrite(chunk.text().data(), 1, chunk.text().size(), stdout);
    std::fflush(stdout);
    streamed = true;
  });
  if (!r.ok()) {
    if (streamed) std::fputc('\n', stdout);
    return Fail(r.status(), "Generate", g);
  }
  // On a session, its KV from earlier calls is reused too: count it with the cache hits.
  int64_t cached = r->usage.cached_tokens();
  if (!f.session.empty()) {
    auto s = client->GetSession(r->session_id);
    if (!s.ok()) return Fail(s.status(), "GetSession", g);
    cached = radixserve::client::ReusedTokens(s->num_tokens(), r->usage);
  }
  const double tps = TokensPerSecond(*r);
  if (g.json) {
    nlohmann::json j;
    j["text"] = r->text;
    j["finish_reason"] = v1::FinishReason_Name(r->finish_reason);
    j["session_id"] = r->session_id;
    j["usage"] = radixserve::client::ToJson(r->usage);
    j["timings"] = radixserve::client::ToJson(r->timings);
    j["reused_tokens"] = cached;
    j["tokens_per_second"] = tps;
    j["client_ttft_ms"] = r->client_ttft_ms;
    j["client_total_ms"] = r->client_total_ms;
    j["tokens"] = nlohmann::json::array();
    for (const auto& t : r->tokens) j["tokens"].push_back(radixserve::client::ToJson(t));
    PrintJson(j);
    return kExitOk;
  }
  std::fputc('\n', stdout);
  std::fflush(stdout);
  if (f.logprobs >= 0) {
    // One line per token: id, its text, logprob, then the alternatives.
    for (const auto& t : r->tokens) {
      auto text = client->Detokenize({t.id()});
      const std::string quoted = DumpJson(nlohmann::json(text.ok() ? *text : "?"), -1);
      std::string line = absl::StrFormat("%7d %-16s %9.4f", t.id(), quoted, t.logprob());
      for (const auto& alt : t.top_logprobs()) absl::StrAppendFormat(&line, "  %d:%.3f", alt.token(), alt.logprob());
      std::fprintf(stderr, "%s\n", line.c_str());
    }
  }
  if (!f.quiet) {
    std::string summary = absl::StrFormat(
        "[%d tokens | prompt %d, cached %d | TTFT %.1f ms | %.1f tok/s | %s", r->usage.generated_tokens(),
        r->usage.prompt_tokens(), cached, r->timings.time_to_first_token_ms(), tps, FinishName(r->finish_reason));
    if (!r->session_id.empty()) absl::StrAppend(&summary, " | session ", r->session_id);
    std::fprintf(stderr, "%s]\n", summary.c_str());
  }
  return kExitOk;
}

}  // namespace

void AddGenerate(CLI::App& app, Globals& g, int* rc) {
  auto f = std::make_shared<GenerateFlags>();
  CLI::App* cmd = app.add_subcommand("generate", "stream a completion of PROMPT (\"-\": read stdin)");
  cmd->add_option("prompt", f->prompt, "prompt text, or - for stdin; may be empty with --session");
  f->sampling.Register(cmd, 128);
  cmd->add_option("-s,--session", f->session, "continue this session (its KV is reused)");
  cmd->add_flag("--keep-session", f->keep_session, "keep the new session and print its id");
  cmd->add_flag("--add-special-tokens", f->add_special_tokens, "let the tokenizer add BOS (a conversation's start)");
  cmd->add_option("--logprobs", f->logprobs, "print each token's logprob and N alternatives (0..20) on stderr")
      ->check(CLI::Range(0, 20));
  cmd->add_flag("-q,--quiet", f->quiet, "no summary line on stderr");
  cmd->callback([f, &g, rc] {
    if (f->prompt.empty() && f->session.empty()) {
      *rc = UsageError("generate needs a PROMPT (or --session to continue one)");
      return;
    }
    *rc = Run(*f, g);
  });
}

}  // namespace radixctl
