#include "model/tokenizer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "model/byte_level.h"
#include "model/utf8.h"

namespace radixserve::model {
namespace {

constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // "▁" U+2581

// "<0x41>" -> 0x41; -1 if `text` is not a byte token.
int ParseByteToken(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  int value = 0;
  for (char c : text.substr(3, 2)) {
    value <<= 4;
    if (c >= '0' && c <= '9') value |= c - '0';
    else if (c >= 'A' && c <= 'F') value |= c - 'A' + 10;
    else if (c >= 'a' && c <= 'f') value |= c - 'a' + 10;
    else return -1;
  }
  return value;
}

absl::Status CheckId(const std::optional<int32_t>& id, size_t vocab, std::string_view what) {
  if (id && (*id < 0 || static_cast<size_t>(*id) >= vocab)) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer: ", std::string(what), " id ", *id, " is outside the vocabulary of ", vocab));
  }
  return absl::OkStatus();
}

}  // namespace

Tokenizer::Tokenizer(TokenizerData data) : data_(std::move(data)) {}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Create(TokenizerData data) {
  std::unique_ptr<Tokenizer> t(new Tokenizer(std::move(data)));
  RETURN_IF_ERROR(t->Init());
  return t;
}

absl::Status Tokenizer::Init() {
  const size_t n = data_.tokens.size();
  if (n == 0) return absl::InvalidArgumentError("tokenizer: empty vocabulary");
  if (n > static_cast<size_t>(INT32_MAX)) {
    return absl::InvalidArgumentError("tokenizer: vocabulary too large");
  }
  if (!data_.types.empty() && data_.types.size() != n) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer: ", data_.types.size(),
                                                   " token types for ", n, " tokens"));
  }
  if (!data_.scores.empty() && data_.scores.size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer: ", data_.scores.size(), " scores for ", n, " tokens"));
  }
  if (data_.types.empty()) data_.types.assign(n, TokenType::kNormal);
  RETURN_IF_ERROR(CheckId(data_.bos_id, n, "BOS"));
  RETURN_IF_ERROR(CheckId(data_.eos_id, n, "EOS"));
  RETURN_IF_ERROR(CheckId(data_.unk_id, n, "unknown-token"));
  RETURN_IF_ERROR(CheckId(data_.pad_id, n, "padding"));
  for (int32_t id : data_.extra_eos_ids) RETURN_IF_ERROR(CheckId(id, n, "end-of-generation"));
  if (data_.add_bos && !data_.bos_id) {
    return absl::InvalidArgumentError("tokenizer: add_bos is set but there is no BOS token");
  }
  if (data_.add_eos && !data_.eos_id) {
    return absl::InvalidArgumentError("tokenizer: add_eos is set but there is no EOS token");
  }

  // A duplicated piece maps to its last id, as in llama.cpp.
  token_to_id_.reserve(n);
  for (size_t id = 0; id < n; ++id) token_to_id_[data_.tokens[id]] = static_cast<int32_t>(id);

  const bool byte_level = data_.kind == TokenizerKind::kByteLevelBpe;
  for (size_t rank = 0; rank < data_.merges.size(); ++rank) {
    const std::string& merge = data_.merges[rank];
    // The separator is the first space after position 0, so a left side that is itself
    // a space (possible in SentencePiece vocabularies) still parses.
    const size_t sep = merge.find(' ', 1);
    if (sep == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokenizer: merge ", rank, " '", merge, "' is not two tokens"));
    }
    const std::string left = merge.substr(0, sep), right = merge.substr(sep + 1);
    auto l = token_to_id_.find(left), r = token_to_id_.find(right),
         m = token_to_id_.find(left + right);
    if (l == token_to_id_.end() || r == token_to_id_.end() || m == token_to_id_.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tokenizer: merge ", rank, " '", merge, "' names a token missing from the vocabulary"));
    }
    const uint64_t key = (static_cast<uint64_t>(l->second) << 32) | static_cast<uint32_t>(r->second);
    merges_.try_emplace(key, MergeInfo{static_cast<int32_t>(rank), m->second});
  }
  if (byte_level && merges_.empty() && n > 256) {
    return absl::InvalidArgumentError("tokenizer: byte-level BPE without merges");
  }

  if (byte_level) {
    std::vector<std::string> patterns = data_.pre_patterns;
    if (patterns.empty()) {
      ASSIGN_OR_RETURN(patterns, PreTokenizerPatterns(data_.pre));
      ignore_merges_ = PreTokenizerIgnoresMerges(data_.pre);
    }
    ignore_merges_ = ignore_merges_ || data_.ignore_merges;
    ASSIGN_OR_RETURN(pre_tokenizer_, PreTokenizer::Create(std::move(patterns)));
  } else {
    byte_to_id_.assign(256, -1);
    for (size_t id = 0; id < n; ++id) {
      const int b = ParseByteToken(data_.tokens[id]);
      if (b >= 0 && byte_to_id_[b] < 0) byte_to_id_[b] = static_cast<int32_t>(id);
    }
  }

  pieces_.resize(n);
  for (size_t id = 0; id < n; ++id) {
    const std::string& text = data_.tokens[id];
    switch (data_.types[id]) {
      case TokenType::kControl:
      case TokenType::kUnknown:
      case TokenType::kUserDefined:
        pieces_[id] = text;
        break;
      case TokenType::kUnused:  // llama.cpp renders these as nothing
        break;
      case TokenType::kByte: {
        const int b = ParseByteToken(text);
        pieces_[id] = b >= 0 ? std::string(1, static_cast<char>(b)) : text;
        break;
      }
      case TokenType::kNormal:
      default:
        if (byte_level) {
          pieces_[id] = ByteLevelDecode(text);
        } else {
          std::string& p = pieces_[id];
          for (size_t pos = 0; pos < text.size();) {
            if (text.compare(pos, kSpmSpace.size(), kSpmSpace) == 0) {
              p.push_back(' ');
              pos += kSpmSpace.size();
            } else {
              p.push_back(text[pos++]);
            }
          }
        }
        break;
    }
  }
  specials_ = std::make_unique<SpecialTokenMatcher>(data_);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int32_t>> Tokenizer::Encode(std::string_view text,
                                                       const EncodeOptions& options) const {
  if (!IsValidUtf8(text)) {
    return absl::InvalidArgumentError("tokenizer: input text is not valid UTF-8");
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 2);
  if (options.add_special && data_.add_bos) ids.push_back(*data_.bos_id);
  // SentencePiece prefixes a space to the text at the start and after every token
  // matched as a whole (llama.cpp; HF's Prepend normalizer runs per text segment too).
  bool after_token = true;
  for (const TextFragment& f : specials_->Partition(text, options.parse_special)) {
    if (f.token_id >= 0) {
      ids.push_back(f.token_id);
      after_token = true;
      continue;
    }
    if (data_.kind == TokenizerKind::kByteLevelBpe) {
      EncodeByteLevel(f.text, &ids);
    } else {
      EncodeSentencePiece(f.text, data_.add_space_prefix && after_token, &ids);
    }
    after_token = false;
  }
  if (options.add_special && data_.add_eos) ids.push_back(*data_.eos_id);
  return ids;
}

absl::StatusOr<std::string> Tokenizer::Decode(std::span<const int32_t> ids,
                                              const DecodeOptions& options) const {
  std::string bytes;
  bool first = true;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokenizer: token id ", id, " is outside the vocabulary of ", vocab_size()));
    }
    // Skipped tokens do not count as the first one, as in HF (which drops them first).
    if (options.skip_special && IsSpecial(id)) continue;
    std::string_view piece = pieces_[id];
    if (first && options.strip_leading_space && data_.add_space_prefix && !piece.empty() &&
        piece.front() == ' ') {
      piece.remove_prefix(1);
    }
    first = false;
    bytes.append(piece);
  }
  return SanitizeUtf8(bytes);
}

std::string_view Tokenizer::TokenBytes(int32_t id, bool skip_special) const {
  if (skip_special && IsSpecial(id)) return {};
  return pieces_[id];
}

bool Tokenizer::IsSpecial(int32_t id) const {
  const TokenType t = data_.types[id];
  return t == TokenType::kControl || t == TokenType::kUnknown;
}

bool Tokenizer::IsEndOfGeneration(int32_t id) const {
  if (data_.eos_id && id == *data_.eos_id) return true;
  for (int32_t e : data_.extra_eos_ids) {
    if (id == e) return true;
  }
  return false;
}

std::optional<int32_t> Tokenizer::TokenToId(std::string_view piece) const {
  auto it = token_to_id_.find(absl::string_view(piece.data(), piece.size()));
  if (it == token_to_id_.end()) return std::nullopt;
  return it->second;
}

int32_t Tokenizer::CharId(std::string_view c) const {
  auto it = token_to_id_.find(absl::string_view(c.data(), c.size()));
  return it == token_to_id_.end() ? -1 : it->second;
}

}  // namespace radixserve::model
