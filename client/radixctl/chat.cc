// radixctl chat: multi-turn chat on one session, from a terminal or a pipe.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "client/chat.h"
#include "client/json.h"
#include "client/radixctl/common.h"
#include "client/radixctl/sampling_flags.h"

namespace radixctl {
namespace {

using radixserve::client::ChatSession;

constexpr const char* kChatHelp = R"(Each input line is one user message; the reply streams on stdout and a summary
(tokens, reused tokens, TTFT, tok/s) goes to stderr. Works from a pipe:
  printf 'Hi!\nWhat is 2+2?\n' | radixctl chat
Lines starting with / are commands:
  /reset         delete the session and start a new conversation (same system prompt)
  /fork          continue on a copy-on-write fork; the original session is kept (its id
                 is printed) and can be resumed with `radixctl chat --session ID`
  /save FILE     write the transcript (template, session id, messages) as JSON
  /session       print the session id and its state on the server
  /help          this text
  /quit, /exit   leave (the session is deleted unless --keep); so does Ctrl-D
Ctrl-C stops a reply that is streaming (the chat goes on); at the prompt it leaves.
SmolLM2 models get their template's default system prompt unless --system is given.
The template is detected from the model's vocabulary: ChatML (<|im_start|>, the
default SmolLM2 model), Llama 3 (<|start_header_id|>), else Llama 2 ([INST]).
With --json, each turn is one JSON line on stdout.)";

// SmolLM2's own chat template inserts this system message when none is given.
constexpr const char* kSmolLMSystem = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

struct ChatFlags {
  SamplingFlags sampling;
  std::string system;
  bool system_given = false;
  std::string tmpl = "auto";
  std::string session;
  bool keep = false;
};

void PrintSummary(const radixserve::client::ChatTurn& t) {
  const auto& r = t.result;
  const double gen = static_cast<double>(r.usage.generated_tokens());
  const double decode_ms = r.timings.total_ms() - r.timings.time_to_first_token_ms();
  const double tps = gen > 1 && decode_ms > 0 ? (gen - 1) * 1e3 / decode_ms : 0;
  std::fprintf(stderr, "[%d tokens | prompt %d, cached %d | TTFT %.1f ms | %.1f tok/s | context %d]\n",
               static_cast<int>(r.usage.generated_tokens()), static_cast<int>(r.usage.prompt_tokens()),
               static_cast<int>(t.reused_tokens), r.timings.time_to_first_token_ms(), tps,
               static_cast<int>(t.context_tokens));
}

int Run(const ChatFlags& f, const Globals& g) {
  // Ctrl-C is taken by a thread (blocked everywhere else, gRPC's threads included):
  // during a reply it stops the reply; at the prompt it leaves.
  sigset_t sigint;
  sigemptyset(&sigint);
  sigaddset(&sigint, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigint, nullptr);
  int rc = kExitOk;
  auto client = Connect(g, &rc);
  if (client == nullptr) return rc;
  radixserve::client::ChatOptions o;
  if (f.tmpl == "auto") {
    auto style = radixserve::client::DetectChatStyle(*client);
    if (!style.ok()) return Fail(style.status(), "Tokenize (template detection)", g);
    o.chat_template.style = *style;
  } else {
    auto style = radixserve::client::ParseChatStyle(f.tmpl);
    if (!style.ok()) return UsageError(std::string(style.status().message()));
    o.chat_template.style = *style;
  }
  o.system = f.system;
  if (!f.system_given && f.session.empty() && o.chat_template.style == radixserve::client::ChatStyle::kChatML) {
    auto info = client->GetModelInfo();
    if (!info.ok()) return Fail(info.status(), "GetModelInfo", g);
    if (absl::StrContains(absl::AsciiStrToLower(info->name()), "smollm")) o.system = kSmolLMSystem;
  }
  o.session_id = f.session;
  f.sampling.Fill(&o.sampling, &o.stop);
  ChatSession chat(client.get(), o);
  radixserve::client::Cancellation cancel;
  std::thread([sigint, &cancel, &chat, &f] {
    for (;;) {
      int sig = 0;
      if (sigwait(&sigint, &sig) != 0) continue;
      if (cancel.Cancel()) continue;  // a reply was running: it stops, the chat goes on
      std::fflush(stdout);
      std::fputc('\n', stderr);
      if (f.keep && !chat.session_id().empty()) {
        std::fprintf(stderr, "[session %s kept]\n", chat.session_id().c_str());
      }
      (void)chat.Close(f.keep);
      std::_Exit(kExitInterrupted);
    }
  }).detach();

  const bool tty = isatty(STDIN_FILENO) != 0;
  if (tty && !g.json) {
    std::fprintf(stderr, "radixctl chat (%s template) on %s; /help for commands, /quit or Ctrl-D to leave\n",
                 radixserve::client::ChatStyleName(o.chat_template.style), g.addr.c_str());
  }
  int turn_no = 0;
  std::string line;
  for (;;) {
    if (tty) {
      std::fputs("> ", stderr);
      std::fflush(stderr);
    }
    if (!std::getline(std::cin, line)) break;
    std::string text(absl::StripAsciiWhitespace(line));
    if (text.empty()) continue;
    if (text[0] == '/') {
      std::string cmd = text, arg;
      if (auto sp = text.find(' '); sp != std::string::npos) {
        cmd = text.substr(0, sp);
        arg = std::string(absl::StripAsciiWhitespace(text.substr(sp + 1)));
      }
      if (cmd == "/quit" || cmd == "/exit") break;
      if (cmd == "/help") {
        std::fprintf(stderr, "%s\n", kChatHelp);
      } else if (cmd == "/reset") {
        absl::Status st = chat.Reset();
        if (!st.ok()) return Fail(st, "DeleteSession", g);
        std::fprintf(stderr, "[new conversation]\n");
      } else if (cmd == "/fork") {
        auto old = chat.Fork();
        if (!old.ok()) {
          if (old.status().code() == absl::StatusCode::kFailedPrecondition) {
            std::fprintf(stderr, "[%s]\n", std::string(old.status().message()).c_str());
            continue;
          }
          return Fail(old.status(), "ForkSession", g);
        }
        std::fprintf(stderr, "[forked: now on session %s; session %s kept]\n", chat.session_id().c_str(),
                     old->c_str());
      } else if (cmd == "/save") {
        if (arg.empty()) {
          std::fprintf(stderr, "[/save needs a file name]\n");
          continue;
        }
        std::ofstream out(arg);
        out << DumpJson(chat.Transcript()) << "\n";
        if (!out) {
          std::fprintf(stderr, "[cannot write %s]\n", arg.c_str());
          continue;
        }
        std::fprintf(stderr, "[saved %zu messages to %s]\n", chat.messages().size(), arg.c_str());
      } else if (cmd == "/session") {
        if (chat.session_id().empty()) {
          std::fprintf(stderr, "[no session yet]\n");
          continue;
        }
        auto s = client->GetSession(chat.session_id());
        if (!s.ok()) return Fail(s.status(), "GetSession", g);
        std::fprintf(stderr, "[session %s: %lld tokens, %d device blocks, %d shared]\n", s->session_id().c_str(),
                     static_cast<long long>(s->num_tokens()), s->device_blocks(), s->shared_blocks());
      } else {
        std::fprintf(stderr, "[unknown command %s; /help lists them]\n", cmd.c_str());
      }
      continue;
    }
    ++turn_no;
    bool streamed = false;
    auto turn = chat.Send(
        text,
        [&](const v1::GenerateResponse& chunk) {
          if (g.json || chunk.text().empty()) return;
          std::fwrite(chunk.text().data(), 1, chunk.text().size(), stdout);
          std::fflush(stdout);
          streamed = true;
        },
        &cancel);
    if (!turn.ok() && turn.status().code() == absl::StatusCode::kCancelled) {
      cancel.Reset();
      if (streamed) std::fputc('\n', stdout);
      std::fflush(stdout);
      if (g.json) {
        std::fputs((DumpJson({{"turn", turn_no}, {"user", text}, {"interrupted", true},
                              {"reply", chat.messages().back().content}, {"session_id", chat.session_id()}},
                             -1) +
                    "\n")
                       .c_str(),
                   stdout);
        std::fflush(stdout);
      }
      std::fprintf(stderr, "[interrupted; the partial reply stays in the conversation]\n");
      continue;
    }
    if (!turn.ok()) {
      if (streamed) std::fputc('\n', stdout);
      (void)chat.Close(f.keep);
      return Fail(turn.status(), "Generate", g);
    }
    if (g.json) {
      nlohmann::json j;
      j["turn"] = turn_no;
      j["user"] = text;
      j["reply"] = turn->reply;
      j["session_id"] = chat.session_id();
      j["finish_reason"] = v1::FinishReason_Name(turn->result.finish_reason);
      j["usage"] = radixserve::client::ToJson(turn->result.usage);
      j["timings"] = radixserve::client::ToJson(turn->result.timings);
      j["cached_tokens"] = turn->reused_tokens;
      j["context_tokens"] = turn->context_tokens;
      std::fputs((DumpJson(j, -1) + "\n").c_str(), stdout);
      std::fflush(stdout);
    } else {
      // The streamed text may end with the end-of-turn marker; the summary follows.
      std::fputc('\n', stdout);
      std::fflush(stdout);
      PrintSummary(*turn);
    }
  }
  if (f.keep && !chat.session_id().empty()) std::fprintf(stderr, "[session %s kept]\n", chat.session_id().c_str());
  absl::Status st = chat.Close(f.keep);
  if (!st.ok()) return Fail(st, "DeleteSession", g);
  return kExitOk;
}

}  // namespace

void AddChat(CLI::App& app, Globals& g, int* rc) {
  auto f = std::make_shared<ChatFlags>();
  CLI::App* cmd = app.add_subcommand("chat", "interactive multi-turn chat on one session (reads stdin)");
  cmd->footer(kChatHelp);
  f->sampling.Register(cmd, 256);
  CLI::Option* system = cmd->add_option("--system", f->system,
                                        "system prompt (SmolLM2 models: the default of their template; \"\" for none)");
  cmd->add_option("--template", f->tmpl, "chat template: auto, chatml, llama3, llama2")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "chatml", "llama3", "llama2"}));
  cmd->add_option("-s,--session", f->session, "continue this session (after an assistant reply)");
  cmd->add_flag("--keep", f->keep, "keep the session on the server at exit (its id is printed)");
  cmd->callback([f, &g, rc, system] {
    f->system_given = system->count() > 0;
    *rc = Run(*f, g);
  });
}

}  // namespace radixctl
