#include "model/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "model/mapped_file.h"
#include "model/model_config.h"
#include "nlohmann/json.hpp"

namespace radixserve::model {
namespace {

using Json = nlohmann::json;

// The reference implementation refuses headers above 100 MB; so do we.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr size_t kMaxRank = 8;

// Element size in bytes of every dtype the format defines; 0 when unknown.
uint64_t DTypeSize(std::string_view d) {
  static constexpr std::pair<std::string_view, uint64_t> kSizes[] = {
      {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4},
      {"I16", 2}, {"I8", 1},  {"U64", 8}, {"U32", 4},  {"U16", 2}, {"U8", 1},
      {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
  for (const auto& [name, size] : kSizes) {
    if (name == d) return size;
  }
  return 0;
}

std::optional<DType> LoadedDType(std::string_view d) {
  if (d == "F32") return DType::kF32;
  if (d == "F16") return DType::kF16;
  if (d == "BF16") return DType::kBF16;
  return std::nullopt;
}

absl::Status Bad(std::string_view name, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrFormat("safetensors header: tensor '%s': %s", name, what));
}

// Validates one header entry (everything but overlap and the file bound).
absl::StatusOr<SafetensorsTensor> ParseEntry(const std::string& name, const Json& e) {
  SafetensorsTensor t;
  t.name = name;
  if (!e.is_object()) return Bad(name, "entry is not an object");
  auto dt = e.find("dtype");
  if (dt == e.end() || !dt->is_string()) return Bad(name, "missing string 'dtype'");
  t.dtype_name = dt->get<std::string>();
  const uint64_t elem_size = DTypeSize(t.dtype_name);
  if (elem_size == 0) return Bad(name, absl::StrFormat("unknown dtype '%s'", t.dtype_name));
  t.dtype = LoadedDType(t.dtype_name);

  auto sh = e.find("shape");
  if (sh == e.end() || !sh->is_array()) return Bad(name, "missing array 'shape'");
  if (sh->size() > kMaxRank) return Bad(name, absl::StrFormat("rank %d exceeds %d", sh->size(), kMaxRank));
  uint64_t elems = 1;
  for (const Json& d : *sh) {
    // Zero-sized dimensions are legal in safetensors (empty tensors).
    if (!d.is_number_unsigned() ||
        d.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Bad(name, "shape entries must be non-negative integers");
    }
    if (__builtin_mul_overflow(elems, d.get<uint64_t>(), &elems)) {
      return Bad(name, "element count overflows");
    }
    t.shape.push_back(static_cast<int64_t>(d.get<uint64_t>()));
  }
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(elems, elem_size, &nbytes)) return Bad(name, "byte size overflows");

  auto off = e.find("data_offsets");
  if (off == e.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
      !(*off)[1].is_number_unsigned()) {
    return Bad(name, "'data_offsets' must be [begin, end] non-negative integers");
  }
  t.begin = (*off)[0].get<uint64_t>();
  t.end = (*off)[1].get<uint64_t>();
  if (t.end < t.begin) {
    return Bad(name, absl::StrFormat("data_offsets [%d, %d) end before begin", t.begin, t.end));
  }
  if (t.end - t.begin != nbytes) {
    return Bad(name, absl::StrFormat("data_offsets [%d, %d) span %d bytes but shape x %s needs %d",
                                     t.begin, t.end, t.end - t.begin, t.dtype_name, nbytes));
  }
  return t;
}

}  // namespace

SafetensorsFile::~SafetensorsFile() { Unmap({mapping_, mapping_size_}); }

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  ASSIGN_OR_RETURN(Mapping m, MapReadOnly(path));
  auto file = std::unique_ptr<SafetensorsFile>(new SafetensorsFile());
  file->mapping_ = m.data;
  file->mapping_size_ = m.size;
  std::span<const uint8_t> bytes(static_cast<const uint8_t*>(m.data), m.size);
  if (absl::Status s = file->Parse(bytes); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
  }
  return file;
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::FromBytes(
    std::span<const uint8_t> bytes) {
  auto file = std::unique_ptr<SafetensorsFile>(new SafetensorsFile());
  RETURN_IF_ERROR(file->Parse(bytes));
  return file;
}

absl::Status SafetensorsFile::Parse(std::span<const uint8_t> bytes) {
  if (bytes.size() < 8) {
    return absl::DataLossError(absl::StrFormat(
        "safetensors truncated: %d bytes, need at least 8 for the header length", bytes.size()));
  }
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  if (n > kMaxHeaderBytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("safetensors header length %d exceeds the %d-byte limit", n, kMaxHeaderBytes));
  }
  if (n > bytes.size() - 8) {
    return absl::DataLossError(absl::StrFormat(
        "safetensors truncated: header length %d but only %d bytes follow", n, bytes.size() - 8));
  }
  header_size_ = n;
  const char* text = reinterpret_cast<const char*>(bytes.data() + 8);
  // nlohmann keeps the last of duplicate keys; a parser callback sees every top-level key
  // so a duplicated tensor name is reported instead of silently dropped.
  std::set<std::string> seen;
  std::string duplicate;
  auto on_event = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::key && depth == 1 && parsed.is_string() &&
        !seen.insert(parsed.get<std::string>()).second && duplicate.empty()) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  Json h = Json::parse(text, text + n, on_event, /*allow_exceptions=*/false);
  if (h.is_discarded()) return absl::InvalidArgumentError("safetensors header is not valid JSON");
  if (!duplicate.empty()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("safetensors header: duplicate tensor name '%s'", duplicate));
  }
  if (!h.is_object()) return absl::InvalidArgumentError("safetensors header is not a JSON object");

  const std::span<const uint8_t> data = bytes.subspan(8 + n);
  for (auto it = h.begin(); it != h.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) {
        return absl::InvalidArgumentError("safetensors header: '__metadata__' is not an object");
      }
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) {
          return absl::InvalidArgumentError(absl::StrFormat(
              "safetensors header: __metadata__ value '%s' is not a string", m.key()));
        }
        metadata_[m.key()] = m->get<std::string>();
      }
      continue;
    }
    ASSIGN_OR_RETURN(SafetensorsTensor t, ParseEntry(it.key(), *it));
    if (t.end > data.size()) {
      return absl::DataLossError(absl::StrFormat(
          "safetensors: tensor '%s' data_offsets [%d, %d) exceed the %d-byte data section",
          t.name, t.begin, t.end, data.size()));
    }
    t.data = data.subspan(t.begin, t.end - t.begin);
    tensors_.push_back(std::move(t));  // nlohmann objects iterate sorted: names are unique
  }

  // No two tensors may share bytes (empty tensors occupy nothing).
  std::vector<const SafetensorsTensor*> by_offset;
  for (const auto& t : tensors_) {
    if (t.end > t.begin) by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const auto* a, const auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i - 1]->end > by_offset[i]->begin) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "safetensors: tensors '%s' [%d, %d) and '%s' [%d, %d) overlap", by_offset[i - 1]->name,
          by_offset[i - 1]->begin, by_offset[i - 1]->end, by_offset[i]->name,
          by_offset[i]->begin, by_offset[i]->end));
    }
  }
  for (size_t i = 0; i < tensors_.size(); ++i) index_.emplace(tensors_[i].name, i);
  return absl::OkStatus();
}

const SafetensorsTensor* SafetensorsFile::Find(std::string_view name) const {
  auto it = index_.find(absl::string_view(name.data(), name.size()));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

absl::StatusOr<DType> SafetensorsFile::LoadableDType(const SafetensorsTensor& t) {
  if (t.dtype.has_value()) return *t.dtype;
  return absl::UnimplementedError(absl::StrFormat(
      "safetensors tensor '%s' has dtype %s; only F32, F16 and BF16 are supported", t.name,
      t.dtype_name));
}

absl::StatusOr<std::map<std::string, std::string>> ParseSafetensorsIndex(std::string_view text) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("safetensors index: not a JSON object");
  }
  auto wm = j.find("weight_map");
  if (wm == j.end() || !wm->is_object()) {
    return absl::InvalidArgumentError("safetensors index: missing object 'weight_map'");
  }
  std::map<std::string, std::string> out;
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    if (!it->is_string()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "safetensors index: weight_map['%s'] is not a string", it.key()));
    }
    std::string shard = it->get<std::string>();
    if (shard.empty() || shard == "." || shard == ".." || shard.find('/') != std::string::npos ||
        shard.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "safetensors index: weight_map['%s'] = '%s' is not a plain file name", it.key(), shard));
    }
    out.emplace(it.key(), std::move(shard));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> SafetensorsCheckpoint::Open(
    const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string index_path;
  std::string single_path;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(fs::path(path) / "model.safetensors.index.json", ec)) {
      index_path = (fs::path(path) / "model.safetensors.index.json").string();
    } else {
      single_path = (fs::path(path) / "model.safetensors").string();
    }
  } else if (path.ends_with(".json")) {
    index_path = path;
  } else {
    single_path = path;
  }

  auto ckpt = std::unique_ptr<SafetensorsCheckpoint>(new SafetensorsCheckpoint());
  if (!single_path.empty()) {
    ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open(single_path));
    for (const auto& t : file->tensors()) ckpt->tensors_.emplace(t.name, &t);
    ckpt->shards_.push_back(std::move(file));
    return ckpt;
  }

  ASSIGN_OR_RETURN(std::string text, ReadTextFile(index_path, 64 << 20));
  auto map = ParseSafetensorsIndex(text);
  if (!map.ok()) return absl::Status(map.status().code(), absl::StrCat(index_path, ": ", map.status().message()));
  const fs::path dir = fs::path(index_path).parent_path();
  std::map<std::string, const SafetensorsFile*> opened;
  for (const auto& [tensor, shard] : *map) {
    if (!opened.contains(shard)) {
      ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open((dir / shard).string()));
      opened[shard] = file.get();
      ckpt->shards_.push_back(std::move(file));
    }
    const SafetensorsTensor* t = opened[shard]->Find(tensor);
    if (t == nullptr) {
      return absl::DataLossError(absl::StrFormat(
          "%s: tensor '%s' is mapped to shard '%s', which does not contain it", index_path,
          tensor, shard));
    }
    ckpt->tensors_.emplace(tensor, t);
  }
  // Tensors present in a shard but absent from the index would be silently ignored by
  // some loaders; a shard listing a tensor the index maps elsewhere is a corrupt index.
  for (const auto& shard : ckpt->shards_) {
    for (const auto& t : shard->tensors()) {
      auto it = ckpt->tensors_.find(t.name);
      if (it != ckpt->tensors_.end() && it->second != &t) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s: tensor '%s' appears in more than one shard", index_path, t.name));
      }
      if (it == ckpt->tensors_.end()) ckpt->tensors_.emplace(t.name, &t);
    }
  }
  return ckpt;
}

}  // namespace radixserve::model
