#include "client/chat_template.h"

#include "absl/strings/str_cat.h"
#include "client/client.h"

namespace radixserve::client {

const char* ChatStyleName(ChatStyle style) {
  switch (style) {
    case ChatStyle::kChatML: return "chatml";
    case ChatStyle::kLlama3: return "llama3";
    case ChatStyle::kLlama2: return "llama2";
  }
  return "?";
}

absl::StatusOr<ChatStyle> ParseChatStyle(const std::string& name) {
  if (name == "chatml") return ChatStyle::kChatML;
  if (name == "llama3") return ChatStyle::kLlama3;
  if (name == "llama2") return ChatStyle::kLlama2;
  return absl::InvalidArgumentError(absl::StrCat("unknown chat template '", name, "' (chatml, llama3, llama2)"));
}

std::string ChatTemplate::FirstTurn(const std::string& system, const std::string& user) const {
  switch (style) {
    case ChatStyle::kChatML: {
      std::string s;
      if (!system.empty()) s = absl::StrCat("<|im_start|>system\n", system, "<|im_end|>\n");
      return absl::StrCat(s, "<|im_start|>user\n", user, "<|im_end|>\n<|im_start|>assistant\n");
    }
    case ChatStyle::kLlama3: {
      std::string s;  // <|begin_of_text|> comes from the tokenizer (add_special_tokens)
      if (!system.empty()) s = absl::StrCat("<|start_header_id|>system<|end_header_id|>\n\n", system, "<|eot_id|>");
      return absl::StrCat(s, "<|start_header_id|>user<|end_header_id|>\n\n", user,
                          "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    }
    case ChatStyle::kLlama2:
      if (system.empty()) return absl::StrCat("[INST] ", user, " [/INST]");
      return absl::StrCat("[INST] <<SYS>>\n", system, "\n<</SYS>>\n\n", user, " [/INST]");
  }
  return user;
}

std::string ChatTemplate::NextTurn(const std::string& user, bool reply_ended) const {
  switch (style) {
    case ChatStyle::kChatML:
      return absl::StrCat(reply_ended ? "" : "<|im_end|>", "\n<|im_start|>user\n", user,
                          "<|im_end|>\n<|im_start|>assistant\n");
    case ChatStyle::kLlama3:
      return absl::StrCat(reply_ended ? "" : "<|eot_id|>", "<|start_header_id|>user<|end_header_id|>\n\n", user,
                          "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    case ChatStyle::kLlama2:
      return absl::StrCat(reply_ended ? "" : " </s>", "<s>[INST] ", user, " [/INST]");
  }
  return user;
}

absl::StatusOr<ChatStyle> DetectChatStyle(Client& client) {
  auto llama3 = client.Tokenize("<|start_header_id|>");
  if (!llama3.ok()) return llama3.status();
  if (llama3->size() == 1) return ChatStyle::kLlama3;
  auto chatml = client.Tokenize("<|im_start|>");
  if (!chatml.ok()) return chatml.status();
  if (chatml->size() == 1) return ChatStyle::kChatML;
  return ChatStyle::kLlama2;
}

}  // namespace radixserve::client
