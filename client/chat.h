// ChatSession: a multi-turn conversation kept on one server session. Each turn
// appends only the new user text (formatted by a ChatTemplate) and generates the
// reply; the KV of earlier turns stays on the server and is reused, which each turn
// reports as reused_tokens.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/chat_template.h"
#include "client/client.h"
#include "nlohmann/json.hpp"

namespace radixserve::client {

struct ChatOptions {
  ChatTemplate chat_template;
  std::string system;       // system prompt; empty = none
  v1::SamplingParams sampling;
  v1::StopConditions stop;
  std::string session_id;   // continue this session (its last reply is taken as ended)
};

struct ChatTurn {
  GenerateResult result;
  std::string reply;           // the reply text without the end-of-turn marker
  int64_t reused_tokens = 0;   // context tokens not computed by this turn: the
                               // session's computed KV plus prefix-cache hits
  int64_t context_tokens = 0;  // tokens in the session after the turn
};

class ChatSession {
 public:
  struct Message {
    std::string role;  // "system", "user", "assistant"
    std::string content;
  };

  ChatSession(Client* client, ChatOptions options);

  // A turn that fails (e.g. CANCELLED through `cancel`) stays in the conversation with
  // the reply generated so far, as the server keeps it in the session.
  absl::StatusOr<ChatTurn> Send(const std::string& user,
                                const std::function<void(const v1::GenerateResponse&)>& on_chunk = {},
                                Cancellation* cancel = nullptr);
  // Deletes the session; the next turn starts a new conversation (same system prompt).
  absl::Status Reset();
  // Continues on a copy-on-write fork of the session; returns the original's id, which
  // stays on the server unchanged.
  absl::StatusOr<std::string> Fork();
  // Deletes the session unless keep.
  absl::Status Close(bool keep);

  const std::string& session_id() const { return session_id_; }
  const std::vector<Message>& messages() const { return messages_; }
  // {"template", "session_id", "messages": [{"role", "content"}...]}
  nlohmann::json Transcript() const;

 private:
  Client* client_;
  ChatOptions options_;
  std::string session_id_;
  bool reply_ended_ = true;
  std::vector<Message> messages_;
};

}  // namespace radixserve::client
