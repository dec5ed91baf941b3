// radixctl tokenize | detokenize | model | health.
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/chat_template.h"
#include "client/json.h"
#include "client/radixctl/common.h"

namespace radixctl {
namespace {

struct InfoFlags {
  std::string text;
  bool add_special_tokens = false;
  std::vector<std::string> ids;
  bool skip_special_tokens = false;
  std::string service;
  double wait_s = 0;
};

int Tokenize(const InfoFlags& f, const Globals& g) {
  int rc = kExitOk;
  auto client = Connect(g, &rc);
  if (client == nullptr) return rc;
  const std::string text = f.text == "-" ? ReadStdin() : f.text;
  auto ids = client->Tokenize(text, f.add_special_tokens);
  if (!ids.ok()) return Fail(ids.status(), "Tokenize", g);
  if (g.json) {
    PrintJson({{"tokens", *ids}, {"count", ids->size()}});
  } else {
    std::printf("%s\n", absl::StrJoin(*ids, " ").c_str());
    std::fprintf(stderr, "[%zu tokens]\n", ids->size());
  }
  return kExitOk;
}

int Detokenize(const InfoFlags& f, const Globals& g) {
  // Ids as arguments, or on stdin (whitespace or comma separated).
  std::vector<std::string> words = f.ids;
  if (words.empty() || (words.size() == 1 && words[0] == "-")) {
    words = absl::StrSplit(ReadStdin(), absl::ByAnyChar(" ,\t\n\r"), absl::SkipEmpty());
  }
  std::vector<int32_t> ids;
  for (const std::string& w : words) {
    for (absl::string_view part : absl::StrSplit(w, ',', absl::SkipEmpty())) {
      int32_t id = 0;
      if (!absl::SimpleAtoi(part, &id)) return UsageError("not a token id: '" + std::string(part) + "'");
      ids.push_back(id);
    }
  }
  int rc = kExitOk;
  auto client = Connect(g, &rc);
  if (client == nullptr) return rc;
  auto text = client->Detokenize(ids, f.skip_special_tokens);
  if (!text.ok()) return Fail(text.status(), "Detokenize", g);
  if (g.json) {
    PrintJson({{"text", *text}});
  } else {
    std::printf("%s\n", text->c_str());
  }
  return kExitOk;
}

int Model(const Globals& g) {
  int rc = kExitOk;
  auto client = Connect(g, &rc);
  if (client == nullptr) return rc;
  auto info = client->GetModelInfo();
  if (!info.ok()) return Fail(info.status(), "GetModelInfo", g);
  auto style = radixserve::client::DetectChatStyle(*client);
  if (!style.ok()) return Fail(style.status(), "Tokenize", g);
  nlohmann::json j = radixserve::client::ToJson(*info);
  j["chat_template"] = radixserve::client::ChatStyleName(*style);
  if (g.json) {
    PrintJson(j);
    return kExitOk;
  }
  const auto& m = *info;
  std::printf("model           %s\n", m.name().c_str());
  std::printf("architecture    %s (%s, %s)\n", m.architecture().c_str(), m.format().c_str(), m.weight_type().c_str());
  std::printf("parameters      %.1f M\n", static_cast<double>(m.num_parameters()) / 1e6);
  std::printf("layers          %d, hidden %d, heads %d (kv %d), head dim %d\n", m.num_layers(), m.hidden_size(),
              m.num_heads(), m.num_kv_heads(), m.head_dim());
  std::printf("vocabulary      %d tokens, bos %d, eos %s\n", m.vocab_size(), m.bos_token_id(),
              absl::StrJoin(m.eos_token_ids(), ",").c_str());
  std::printf("context         %d tokens\n", m.context_length());
  std::printf("chat template   %s\n", radixserve::client::ChatStyleName(*style));
  std::printf("backend         %s\n", m.backend().c_str());
  std::printf("kv cache        %lld device blocks x %d tokens = %lld tokens, %lld host blocks\n",
              static_cast<long long>(m.kv_device_blocks()), m.block_size(),
              static_cast<long long>(m.kv_capacity_tokens()), static_cast<long long>(m.kv_host_blocks()));
  std::printf("limits          prompt %d tokens, max_tokens %d, %d sessions\n", m.max_prompt_tokens(),
              m.max_tokens_per_request(), m.max_sessions());
  return kExitOk;
}

int Health(const InfoFlags& f, const Globals& g) {
  int rc = kExitOk;
  auto client = Connect(g, &rc);
  if (client == nullptr) return rc;
  // --wait: poll until SERVING (servers that are starting refuse connections). A fresh
  // channel per attempt connects at once instead of waiting out gRPC's reconnect backoff.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(f.wait_s * 1e3));
  absl::StatusOr<radixserve::client::HealthStatus> st;
  for (;;) {
    st = client->Health(f.service);
    if (st.ok() && *st == radixserve::client::HealthStatus::kServing) break;
    if (std::chrono::steady_clock::now() >= until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (!st.ok()) {
      client = Connect(g, &rc);
      if (client == nullptr) return rc;
    }
  }
  if (!st.ok()) return Fail(st.status(), "Health", g);
  const char* name = radixserve::client::HealthStatusName(*st);
  if (g.json) {
    PrintJson({{"status", name}, {"service", f.service}});
  } else {
    std::printf("%s\n", name);
  }
  return *st == radixserve::client::HealthStatus::kServing ? kExitOk : kExitServer;
}

}  // namespace

void AddInfoCommands(CLI::App& app, Globals& g, int* rc) {
  auto f = std::make_shared<InfoFlags>();
  CLI::App* tok = app.add_subcommand("tokenize", "print the token ids of TEXT (\"-\": stdin)");
  tok->add_option("text", f->text, "text to tokenize")->required();
  tok->add_flag("--add-special-tokens", f->add_special_tokens, "add BOS/EOS as the tokenizer asks");
  tok->callback([f, &g, rc] { *rc = Tokenize(*f, g); });

  CLI::App* detok = app.add_subcommand("detokenize", "print the text of token IDS (arguments or stdin)");
  detok->add_option("ids", f->ids, "token ids (space or comma separated; none or -: stdin)");
  detok->add_flag("--skip-special-tokens", f->skip_special_tokens, "drop control tokens such as EOS");
  detok->callback([f, &g, rc] { *rc = Detokenize(*f, g); });

  CLI::App* model = app.add_subcommand("model", "show the served model, its limits and chat template");
  model->callback([&g, rc] { *rc = Model(g); });

  CLI::App* health = app.add_subcommand("health", "grpc.health.v1 check; exit 0 when SERVING, else 1");
  health->add_option("--service", f->service, "service name (default: the whole server)");
  health->add_option("--wait", f->wait_s, "wait up to this many seconds for SERVING")->check(CLI::NonNegativeNumber);
  health->callback([f, &g, rc] { *rc = Health(*f, g); });
}

}  // namespace radixctl
