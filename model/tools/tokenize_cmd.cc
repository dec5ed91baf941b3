// `radixserve-model tokenize PATH [TEXT] [--json] [--no-add-special] [--no-parse-special]`
// and `radixserve-model detokenize PATH [IDS...] [--json] [--skip-special]`: the
// tokenizer from the command line. Text (or ids) come from the arguments, else stdin.
// PATH is a GGUF file, a tokenizer.json, or a Hugging Face model directory.
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "model/tokenizer_loader.h"
#include "model/tools/subcommand.h"
#include "nlohmann/json.hpp"

namespace radixserve::model::cli {
namespace {

struct TokenizeOptions {
  std::string path;
  std::vector<std::string> args;  // text (joined by spaces) or ids
  bool json = false;
  bool no_add_special = false;
  bool no_parse_special = false;
  bool skip_special = false;
};

std::string ReadStdin() {
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

absl::Status RunTokenize(const TokenizeOptions& o) {
  ASSIGN_OR_RETURN(auto tokenizer, LoadTokenizer(o.path));
  const std::string text = o.args.empty() ? ReadStdin() : absl::StrJoin(o.args, " ");
  ASSIGN_OR_RETURN(std::vector<int32_t> ids,
                   tokenizer->Encode(text, {.add_special = !o.no_add_special,
                                            .parse_special = !o.no_parse_special}));
  if (!o.json) {
    std::cout << absl::StrJoin(ids, " ") << "\n";
    return absl::OkStatus();
  }
  // Pieces are the raw bytes of each token, which may be part of a character: JSON
  // needs valid UTF-8, so each is shown as the tokenizer's vocabulary string instead.
  nlohmann::ordered_json out;
  out["count"] = ids.size();
  out["ids"] = ids;
  std::vector<std::string> pieces;
  for (int32_t id : ids) pieces.push_back(tokenizer->data().tokens[id]);
  out["tokens"] = pieces;
  std::cout << out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int32_t>> ParseIds(const std::vector<std::string>& args) {
  std::string joined = args.empty() ? ReadStdin() : absl::StrJoin(args, " ");
  std::vector<int32_t> ids;
  for (absl::string_view part :
       absl::StrSplit(joined, absl::ByAnyChar(" \t\n\r,[]"), absl::SkipEmpty())) {
    int32_t id;
    if (!absl::SimpleAtoi(part, &id)) {
      return absl::InvalidArgumentError("not a token id: '" + std::string(part) + "'");
    }
    ids.push_back(id);
  }
  return ids;
}

absl::Status RunDetokenize(const TokenizeOptions& o) {
  ASSIGN_OR_RETURN(auto tokenizer, LoadTokenizer(o.path));
  ASSIGN_OR_RETURN(std::vector<int32_t> ids, ParseIds(o.args));
  ASSIGN_OR_RETURN(std::string text, tokenizer->Decode(ids, {.skip_special = o.skip_special}));
  if (o.json) {
    nlohmann::ordered_json out;
    out["count"] = ids.size();
    out["text"] = text;
    std::cout << out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  } else {
    std::cout << text << "\n";
  }
  return absl::OkStatus();
}

SubcommandRun Wrap(std::shared_ptr<TokenizeOptions> o, absl::Status (*run)(const TokenizeOptions&)) {
  return [o, run] {
    if (absl::Status s = run(*o); !s.ok()) {
      std::cerr << "error: " << s << "\n";
      return 1;
    }
    return 0;
  };
}

}  // namespace

SubcommandRun SetupTokenize(CLI::App& sub) {
  auto o = std::make_shared<TokenizeOptions>();
  sub.add_option("path", o->path, "GGUF file, tokenizer.json or HF model directory")->required();
  sub.add_option("text", o->args, "Text to encode (default: stdin)");
  sub.add_flag("--json", o->json, "Print {\"count\", \"ids\", \"tokens\"} as JSON");
  sub.add_flag("--no-add-special", o->no_add_special, "Do not add BOS/EOS");
  sub.add_flag("--no-parse-special", o->no_parse_special,
               "Treat special-token text such as <|im_start|> as plain text");
  return Wrap(o, RunTokenize);
}

SubcommandRun SetupDetokenize(CLI::App& sub) {
  auto o = std::make_shared<TokenizeOptions>();
  sub.add_option("path", o->path, "GGUF file, tokenizer.json or HF model directory")->required();
  sub.add_option("ids", o->args, "Token ids (default: stdin; spaces, commas or a JSON list)");
  sub.add_flag("--json", o->json, "Print {\"count\", \"text\"} as JSON");
  sub.add_flag("--skip-special", o->skip_special, "Leave out BOS, EOS and other control tokens");
  return Wrap(o, RunDetokenize);
}

}  // namespace radixserve::model::cli
