#include "client/chat.h"

#include "absl/strings/match.h"

namespace radixserve::client {
namespace {

// End-of-turn markers a detokenized reply may end with.
constexpr const char* kEndMarkers[] = {"<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|endoftext|>", "</s>"};

std::string StripEndMarker(std::string text) {
  for (const char* m : kEndMarkers) {
    if (absl::EndsWith(text, m)) return text.substr(0, text.size() - std::string(m).size());
  }
  return text;
}

}  // namespace

ChatSession::ChatSession(Client* client, ChatOptions options)
    : client_(client), options_(std::move(options)), session_id_(options_.session_id) {
  if (!options_.system.empty()) messages_.push_back({"system", options_.system});
}

absl::StatusOr<ChatTurn> ChatSession::Send(const std::string& user,
                                           const std::function<void(const v1::GenerateResponse&)>& on_chunk,
                                           Cancellation* cancel) {
  v1::GenerateRequest req;
  *req.mutable_sampling() = options_.sampling;
  *req.mutable_stop() = options_.stop;
  if (session_id_.empty()) {
    // An explicit session, so that its id is known even if the first turn fails.
    auto s = client_->CreateSession(v1::CreateSessionRequest());
    if (!s.ok()) return s.status();
    session_id_ = s->session_id();
    req.mutable_input()->set_text(options_.chat_template.FirstTurn(options_.system, user));
    req.mutable_input()->set_add_special_tokens(options_.chat_template.first_turn_adds_bos());
  } else {
    req.mutable_input()->set_text(options_.chat_template.NextTurn(user, reply_ended_));
  }
  req.set_session_id(session_id_);
  std::string partial;
  absl::StatusOr<GenerateResult> r;
  // After an interrupted turn the server may still be ending it (ABORTED: busy).
  (void)RetryWhileBusy([&] {
    r = client_->Generate(
        req,
        [&](const v1::GenerateResponse& chunk) {
          partial += chunk.text();
          if (on_chunk) on_chunk(chunk);
        },
        cancel);
    return r.status();
  });
  if (!r.ok()) {
    // The server keeps what was computed and generated; the next turn closes the reply.
    messages_.push_back({"user", user});
    messages_.push_back({"assistant", partial});
    reply_ended_ = false;
    return r.status();
  }
  auto s = client_->GetSession(session_id_);
  if (!s.ok()) return s.status();
  ChatTurn turn;
  turn.reply = StripEndMarker(r->text);
  turn.context_tokens = s->num_tokens();
  turn.reused_tokens = ReusedTokens(s->num_tokens(), r->usage);
  reply_ended_ = r->finish_reason == v1::FINISH_REASON_EOS;
  messages_.push_back({"user", user});
  messages_.push_back({"assistant", turn.reply});
  turn.result = *std::move(r);
  return turn;
}

absl::Status ChatSession::Reset() {
  absl::Status st = Close(false);
  messages_.clear();
  if (!options_.system.empty()) messages_.push_back({"system", options_.system});
  return st;
}

absl::StatusOr<std::string> ChatSession::Fork() {
  if (session_id_.empty()) return absl::FailedPreconditionError("nothing to fork yet: send a message first");
  auto s = client_->ForkSession(session_id_);
  if (!s.ok()) return s.status();
  std::string old = session_id_;
  session_id_ = s->session_id();
  return old;
}

absl::Status ChatSession::Close(bool keep) {
  if (session_id_.empty() || keep) return absl::OkStatus();
  absl::Status st = RetryWhileBusy([&] { return client_->DeleteSession(session_id_); });
  session_id_.clear();
  reply_ended_ = true;
  return st;
}

nlohmann::json ChatSession::Transcript() const {
  nlohmann::json j;
  j["template"] = ChatStyleName(options_.chat_template.style);
  j["session_id"] = session_id_;
  j["messages"] = nlohmann::json::array();
  for (const Message& m : messages_) j["messages"].push_back({{"role", m.role}, {"content", m.content}});
  return j;
}

}  // namespace radixserve::client
