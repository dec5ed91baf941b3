#include "model/tokenizer_loader.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "model/gguf.h"
#include "model/tokenizer_gguf.h"
#include "model/tokenizer_json.h"

namespace radixserve::model {
namespace {

absl::StatusOr<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path.string()));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path.string()));
  return ss.str();
}

bool HasGgufMagic(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::string_view(magic, 4) == "GGUF";
}

}  // namespace

absl::StatusOr<TokenizerData> LoadTokenizerData(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path p(path);
  if (fs::is_directory(p, ec)) {
    ASSIGN_OR_RETURN(std::string json, ReadFile(p / "tokenizer.json"));
    ASSIGN_OR_RETURN(TokenizerData data, TokenizerDataFromJson(json));
    if (fs::exists(p / "tokenizer_config.json", ec)) {
      ASSIGN_OR_RETURN(std::string config, ReadFile(p / "tokenizer_config.json"));
      RETURN_IF_ERROR(ApplyTokenizerConfigJson(config, &data));
    }
    return data;
  }
  if (!fs::exists(p, ec)) return absl::NotFoundError(absl::StrCat("no such file: ", path));
  if (HasGgufMagic(p)) {
    ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> gguf, GgufFile::Open(path));
    return TokenizerDataFromGguf(*gguf);
  }
  ASSIGN_OR_RETURN(std::string json, ReadFile(p));
  return TokenizerDataFromJson(json);
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& path) {
  ASSIGN_OR_RETURN(TokenizerData data, LoadTokenizerData(path));
  return Tokenizer::Create(std::move(data));
}

}  // namespace radixserve::model
