// safetensors reader: one memory-mapped file, or a sharded checkpoint described by
// model.safetensors.index.json.
//
// File layout: u64 little-endian header length N | N bytes of JSON header | data.
// The header maps tensor names to {"dtype", "shape" (row-major, outermost first),
// "data_offsets": [begin, end) relative to the start of the data}, plus an optional
// "__metadata__" object of string values. Every offset, size and shape is validated
// against the file before a tensor is exposed.
// Thread safety: immutable after Open(); readable from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/tensor_types.h"

namespace radixserve::model {

struct SafetensorsTensor {
  std::string name;
  std::string dtype_name;        // as spelled in the header: "F32", "BF16", "I64", ...
  std::optional<DType> dtype;    // set for F32, F16, BF16 (the dtypes we load)
  std::vector<int64_t> shape;    // row-major: shape.back() is contiguous
  uint64_t begin = 0, end = 0;   // byte range relative to the data section
  std::span<const uint8_t> data; // points into the mapping
};

class SafetensorsFile {
 public:
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  // Parses an in-memory image (fuzzers, tests). `bytes` must outlive the object.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> FromBytes(std::span<const uint8_t> bytes);

  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }  // sorted by name
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  uint64_t header_size() const { return header_size_; }
  const SafetensorsTensor* Find(std::string_view name) const;

  // The element type a loaded tensor has: F32/F16/BF16, else Unimplemented naming the
  // dtype (e.g. "I64", "F8_E4M3").
  static absl::StatusOr<DType> LoadableDType(const SafetensorsTensor& t);

 private:
  SafetensorsFile() = default;
  absl::Status Parse(std::span<const uint8_t> bytes);

  void* mapping_ = nullptr;
  size_t mapping_size_ = 0;
  uint64_t header_size_ = 0;
  std::vector<SafetensorsTensor> tensors_;
  absl::flat_hash_map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// A checkpoint: one model.safetensors, or the shards listed by the index.
class SafetensorsCheckpoint {
 public:
  // `path` is a .safetensors file, a model.safetensors.index.json, or a directory holding
  // either (the index wins). Shard names in the index must be plain file names in the
  // index's directory; every tensor the index maps must exist in its shard, and no tensor
  // may appear in two shards.
  static absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> Open(const std::string& path);

  // Tensor name -> tensor, across all shards. Pointers stay valid for the object's life.
  const std::map<std::string, const SafetensorsTensor*>& tensors() const { return tensors_; }
  size_t num_shards() const { return shards_.size(); }
  const std::vector<std::unique_ptr<SafetensorsFile>>& shards() const { return shards_; }

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, const SafetensorsTensor*> tensors_;
};

// Parses the text of a model.safetensors.index.json into tensor -> shard file name.
// Shard names containing '/' or equal to "." / ".." are rejected.
absl::StatusOr<std::map<std::string, std::string>> ParseSafetensorsIndex(std::string_view json);

}  // namespace radixserve::model
