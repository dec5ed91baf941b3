// `radixserve-model dump-tensor PATH NAME --out FILE [--canonical]` (hidden; tests): writes
// the tensor dequantized to float32 as raw little-endian bytes, in storage order, and
// prints {"name", "type", "shape"} as JSON on stdout.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "common/status_macros.h"
#include "model/dequantize.h"
#include "model/gguf.h"
#include "model/model_source.h"
#include "model/safetensors.h"
#include "model/tools/subcommand.h"
#include "nlohmann/json.hpp"

namespace radixserve::model::cli {
namespace {

struct DumpOptions {
  std::string path, name, out;
  bool canonical = false;
};

struct Found {
  DType type;
  std::vector<int64_t> shape;
  std::span<const uint8_t> data;
};

int64_t NumElements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // shapes were validated by the readers
  return n;
}

absl::Status RunDump(const DumpOptions& o) {
  // Keep whichever reader found the tensor alive while its bytes are used.
  std::unique_ptr<ModelSource> src;
  std::unique_ptr<GgufFile> gguf;
  std::unique_ptr<SafetensorsCheckpoint> st;
  Found f;
  if (o.canonical) {
    ASSIGN_OR_RETURN(src, ModelSource::Open(o.path));
    const WeightTensor* t = src->Find(o.name);
    if (t == nullptr) return absl::NotFoundError("no canonical tensor '" + o.name + "'");
    f = {t->dtype, t->shape, t->data};
  } else if (!std::filesystem::is_directory(o.path) && o.path.ends_with(".gguf")) {
    ASSIGN_OR_RETURN(gguf, GgufFile::Open(o.path));
    const GgufTensorInfo* t = gguf->FindTensor(o.name);
    if (t == nullptr) return absl::NotFoundError("no tensor '" + o.name + "'");
    f = {t->type, t->shape, t->data};
  } else {
    ASSIGN_OR_RETURN(st, SafetensorsCheckpoint::Open(o.path));
    auto it = st->tensors().find(o.name);
    if (it == st->tensors().end()) return absl::NotFoundError("no tensor '" + o.name + "'");
    ASSIGN_OR_RETURN(DType type, SafetensorsFile::LoadableDType(*it->second));
    f = {type, it->second->shape, it->second->data};
  }
  ASSIGN_OR_RETURN(std::vector<float> values,
                   DequantizeToVector(f.type, f.data, NumElements(f.shape)));
  std::ofstream out(o.out, std::ios::binary);
  out.write(reinterpret_cast<const char*>(values.data()),
            static_cast<std::streamsize>(values.size() * sizeof(float)));
  if (!out) return absl::InternalError("cannot write '" + o.out + "'");
  nlohmann::json j = {{"name", o.name}, {"type", GetDTypeTraits(f.type).name}, {"shape", f.shape}};
  std::cout << j.dump() << "\n";
  return absl::OkStatus();
}

}  // namespace

SubcommandRun SetupDumpTensor(CLI::App& sub) {
  auto o = std::make_shared<DumpOptions>();
  sub.add_option("path", o->path, "Model file or directory")->required();
  sub.add_option("name", o->name, "Tensor name")->required();
  sub.add_option("-o,--out", o->out, "Output file (raw float32)")->required();
  sub.add_flag("--canonical", o->canonical, "Look the name up in the canonical description");
  return [o] {
    if (absl::Status s = RunDump(*o); !s.ok()) {
      std::cerr << "error: " << s << "\n";
      return 1;
    }
    return 0;
  };
}

}  // namespace radixserve::model::cli
