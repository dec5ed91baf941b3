#include "model/tokenizer_json.h"

#include <limits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "model/pretokenizer.h"
#include "nlohmann/json.hpp"

namespace radixserve::model {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // "▁"

absl::Status Bad(std::string_view path, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("tokenizer.json: ", std::string(path), ": ", std::string(what)));
}
absl::Status Unsupported(std::string_view path, std::string_view what) {
  return absl::UnimplementedError(absl::StrCat("tokenizer.json: ", std::string(path), ": ", std::string(what)));
}

// Member `key` of `obj` if it is present and not null.
const Json* Find(const Json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

absl::StatusOr<std::string> GetString(const Json& obj, std::string_view key,
                                       std::string_view path) {
  const Json* v = Find(obj, key);
  if (v == nullptr || !v->is_string()) return Bad(path, absl::StrCat("'", std::string(key), "' must be a string"));
  return v->get<std::string>();
}

bool GetBool(const Json& obj, std::string_view key, bool fallback) {
  const Json* v = Find(obj, key);
  return v != nullptr && v->is_boolean() ? v->get<bool>() : fallback;
}

absl::StatusOr<int32_t> GetId(const Json& v, std::string_view path) {
  if (!v.is_number_integer()) return Bad(path, "token id must be an integer");
  const int64_t id = v.get<int64_t>();
  if (id < 0 || id > std::numeric_limits<int32_t>::max() / 2) {
    return Bad(path, absl::StrCat("token id ", id, " out of range"));
  }
  return static_cast<int32_t>(id);
}

// What the pre-tokenizer, normalizer and model together say about the tokenizer.
struct Shape {
  bool byte_level = false;
  bool metaspace = false;
  bool prepend_space = false;
  std::vector<std::string> patterns;
};

std::string RegexQuote(std::string_view literal) {
  std::string out = "\\Q";
  for (size_t pos = 0; pos < literal.size();) {  // "\E" inside \Q..\E needs splitting
    size_t e = literal.find("\\E", pos);
    if (e == std::string_view::npos) {
      out.append(literal.substr(pos));
      break;
    }
    out.append(literal.substr(pos, e - pos)).append("\\E\\\\E\\Q");
    pos = e + 2;
  }
  return out + "\\E";
}

absl::Status ReadPreTokenizer(const Json& pt, const std::string& path, Shape* shape) {
  const std::string type = pt.is_object() && pt.contains("type") && pt["type"].is_string()
                               ? pt["type"].get<std::string>() : "";
  if (type == "Sequence") {
    const Json* list = Find(pt, "pretokenizers");
    if (list == nullptr || !list->is_array()) return Bad(path, "'pretokenizers' must be a list");
    for (size_t i = 0; i < list->size(); ++i) {
      RETURN_IF_ERROR(ReadPreTokenizer((*list)[i], absl::StrCat(path, ".pretokenizers[", i, "]"), shape));
    }
    return absl::OkStatus();
  }
  if (type == "ByteLevel") {
    shape->byte_level = true;
    if (GetBool(pt, "add_prefix_space", false)) {
      return Unsupported(path, "ByteLevel add_prefix_space=true");
    }
    if (GetBool(pt, "use_regex", true)) shape->patterns.emplace_back(kGpt2HfPattern);
    return absl::OkStatus();
  }
  if (type == "Digits") {
    shape->patterns.emplace_back(GetBool(pt, "individual_digits", false) ? R"(\p{N})" : R"(\p{N}+)");
    return absl::OkStatus();
  }
  if (type == "Split") {
    const Json* pattern = Find(pt, "pattern");
    std::string regex;
    if (pattern != nullptr && Find(*pattern, "Regex") && (*pattern)["Regex"].is_string()) {
      regex = (*pattern)["Regex"].get<std::string>();
    } else if (pattern != nullptr && Find(*pattern, "String") && (*pattern)["String"].is_string()) {
      regex = RegexQuote((*pattern)["String"].get<std::string>());
    } else {
      return Bad(path, "Split needs pattern.Regex or pattern.String");
    }
    const Json* behavior = Find(pt, "behavior");
    if (behavior == nullptr || *behavior != "Isolated" || GetBool(pt, "invert", false)) {
      return Unsupported(path, "Split other than behavior=Isolated, invert=false");
    }
    shape->patterns.push_back(std::move(regex));
    return absl::OkStatus();
  }
  if (type == "Metaspace") {
    shape->metaspace = true;
    const Json* repl = Find(pt, "replacement");
    if (repl != nullptr && *repl != std::string(kSpmSpace)) {
      return Unsupported(path, "Metaspace replacement other than U+2581");
    }
    if (GetBool(pt, "split", false)) return Unsupported(path, "Metaspace split=true");
    const Json* scheme = Find(pt, "prepend_scheme");
    shape->prepend_space = scheme == nullptr ? GetBool(pt, "add_prefix_space", true)
                                             : *scheme != "never";
    return absl::OkStatus();
  }
  return Unsupported(path, absl::StrCat("pre-tokenizer type '", type, "'"));
}

absl::Status ReadNormalizer(const Json& n, const std::string& path, Shape* shape) {
  const std::string type = n.is_object() && n.contains("type") && n["type"].is_string()
                               ? n["type"].get<std::string>() : "";
  if (type == "Sequence") {
    const Json* list = Find(n, "normalizers");
    if (list == nullptr || !list->is_array()) return Bad(path, "'normalizers' must be a list");
    for (size_t i = 0; i < list->size(); ++i) {
      RETURN_IF_ERROR(ReadNormalizer((*list)[i], absl::StrCat(path, ".normalizers[", i, "]"), shape));
    }
    return absl::OkStatus();
  }
  // Qwen2 ships an NFC normalizer. llama.cpp does not apply it either (GGUF carries no
  // normalizer), so text that is already NFC, which is nearly all text, tokenizes the
  // same; we follow llama.cpp rather than refuse these files.
  if (type == "NFC") return absl::OkStatus();
  if (type == "Prepend" && Find(n, "prepend") && n["prepend"] == std::string(kSpmSpace)) {
    shape->prepend_space = true;
    shape->metaspace = true;
    return absl::OkStatus();
  }
  if (type == "Replace") {
    const Json* pattern = Find(n, "pattern");
    const Json* content = Find(n, "content");
    if (pattern && Find(*pattern, "String") && (*pattern)["String"] == " " && content &&
        *content == std::string(kSpmSpace)) {
      shape->metaspace = true;
      return absl::OkStatus();
    }
  }
  return Unsupported(path, absl::StrCat("normalizer type '", type, "'"));
}

// TemplateProcessing's "single" template: a leading / trailing special token means
// add_bos / add_eos with that token.
absl::Status ReadPostProcessor(const Json& pp, const std::string& path,
                               const absl::flat_hash_map<std::string, int32_t>& ids,
                               TokenizerData* data) {
  const Json* type = Find(pp, "type");
  if (type != nullptr && *type == "Sequence") {
    const Json* list = Find(pp, "processors");
    if (list == nullptr || !list->is_array()) return Bad(path, "'processors' must be a list");
    for (size_t i = 0; i < list->size(); ++i) {
      RETURN_IF_ERROR(ReadPostProcessor((*list)[i], absl::StrCat(path, ".processors[", i, "]"), ids, data));
    }
    return absl::OkStatus();
  }
  if (type == nullptr || *type != "TemplateProcessing") return absl::OkStatus();
  const Json* single = Find(pp, "single");
  if (single == nullptr || !single->is_array()) return Bad(path, "'single' must be a list");
  auto special_id = [&](const Json& item) -> std::optional<int32_t> {
    const Json* st = Find(item, "SpecialToken");
    if (st == nullptr || !Find(*st, "id") || !(*st)["id"].is_string()) return std::nullopt;
    auto it = ids.find((*st)["id"].get<std::string>());
    if (it == ids.end()) return std::nullopt;
    return it->second;
  };
  if (!single->empty()) {
    if (auto id = special_id(single->front())) {
      data->add_bos = true;
      data->bos_id = *id;
    }
    if (single->size() > 1) {
      if (auto id = special_id(single->back())) {
        data->add_eos = true;
        data->eos_id = *id;
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<TokenizerData> Convert(const Json& root) {
  if (!root.is_object()) return Bad("$", "not a JSON object");
  const Json* model = Find(root, "model");
  if (model == nullptr || !model->is_object()) return Bad("model", "missing");
  const Json* type = Find(*model, "type");
  if (type != nullptr && *type != "BPE") {
    return Unsupported("model.type", absl::StrCat("model '", type->dump(), "' (only BPE)"));
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const Json* v = Find(*model, key);
    if (v != nullptr && !(v->is_string() && v->get<std::string>().empty())) {
      return Unsupported(absl::StrCat("model.", key), "BPE affixes");
    }
  }

  // Vocabulary: the model's vocab plus added tokens, ids 0..n-1 with no gaps.
  TokenizerData data;
  absl::flat_hash_map<std::string, int32_t> ids;
  const Json* vocab = Find(*model, "vocab");
  if (vocab == nullptr || !vocab->is_object()) return Bad("model.vocab", "must be an object");
  std::vector<std::pair<int32_t, std::string>> entries;
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    ASSIGN_OR_RETURN(int32_t id, GetId(it.value(), absl::StrCat("model.vocab[\"", it.key(), "\"]")));
    entries.emplace_back(id, it.key());
  }
  std::vector<std::pair<int32_t, bool>> added;  // id, special
  if (const Json* list = Find(root, "added_tokens")) {
    if (!list->is_array()) return Bad("added_tokens", "must be a list");
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string path = absl::StrCat("added_tokens[", i, "]");
      const Json& t = (*list)[i];
      if (!t.is_object() || !t.contains("id")) return Bad(path, "needs 'id' and 'content'");
      ASSIGN_OR_RETURN(int32_t id, GetId(t["id"], path));
      ASSIGN_OR_RETURN(std::string content, GetString(t, "content", path));
      entries.emplace_back(id, std::move(content));
      added.emplace_back(id, GetBool(t, "special", false));
    }
  }
  size_t n = 0;
  for (const auto& [id, text] : entries) n = std::max(n, static_cast<size_t>(id) + 1);
  if (n == 0) return Bad("model.vocab", "empty");
  // Checked before allocating: a single huge id must not make us reserve gigabytes.
  if (n > entries.size()) {
    return Bad("model.vocab", absl::StrCat("ids run to ", n - 1, " but there are only ",
                                           entries.size(), " tokens: no token has id for the rest"));
  }
  data.tokens.resize(n);
  std::vector<bool> seen(n, false);
  for (auto& [id, text] : entries) {
    if (seen[id] && data.tokens[id] != text) {
      return Bad("model.vocab", absl::StrCat("id ", id, " used by two different tokens"));
    }
    seen[id] = true;
    ids[text] = id;
    data.tokens[id] = std::move(text);
  }
  for (size_t id = 0; id < n; ++id) {
    if (!seen[id]) return Bad("model.vocab", absl::StrCat("no token has id ", id));
  }
  data.types.assign(n, TokenType::kNormal);
  for (const auto& [id, special] : added) {
    data.types[id] = special ? TokenType::kControl : TokenType::kUserDefined;
  }

  if (const Json* merges = Find(*model, "merges")) {
    if (!merges->is_array()) return Bad("model.merges", "must be a list");
    data.merges.reserve(merges->size());
    for (size_t i = 0; i < merges->size(); ++i) {
      const Json& m = (*merges)[i];
      const std::string path = absl::StrCat("model.merges[", i, "]");
      if (m.is_string()) {
        data.merges.push_back(m.get<std::string>());
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        const std::string left = m[0].get<std::string>();
        // Stored as "left right", split at the first space after position 0.
        if (left.empty() || left.find(' ', 1) != std::string::npos) {
          return Unsupported(path, "merge whose left token contains a space");
        }
        data.merges.push_back(absl::StrCat(left, " ", m[1].get<std::string>()));
      } else {
        return Bad(path, "must be \"a b\" or [\"a\", \"b\"]");
      }
    }
  }
  if (const Json* unk = Find(*model, "unk_token")) {
    if (!unk->is_string() || !ids.contains(unk->get<std::string>())) {
      return Bad("model.unk_token", "must name a token");
    }
    data.unk_id = ids[unk->get<std::string>()];
    if (data.types[*data.unk_id] == TokenType::kNormal) data.types[*data.unk_id] = TokenType::kUnknown;
  }
  data.ignore_merges = GetBool(*model, "ignore_merges", false);
  const bool byte_fallback = GetBool(*model, "byte_fallback", false);

  Shape shape;
  if (const Json* n = Find(root, "normalizer")) RETURN_IF_ERROR(ReadNormalizer(*n, "normalizer", &shape));
  if (const Json* pt = Find(root, "pre_tokenizer")) {
    RETURN_IF_ERROR(ReadPreTokenizer(*pt, "pre_tokenizer", &shape));
  }
  if (shape.byte_level && shape.metaspace) {
    return Unsupported("pre_tokenizer", "both ByteLevel and SentencePiece whitespace");
  }
  if (shape.byte_level) {
    data.kind = TokenizerKind::kByteLevelBpe;
    data.pre = "tokenizer.json";
    data.pre_patterns = std::move(shape.patterns);
    if (data.pre_patterns.empty()) data.pre_patterns.push_back(".+");  // no split at all
  } else if (shape.metaspace || byte_fallback) {
    data.kind = TokenizerKind::kSentencePieceBpe;
    data.add_space_prefix = shape.prepend_space;
    if (byte_fallback) {
      for (size_t id = 0; id < n; ++id) {
        const std::string& t = data.tokens[id];
        if (data.types[id] == TokenType::kNormal && t.size() == 6 && t.starts_with("<0x") &&
            t.back() == '>') {
          data.types[id] = TokenType::kByte;
        }
      }
    }
  } else {
    return Unsupported("pre_tokenizer", "neither byte-level nor SentencePiece-style BPE");
  }
  if (const Json* pp = Find(root, "post_processor")) {
    RETURN_IF_ERROR(ReadPostProcessor(*pp, "post_processor", ids, &data));
  }
  return data;
}

}  // namespace

absl::StatusOr<TokenizerData> TokenizerDataFromJson(std::string_view tokenizer_json) {
  Json root = Json::parse(tokenizer_json, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return Bad("$", "not valid JSON");
  try {
    return Convert(root);
  } catch (const Json::exception& e) {  // a type the checks above did not foresee
    return Bad("$", e.what());
  }
}

absl::Status ApplyTokenizerConfigJson(std::string_view config_json, TokenizerData* data) {
  Json root = Json::parse(config_json, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    return absl::InvalidArgumentError("tokenizer_config.json: not a JSON object");
  }
  auto token_id = [&](const char* key, std::optional<int32_t>* out) -> absl::Status {
    const Json* v = Find(root, key);
    if (v == nullptr) return absl::OkStatus();
    const Json* content = v->is_object() ? Find(*v, "content") : v;
    if (content == nullptr || !content->is_string()) {
      return absl::InvalidArgumentError(absl::StrCat("tokenizer_config.json: bad '", key, "'"));
    }
    for (size_t id = 0; id < data->tokens.size(); ++id) {
      if (data->tokens[id] == content->get<std::string>()) {
        *out = static_cast<int32_t>(id);
        return absl::OkStatus();
      }
    }
    return absl::InvalidArgumentError(absl::StrCat("tokenizer_config.json: '", key,
                                                   "' is not in the vocabulary"));
  };
  RETURN_IF_ERROR(token_id("bos_token", &data->bos_id));
  RETURN_IF_ERROR(token_id("eos_token", &data->eos_id));
  RETURN_IF_ERROR(token_id("unk_token", &data->unk_id));
  RETURN_IF_ERROR(token_id("pad_token", &data->pad_id));
  data->add_bos = GetBool(root, "add_bos_token", data->add_bos);
  data->add_eos = GetBool(root, "add_eos_token", data->add_eos);
  if (const Json* t = Find(root, "chat_template"); t != nullptr && t->is_string()) {
    data->chat_template = t->get<std::string>();
  }
  return absl::OkStatus();
}

}  // namespace radixserve::model
