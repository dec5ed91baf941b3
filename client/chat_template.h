// Chat prompt formats for multi-turn chat on one session. Each turn appends only the
// new text to the session (the KV of earlier turns is reused), so a template is a set
// of pieces rather than one render of the whole conversation:
//
//   first turn:  [system block] user block, assistant header
//   next turns:  [end of the previous reply if the model did not end it] user block,
//                assistant header
//
// Styles: ChatML (SmolLM2, Qwen2: <|im_start|>role\n...<|im_end|>), Llama 3
// (<|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>) and Llama 2
// ([INST] <<SYS>>...<</SYS>> ... [/INST]).
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace radixserve::client {

class Client;

enum class ChatStyle { kChatML, kLlama3, kLlama2 };

const char* ChatStyleName(ChatStyle style);
// "chatml", "llama3", "llama2".
absl::StatusOr<ChatStyle> ParseChatStyle(const std::string& name);

struct ChatTemplate {
  ChatStyle style = ChatStyle::kChatML;

  // The first turn's text; system may be empty.
  std::string FirstTurn(const std::string& system, const std::string& user) const;
  // A later turn's text. reply_ended: the previous reply ended with the model's own
  // end-of-turn token (finish reason EOS), which is already in the session.
  std::string NextTurn(const std::string& user, bool reply_ended) const;
  // Whether the first turn asks the tokenizer for BOS (Llama 2/3 need it).
  bool first_turn_adds_bos() const { return style != ChatStyle::kChatML; }
};

// Picks the style from the served vocabulary: "<|start_header_id|>" as one token means
// Llama 3, "<|im_start|>" means ChatML, otherwise Llama 2 (its markers are plain text).
absl::StatusOr<ChatStyle> DetectChatStyle(Client& client);

}  // namespace radixserve::client
