// radixctl sessions ls | show | create | fork | truncate | pin | unpin | offload |
// restore | rm.
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "client/json.h"
#include "client/radixctl/common.h"

namespace radixctl {
namespace {

struct SessionFlags {
  std::vector<std::string> ids;
  std::string id;
  int64_t num_tokens = 0;
  std::string text;
  std::string tokens;
  bool add_special_tokens = false;
  int64_t ttl_s = 0, idle_timeout_s = 0;
  int32_t max_blocks = 0;
  bool all = false;
};

const char* StateName(v1::SessionState s) {
  switch (s) {
    case v1::SESSION_STATE_IDLE: return "idle";
    case v1::SESSION_STATE_RUNNING: return "running";
    case v1::SESSION_STATE_SWAPPED: return "swapped";
    default: return "?";
  }
}

std::string Age(int64_t unix_ms) {
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const int64_t s = (now - unix_ms) / 1000;
  if (s < 120) return std::to_string(s) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m";
  return std::to_string(s / 3600) + "h";
}

void PrintTable(const std::vector<v1::Session>& sessions) {
  std::printf("%-32s  %-7s  %-6s  %7s  %8s  %6s  %5s  %6s  %7s  %5s\n", "SESSION", "STATE", "PINNED", "TOKENS",
              "COMPUTED", "BLOCKS", "HOST", "SHARED", "CACHED", "AGE");
  for (const auto& s : sessions) {
    std::printf("%-32s  %-7s  %-6s  %7lld  %8lld  %6d  %5d  %6d  %7lld  %5s\n", s.session_id().c_str(),
                StateName(s.state()), s.pinned() ? "yes" : "no", static_cast<long long>(s.num_tokens()),
                static_cast<long long>(s.num_computed()), s.device_blocks(), s.host_blocks(), s.shared_blocks(),
                static_cast<long long>(s.cached_tokens()), Age(s.created_unix_ms()).c_str());
  }
}

void PrintOne(const v1::Session& s, const Globals& g) {
  if (g.json) {
    PrintJson(radixserve::client::ToJson(s));
    return;
  }
  std::printf("session         %s\n", s.session_id().c_str());
  std::printf("state           %s%s%s\n", StateName(s.state()), s.pinned() ? ", pinned" : "",
              s.busy_operation().empty() ? "" : (" (" + s.busy_operation() + ")").c_str());
  std::printf("tokens          %lld (%lld computed)\n", static_cast<long long>(s.num_tokens()),
              static_cast<long long>(s.num_computed()));
  std::printf("blocks          %d on device (%d shared), %d on host\n", s.device_blocks(), s.shared_blocks(),
              s.host_blocks());
  std::printf("cached tokens   %lld (from the prefix cache over its life)\n",
              static_cast<long long>(s.cached_tokens()));
  std::printf("age             %s (last used %s ago)\n", Age(s.created_unix_ms()).c_str(),
              Age(s.last_used_unix_ms()).c_str());
}

// Runs fn with a connected client; returns the exit code.
int WithClient(const Globals& g, const std::function<int(Client&)>& fn) {
  int rc = kExitOk;
  auto client = Connect(g, &rc);
  if (client == nullptr) return rc;
  return fn(*client);
}

// The pin / unpin / offload / restore / fork shape: id in, session out.
using SessionCall = absl::StatusOr<v1::Session> (Client::*)(const std::string&);

void AddIdCommand(CLI::App* parent, const char* name, const char* help, const char* rpc, SessionCall call,
                  const std::shared_ptr<SessionFlags>& f, Globals& g, int* rc, bool print_id_only) {
  CLI::App* cmd = parent->add_subcommand(name, help);
  cmd->add_option("session", f->id, "session id")->required();
  cmd->callback([f, &g, rc, call, rpc, print_id_only] {
    *rc = WithClient(g, [&](Client& c) {
      auto s = (c.*call)(f->id);
      if (!s.ok()) return Fail(s.status(), rpc, g);
      if (print_id_only && !g.json) {
        std::printf("%s\n", s->session_id().c_str());
      } else {
        PrintOne(*s, g);
      }
      return static_cast<int>(kExitOk);
    });
  });
}

}  // namespace

void AddSessions(CLI::App& app, Globals& g, int* rc) {
  auto f = std::make_shared<SessionFlags>();
  CLI::App* sessions = app.add_subcommand("sessions", "manage server-side sessions (KV state)");
  sessions->require_subcommand(1);

  CLI::App* ls = sessions->add_subcommand("ls", "list every session");
  ls->callback([&g, rc] {
    *rc = WithClient(g, [&](Client& c) {
      auto all = c.ListSessions();
      if (!all.ok()) return Fail(all.status(), "ListSessions", g);
      if (g.json) {
        nlohmann::json arr = nlohmann::json::array();
        for (const auto& s : *all) arr.push_back(radixserve::client::ToJson(s));
        PrintJson({{"sessions", arr}, {"total_sessions", all->size()}});
      } else {
        PrintTable(*all);
      }
      return static_cast<int>(kExitOk);
    });
  });

  CLI::App* show = sessions->add_subcommand("show", "show one session");
  show->add_option("session", f->id, "session id")->required();
  show->callback([f, &g, rc] {
    *rc = WithClient(g, [&](Client& c) {
      auto s = c.GetSession(f->id);
      if (!s.ok()) return Fail(s.status(), "GetSession", g);
      PrintOne(*s, g);
      return static_cast<int>(kExitOk);
    });
  });

  CLI::App* create = sessions->add_subcommand("create", "create a session, optionally computing its first input; "
                                                        "prints its id");
  create->add_option("--text", f->text, "first input as text (its KV is computed now)");
  create->add_option("--tokens", f->tokens, "first input as token ids (comma or space separated)")
      ->excludes("--text");
  create->add_flag("--add-special-tokens", f->add_special_tokens, "let the tokenizer add BOS (with --text)");
  create->add_option("--ttl", f->ttl_s, "lifetime in seconds (0: none)");
  create->add_option("--idle-timeout", f->idle_timeout_s, "deleted after this many idle seconds (0: none)");
  create->add_option("--max-blocks", f->max_blocks, "device-block quota (0: the server's default)");
  create->callback([f, &g, rc] {
    v1::CreateSessionRequest req;
    if (!f->text.empty()) {
      req.mutable_input()->set_text(f->text);
      req.mutable_input()->set_add_special_tokens(f->add_special_tokens);
    } else if (!f->tokens.empty()) {
      auto* ids = req.mutable_input()->mutable_tokens();
      for (absl::string_view w : absl::StrSplit(f->tokens, absl::ByAnyChar(" ,"), absl::SkipEmpty())) {
        int32_t id = 0;
        if (!absl::SimpleAtoi(w, &id)) {
          *rc = UsageError("not a token id: '" + std::string(w) + "'");
          return;
        }
        ids->add_ids(id);
      }
    }
    req.set_ttl_seconds(f->ttl_s);
    req.set_idle_timeout_seconds(f->idle_timeout_s);
    req.set_max_blocks(f->max_blocks);
    *rc = WithClient(g, [&](Client& c) {
      auto s = c.CreateSession(req);
      if (!s.ok()) return Fail(s.status(), "CreateSession", g);
      if (g.json) {
        PrintOne(*s, g);
      } else {
        std::printf("%s\n", s->session_id().c_str());
      }
      return static_cast<int>(kExitOk);
    });
  });

  AddIdCommand(sessions, "fork", "copy-on-write fork of a session; prints the new id", "ForkSession",
               &Client::ForkSession, f, g, rc, true);

  CLI::App* truncate = sessions->add_subcommand("truncate", "keep the first N tokens of a session");
  truncate->add_option("session", f->id, "session id")->required();
  truncate->add_option("num_tokens", f->num_tokens, "tokens to keep")->required()->check(CLI::NonNegativeNumber);
  truncate->callback([f, &g, rc] {
    *rc = WithClient(g, [&](Client& c) {
      auto s = c.TruncateSession(f->id, f->num_tokens);
      if (!s.ok()) return Fail(s.status(), "TruncateSession", g);
      PrintOne(*s, g);
      return static_cast<int>(kExitOk);
    });
  });

  AddIdCommand(sessions, "pin", "keep a session's KV on the device (no eviction, offload or expiry)", "PinSession",
               &Client::PinSession, f, g, rc, false);
  AddIdCommand(sessions, "unpin", "undo pin", "UnpinSession", &Client::UnpinSession, f, g, rc, false);
  AddIdCommand(sessions, "offload", "move an idle session's KV to host memory", "OffloadSession",
               &Client::OffloadSession, f, g, rc, false);
  AddIdCommand(sessions, "restore", "bring a swapped session back to the device", "RestoreSession",
               &Client::RestoreSession, f, g, rc, false);

  CLI::App* rm = sessions->add_subcommand("rm", "delete sessions (their whole blocks stay in the prefix cache)");
  rm->add_option("sessions", f->ids, "session ids");
  rm->add_flag("--all", f->all, "delete every session");
  rm->callback([f, &g, rc] {
    if (f->ids.empty() == !f->all) {
      *rc = UsageError("sessions rm needs session ids or --all (not both)");
      return;
    }
    *rc = WithClient(g, [&](Client& c) {
      std::vector<std::string> ids = f->ids;
      if (f->all) {
        auto all = c.ListSessions();
        if (!all.ok()) return Fail(all.status(), "ListSessions", g);
        for (const auto& s : *all) ids.push_back(s.session_id());
      }
      nlohmann::json deleted = nlohmann::json::array();
      int code = kExitOk;
      for (const std::string& id : ids) {
        absl::Status st = c.DeleteSession(id);
        if (!st.ok()) {
          code = Fail(st, "DeleteSession " + id, g);
          continue;
        }
        deleted.push_back(id);
        if (!g.json) std::printf("deleted %s\n", id.c_str());
      }
      if (g.json) PrintJson({{"deleted", deleted}});
      return code;
    });
  });
}

}  // namespace radixctl
