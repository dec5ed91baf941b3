// Test helper: writes GGUF images byte by byte so tests can produce both valid files and
// precisely broken ones (every field can be overridden).
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace radixserve::model::testing {

class ByteWriter {
 public:
  template <typename T>
  ByteWriter& Pod(T v) {
    const size_t at = bytes_.size();
    bytes_.resize(at + sizeof(T));
    std::memcpy(bytes_.data() + at, &v, sizeof(T));
    return *this;
  }
  ByteWriter& Str(std::string_view s) {
    Pod<uint64_t>(s.size());
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    return *this;
  }
  ByteWriter& Raw(const std::vector<uint8_t>& b) {
    bytes_.insert(bytes_.end(), b.begin(), b.end());
    return *this;
  }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

struct TensorSpec {
  TensorSpec(std::string n, std::vector<uint64_t> d, uint32_t t = 0,
             std::optional<uint64_t> off = std::nullopt)
      : name(std::move(n)), dims(std::move(d)), type(t), offset(off) {}
  std::string name;
  std::vector<uint64_t> dims;  // GGML order
  uint32_t type = 0;           // F32
  std::optional<uint64_t> offset;     // default: packed, aligned, data written
  std::optional<uint32_t> n_dims;     // default: dims.size()
};

class GgufBuilder {
 public:
  uint32_t magic = 0x46554747;
  uint32_t version = 3;
  std::optional<uint64_t> tensor_count, kv_count;  // overrides
  uint64_t alignment = 32;   // used for packing; set general.alignment via a KV yourself
  bool write_data = true;    // false: stop after the tensor infos (and padding)

  // Encoded value bytes, without the type id.
  static std::vector<uint8_t> U32(uint32_t v) { ByteWriter w; w.Pod(v); return w.bytes(); }
  static std::vector<uint8_t> String(std::string_view s) { ByteWriter w; w.Str(s); return w.bytes(); }

  GgufBuilder& Kv(std::string_view key, uint32_t type, const std::vector<uint8_t>& value) {
    kvs_.push_back({std::string(key), type, value});
    return *this;
  }
  GgufBuilder& KvU32(std::string_view key, uint32_t v) { return Kv(key, 4, U32(v)); }
  GgufBuilder& KvString(std::string_view key, std::string_view s) { return Kv(key, 8, String(s)); }
  GgufBuilder& KvStringArray(std::string_view key, const std::vector<std::string>& v) {
    ByteWriter w;
    w.Pod<uint32_t>(8).Pod<uint64_t>(v.size());
    for (const auto& s : v) w.Str(s);
    return Kv(key, 9, w.bytes());
  }
  GgufBuilder& Tensor(TensorSpec t) {
    tensors_.push_back(std::move(t));
    return *this;
  }

  std::vector<uint8_t> Build() const;

 private:
  struct KvEntry {
    std::string key;
    uint32_t type;
    std::vector<uint8_t> value;
  };
  std::vector<KvEntry> kvs_;
  std::vector<TensorSpec> tensors_;
};

// Bytes of a tensor of `type` with `dims` (F32, F16, Q4_0, Q4_1, Q8_0 only).
uint64_t TensorBytes(uint32_t type, const std::vector<uint64_t>& dims);

}  // namespace radixserve::model::testing
