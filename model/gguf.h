// GGUF reader (versions 2 and 3): metadata, tensor infos and memory-mapped tensor data.
//
// Every count, length and offset in the file is checked against the file size before it
// is used, so a truncated or hostile file yields an error status, never a crash.
// Thread safety: a GgufFile is immutable after Open() and may be read from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/tensor_types.h"

namespace radixserve::model {

// GGUF metadata value type ids, as stored in the file.
enum class GgufValueType : uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5,
  kFloat32 = 6, kBool = 7, kString = 8, kArray = 9, kUint64 = 10, kInt64 = 11,
  kFloat64 = 12,
};

// Lower-case spelling of a value type ("uint32", "string", "array", ...).
std::string_view GgufValueTypeName(GgufValueType t);

struct GgufArray;
// One metadata value. Integers keep their signedness; arrays are homogeneous.
struct GgufValue {
  GgufValueType type;
  std::variant<uint64_t, int64_t, double, bool, std::string, std::shared_ptr<GgufArray>> value;
};
struct GgufArray {
  GgufValueType element_type;
  std::vector<GgufValue> elements;
};

struct GgufTensorInfo {
  std::string name;
  DType type;
  std::vector<int64_t> shape;  // GGML order: shape[0] is the contiguous (row) dimension
  uint64_t offset;             // relative to the start of the data section
  uint64_t num_bytes;          // derived from type and shape
  std::span<const uint8_t> data;  // points into the mapping
};

class GgufFile {
 public:
  // Maps `path` read-only and parses it.
  static absl::StatusOr<std::unique_ptr<GgufFile>> Open(const std::string& path);
  // Parses an in-memory image (fuzzers, tests). `bytes` must outlive the GgufFile.
  static absl::StatusOr<std::unique_ptr<GgufFile>> FromBytes(std::span<const uint8_t> bytes);

  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  // Byte offset of the data section in the file (tensor offsets are relative to it).
  uint64_t data_offset() const { return data_offset_; }
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }

  const GgufValue* FindValue(std::string_view key) const;
  const GgufTensorInfo* FindTensor(std::string_view name) const;

  // Typed getters: NotFound when absent, InvalidArgument on a type mismatch. Integer
  // getters accept any integer type whose value fits.
  absl::StatusOr<int64_t> GetInt(std::string_view key) const;
  absl::StatusOr<double> GetFloat(std::string_view key) const;  // float32/64 and integers
  absl::StatusOr<bool> GetBool(std::string_view key) const;
  absl::StatusOr<std::string> GetString(std::string_view key) const;
  absl::StatusOr<std::vector<std::string>> GetStringArray(std::string_view key) const;
  absl::StatusOr<std::vector<int64_t>> GetIntArray(std::string_view key) const;
  absl::StatusOr<std::vector<double>> GetFloatArray(std::string_view key) const;

 private:
  GgufFile() = default;
  absl::Status Parse(std::span<const uint8_t> bytes);

  void* mapping_ = nullptr;
  size_t mapping_size_ = 0;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  absl::flat_hash_map<std::string, size_t> metadata_index_;
  std::vector<GgufTensorInfo> tensors_;
  absl::flat_hash_map<std::string, size_t> tensor_index_;
};

}  // namespace radixserve::model
