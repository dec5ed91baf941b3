// `radixserve-model inspect PATH [--json] [--full] [--canonical]`: what a model file holds.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "model/gguf.h"
#include "model/model_config.h"
#include "model/model_source.h"
#include "model/safetensors.h"
#include "model/tools/json_views.h"
#include "model/tools/subcommand.h"

namespace radixserve::model::cli {
namespace {

using Json = nlohmann::ordered_json;

struct InspectOptions {
  std::string path;
  bool json = false;
  bool full = false;       // do not summarise long metadata arrays
  bool canonical = false;  // list ModelSource's canonical tensors instead of the file's
};

constexpr size_t kSummaryElems = 8;

absl::StatusOr<Json> InspectGguf(const InspectOptions& o) {
  ASSIGN_OR_RETURN(auto gguf, GgufFile::Open(o.path));
  Json out;
  out["format"] = "gguf";
  out["version"] = gguf->version();
  out["alignment"] = gguf->alignment();
  out["data_offset"] = gguf->data_offset();
  Json meta = Json::object();
  for (const auto& [key, value] : gguf->metadata()) {
    meta[key] = GgufValueToJson(value, o.full ? 0 : kSummaryElems);
  }
  out["metadata"] = std::move(meta);
  if (auto config = ModelConfigFromGguf(*gguf); config.ok()) {
    out["config"] = ModelConfigToJson(*config);
  } else {
    out["config_error"] = std::string(config.status().message());
  }
  Json tensors = Json::array();
  for (const GgufTensorInfo& t : gguf->tensors()) {
    tensors.push_back({{"name", t.name},
                       {"type", GetDTypeTraits(t.type).name},
                       {"shape", t.shape},
                       {"offset", t.offset},
                       {"num_bytes", t.num_bytes}});
  }
  out["tensors"] = std::move(tensors);
  return out;
}

absl::StatusOr<Json> InspectSafetensors(const InspectOptions& o) {
  ASSIGN_OR_RETURN(auto ckpt, SafetensorsCheckpoint::Open(o.path));
  Json out;
  out["format"] = "safetensors";
  out["shards"] = ckpt->num_shards();
  Json meta = Json::object();  // __metadata__ of every shard, merged
  for (const auto& shard : ckpt->shards()) {
    for (const auto& [k, v] : shard->metadata()) meta[k] = v;
  }
  out["metadata"] = std::move(meta);
  const std::string dir = std::filesystem::is_directory(o.path)
                              ? o.path
                              : std::filesystem::path(o.path).parent_path().string();
  if (auto config = ModelConfigFromHfDir(dir.empty() ? "." : dir); config.ok()) {
    out["config"] = ModelConfigToJson(*config);
  } else {
    out["config_error"] = std::string(config.status().message());
  }
  Json tensors = Json::array();
  for (const auto& [name, t] : ckpt->tensors()) {
    tensors.push_back({{"name", name},
                       {"type", t->dtype_name},
                       {"shape", t->shape},
                       {"data_offsets", Json::array({t->begin, t->end})}});
  }
  out["tensors"] = std::move(tensors);
  return out;
}

absl::StatusOr<Json> InspectCanonical(const InspectOptions& o) {
  ASSIGN_OR_RETURN(auto src, ModelSource::Open(o.path));
  Json out;
  out["format"] = ModelFormatName(src->format());
  out["config"] = ModelConfigToJson(src->config());
  Json tensors = Json::array();
  for (const WeightTensor& t : src->tensors()) {
    tensors.push_back({{"name", t.name},
                       {"type", GetDTypeTraits(t.dtype).name},
                       {"shape", t.shape},
                       {"source_name", t.source_name}});
  }
  out["tensors"] = std::move(tensors);
  return out;
}

void PrintText(const Json& j) {
  std::cout << "format: " << j["format"].get<std::string>();
  if (j.contains("version")) std::cout << " v" << j["version"].get<uint32_t>();
  std::cout << "\n";
  if (j.contains("metadata")) {
    std::cout << "metadata (" << j["metadata"].size() << "):\n";
    for (const auto& [key, v] : j["metadata"].items()) {
      std::cout << "  " << key << " = " << (v.is_object() ? JsonValueSummary(v) : v.dump())
                << "\n";
    }
  }
  if (j.contains("config")) {
    std::cout << "config:\n";
    for (const auto& [key, v] : j["config"].items()) {
      std::cout << "  " << key << ": " << v.dump(-1, ' ', false, Json::error_handler_t::replace)
                << "\n";
    }
  } else if (j.contains("config_error")) {
    std::cout << "config: (unavailable: " << j["config_error"].get<std::string>() << ")\n";
  }
  std::cout << "tensors (" << j["tensors"].size() << "):\n";
  for (const Json& t : j["tensors"]) {
    std::cout << "  " << t["name"].get<std::string>() << "  " << t["type"].get<std::string>()
              << "  " << t["shape"].dump();
    if (t.contains("offset")) std::cout << "  @" << t["offset"].get<uint64_t>();
    if (t.contains("data_offsets")) std::cout << "  @" << t["data_offsets"][0].get<uint64_t>();
    std::cout << "\n";
  }
}

int RunInspect(const InspectOptions& o) {
  absl::StatusOr<Json> j;
  if (o.canonical) {
    j = InspectCanonical(o);
  } else if (!std::filesystem::is_directory(o.path) && o.path.ends_with(".gguf")) {
    j = InspectGguf(o);
  } else {
    j = InspectSafetensors(o);
  }
  if (!j.ok()) {
    std::cerr << "error: " << j.status() << "\n";
    return 1;
  }
  if (o.json) {
    std::cout << j->dump(1, ' ', false, Json::error_handler_t::replace) << "\n";
  } else {
    PrintText(*j);
  }
  return 0;
}

}  // namespace

SubcommandRun SetupInspect(CLI::App& sub) {
  auto o = std::make_shared<InspectOptions>();
  sub.add_option("path", o->path, ".gguf file, .safetensors file or Hugging Face directory")
      ->required();
  sub.add_flag("--json", o->json, "Print JSON");
  sub.add_flag("--full", o->full, "Print every element of long metadata arrays");
  sub.add_flag("--canonical", o->canonical,
               "List the canonical tensors (GGUF names, GGML shapes) a backend would load");
  return [o] { return RunInspect(*o); };
}

}  // namespace radixserve::model::cli
