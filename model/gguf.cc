// GGUF parsing. Layout (little-endian, versions 2 and 3 are byte-identical for
// little-endian files; v3 only added big-endian variants, which we reject):
//
//   magic "GGUF" | u32 version | u64 tensor_count | u64 kv_count
//   kv_count x  { string key | u32 value_type | value }
//   tensor_count x { string name | u32 n_dims | u64 dims[n_dims] | u32 type | u64 offset }
//   padding to `general.alignment` (default 32)
//   data section: each tensor at data_start + offset (offset % alignment == 0)
//
// string = u64 length + bytes (no terminator); array = u32 element_type + u64 count +
// elements (arrays may nest). Version 1 used u32 counts and lengths; it is rejected.
#include "model/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "model/mapped_file.h"

namespace radixserve::model {
namespace {

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as little-endian u32
constexpr int kMaxArrayDepth = 8;            // nested arrays deeper than this are rejected
constexpr uint32_t kMaxDims = 4;             // GGML_MAX_DIMS
constexpr uint64_t kMaxAlignment = 1u << 20;

// Smallest encoded size of one element of each value type, used to reject counts that
// the remaining bytes cannot possibly hold before anything is reserved.
uint64_t MinEncodedSize(GgufValueType t) {
  switch (t) {
    case GgufValueType::kUint8: case GgufValueType::kInt8: case GgufValueType::kBool: return 1;
    case GgufValueType::kUint16: case GgufValueType::kInt16: return 2;
    case GgufValueType::kUint32: case GgufValueType::kInt32: case GgufValueType::kFloat32: return 4;
    case GgufValueType::kUint64: case GgufValueType::kInt64: case GgufValueType::kFloat64: return 8;
    case GgufValueType::kString: return 8;   // u64 length, possibly empty
    case GgufValueType::kArray: return 12;   // u32 type + u64 count
  }
  return 0;
}

bool IsValidValueType(uint32_t t) { return t <= static_cast<uint32_t>(GgufValueType::kFloat64); }

// Cursor over the file image. Every read is bounds-checked; errors carry the offset.
class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }

  absl::Status Need(uint64_t n, std::string_view what) const {
    if (n > remaining()) {
      return absl::DataLossError(absl::StrFormat(
          "GGUF truncated at byte %d: %s needs %d bytes but only %d remain", pos_, what, n,
          remaining()));
    }
    return absl::OkStatus();
  }

  template <typename T>
  absl::StatusOr<T> Read(std::string_view what) {
    RETURN_IF_ERROR(Need(sizeof(T), what));
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  absl::StatusOr<std::string> ReadString(std::string_view what) {
    const uint64_t at = pos_;
    ASSIGN_OR_RETURN(uint64_t len, Read<uint64_t>(what));
    if (len > remaining()) {
      return absl::DataLossError(absl::StrFormat(
          "GGUF truncated at byte %d: %s has length %d but only %d bytes remain", at, what, len,
          remaining()));
    }
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), len);
    pos_ += len;
    return s;
  }

  // Rejects `count` elements of at least `min_size` bytes each that cannot fit.
  absl::Status CheckCount(uint64_t count, uint64_t min_size, std::string_view what) const {
    if (min_size != 0 && count > remaining() / min_size) {
      // Either the file is cut short or the count is corrupt; both are data loss.
      return absl::DataLossError(absl::StrFormat(
          "GGUF byte %d: %s count %d cannot fit in the remaining %d bytes (truncated file or "
          "corrupt count)",
          pos_, what, count, remaining()));
    }
    return absl::OkStatus();
  }

 private:
  std::span<const uint8_t> bytes_;
  uint64_t pos_ = 0;
};

absl::StatusOr<GgufValue> ReadValue(Cursor& c, GgufValueType type, int depth);

absl::StatusOr<GgufValue> ReadArray(Cursor& c, int depth) {
  const uint64_t at = c.pos();
  if (depth >= kMaxArrayDepth) {
    return absl::InvalidArgumentError(
        absl::StrFormat("GGUF byte %d: arrays nested deeper than %d", at, kMaxArrayDepth));
  }
  ASSIGN_OR_RETURN(uint32_t elem_type, c.Read<uint32_t>("array element type"));
  if (!IsValidValueType(elem_type)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("GGUF byte %d: unknown array element type %d", at, elem_type));
  }
  const auto et = static_cast<GgufValueType>(elem_type);
  ASSIGN_OR_RETURN(uint64_t count, c.Read<uint64_t>("array count"));
  RETURN_IF_ERROR(c.CheckCount(count, MinEncodedSize(et), "array element"));
  auto arr = std::make_shared<GgufArray>();
  arr->element_type = et;
  arr->elements.reserve(count);  // bounded by remaining bytes above
  for (uint64_t i = 0; i < count; ++i) {
    ASSIGN_OR_RETURN(GgufValue v, ReadValue(c, et, depth + 1));
    arr->elements.push_back(std::move(v));
  }
  return GgufValue{GgufValueType::kArray, std::move(arr)};
}

absl::StatusOr<GgufValue> ReadValue(Cursor& c, GgufValueType type, int depth) {
  GgufValue v{type, uint64_t{0}};
  switch (type) {
    case GgufValueType::kUint8: { ASSIGN_OR_RETURN(uint8_t x, c.Read<uint8_t>("uint8")); v.value = uint64_t{x}; break; }
    case GgufValueType::kUint16: { ASSIGN_OR_RETURN(uint16_t x, c.Read<uint16_t>("uint16")); v.value = uint64_t{x}; break; }
    case GgufValueType::kUint32: { ASSIGN_OR_RETURN(uint32_t x, c.Read<uint32_t>("uint32")); v.value = uint64_t{x}; break; }
    case GgufValueType::kUint64: { ASSIGN_OR_RETURN(uint64_t x, c.Read<uint64_t>("uint64")); v.value = x; break; }
    case GgufValueType::kInt8: { ASSIGN_OR_RETURN(int8_t x, c.Read<int8_t>("int8")); v.value = int64_t{x}; break; }
    case GgufValueType::kInt16: { ASSIGN_OR_RETURN(int16_t x, c.Read<int16_t>("int16")); v.value = int64_t{x}; break; }
    case GgufValueType::kInt32: { ASSIGN_OR_RETURN(int32_t x, c.Read<int32_t>("int32")); v.value = int64_t{x}; break; }
    case GgufValueType::kInt64: { ASSIGN_OR_RETURN(int64_t x, c.Read<int64_t>("int64")); v.value = x; break; }
    case GgufValueType::kFloat32: { ASSIGN_OR_RETURN(float x, c.Read<float>("float32")); v.value = double{x}; break; }
    case GgufValueType::kFloat64: { ASSIGN_OR_RETURN(double x, c.Read<double>("float64")); v.value = x; break; }
    case GgufValueType::kBool: {
      const uint64_t at = c.pos();
      ASSIGN_OR_RETURN(uint8_t x, c.Read<uint8_t>("bool"));
      if (x > 1) {
        return absl::InvalidArgumentError(
            absl::StrFormat("GGUF byte %d: bool value %d is neither 0 nor 1", at, x));
      }
      v.value = x == 1;
      break;
    }
    case GgufValueType::kString: { ASSIGN_OR_RETURN(std::string s, c.ReadString("string value")); v.value = std::move(s); break; }
    case GgufValueType::kArray: return ReadArray(c, depth);
  }
  return v;
}

bool CheckedMul(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }
bool CheckedAdd(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_add_overflow(a, b, out); }

std::string_view TypeName(GgufValueType t) {
  static constexpr std::string_view kNames[] = {"uint8", "int8", "uint16", "int16", "uint32",
                                                "int32", "float32", "bool", "string", "array",
                                                "uint64", "int64", "float64"};
  const auto i = static_cast<uint32_t>(t);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

absl::Status TypeMismatch(std::string_view key, std::string_view want, const GgufValue& v) {
  return absl::InvalidArgumentError(
      absl::StrFormat("GGUF key '%s': expected %s, found %s", key, want, TypeName(v.type)));
}

absl::StatusOr<int64_t> AsInt(std::string_view key, const GgufValue& v) {
  if (const auto* u = std::get_if<uint64_t>(&v.value)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return absl::OutOfRangeError(
          absl::StrFormat("GGUF key '%s': value %d does not fit in int64", key, *u));
    }
    return static_cast<int64_t>(*u);
  }
  if (const auto* i = std::get_if<int64_t>(&v.value)) return *i;
  return TypeMismatch(key, "an integer", v);
}

absl::StatusOr<double> AsFloat(std::string_view key, const GgufValue& v) {
  if (const auto* d = std::get_if<double>(&v.value)) return *d;
  if (const auto* u = std::get_if<uint64_t>(&v.value)) return static_cast<double>(*u);
  if (const auto* i = std::get_if<int64_t>(&v.value)) return static_cast<double>(*i);
  return TypeMismatch(key, "a number", v);
}

}  // namespace

std::string_view GgufValueTypeName(GgufValueType t) { return TypeName(t); }

GgufFile::~GgufFile() {
  Unmap({mapping_, mapping_size_});
}

absl::StatusOr<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  ASSIGN_OR_RETURN(Mapping m, MapReadOnly(path));
  auto file = std::unique_ptr<GgufFile>(new GgufFile());
  file->mapping_ = m.data;
  file->mapping_size_ = m.size;
  std::span<const uint8_t> bytes(static_cast<const uint8_t*>(m.data), m.size);
  if (absl::Status s = file->Parse(bytes); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
  }
  return file;
}

absl::StatusOr<std::unique_ptr<GgufFile>> GgufFile::FromBytes(std::span<const uint8_t> bytes) {
  auto file = std::unique_ptr<GgufFile>(new GgufFile());
  RETURN_IF_ERROR(file->Parse(bytes));
  return file;
}

absl::Status GgufFile::Parse(std::span<const uint8_t> bytes) {
  Cursor c(bytes);
  ASSIGN_OR_RETURN(uint32_t magic, c.Read<uint32_t>("magic"));
  if (magic != kGgufMagic) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "GGUF byte 0: bad magic 0x%08x (expected \"GGUF\")", magic));
  }
  ASSIGN_OR_RETURN(version_, c.Read<uint32_t>("version"));
  if (version_ == 0x02000000u || version_ == 0x03000000u) {
    return absl::UnimplementedError(absl::StrFormat(
        "GGUF byte 4: big-endian GGUF (version field 0x%08x) is not supported", version_));
  }
  if (version_ != 2 && version_ != 3) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "GGUF byte 4: unsupported version %d (supported: 2, 3)", version_));
  }
  ASSIGN_OR_RETURN(uint64_t tensor_count, c.Read<uint64_t>("tensor count"));
  ASSIGN_OR_RETURN(uint64_t kv_count, c.Read<uint64_t>("metadata count"));
  // A key-value pair is at least 8 (key length) + 4 (type) + 1 bytes.
  RETURN_IF_ERROR(c.CheckCount(kv_count, 13, "metadata key-value"));

  metadata_.reserve(kv_count);
  for (uint64_t i = 0; i < kv_count; ++i) {
    const uint64_t at = c.pos();
    ASSIGN_OR_RETURN(std::string key, c.ReadString("metadata key"));
    ASSIGN_OR_RETURN(uint32_t type, c.Read<uint32_t>("metadata value type"));
    if (!IsValidValueType(type)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "GGUF byte %d: key '%s' has unknown value type %d", at, key, type));
    }
    ASSIGN_OR_RETURN(GgufValue value, ReadValue(c, static_cast<GgufValueType>(type), 0));
    if (!metadata_index_.emplace(key, metadata_.size()).second) {
      return absl::InvalidArgumentError(
          absl::StrFormat("GGUF byte %d: duplicate metadata key '%s'", at, key));
    }
    metadata_.emplace_back(std::move(key), std::move(value));
  }

  if (const GgufValue* a = FindValue("general.alignment"); a != nullptr) {
    auto align = AsInt("general.alignment", *a);
    if (!align.ok() || *align <= 0 || (*align & (*align - 1)) != 0 ||
        static_cast<uint64_t>(*align) > kMaxAlignment) {
      return absl::InvalidArgumentError(
          "GGUF: general.alignment must be a power-of-two integer in [1, 1048576]");
    }
    alignment_ = static_cast<uint64_t>(*align);
  }

  // A tensor info is at least 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset) bytes.
  RETURN_IF_ERROR(c.CheckCount(tensor_count, 24, "tensor info"));
  tensors_.reserve(tensor_count);
  for (uint64_t i = 0; i < tensor_count; ++i) {
    const uint64_t at = c.pos();
    GgufTensorInfo t;
    ASSIGN_OR_RETURN(t.name, c.ReadString("tensor name"));
    ASSIGN_OR_RETURN(uint32_t n_dims, c.Read<uint32_t>("tensor n_dims"));
    if (n_dims == 0 || n_dims > kMaxDims) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "GGUF byte %d: tensor '%s' has %d dimensions (must be 1..%d)", at, t.name, n_dims,
          kMaxDims));
    }
    uint64_t elems = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      ASSIGN_OR_RETURN(uint64_t dim, c.Read<uint64_t>("tensor dimension"));
      if (dim == 0 || dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "GGUF byte %d: tensor '%s' dimension %d is %d (must be positive)", at, t.name, d,
            static_cast<int64_t>(dim)));
      }
      if (!CheckedMul(elems, dim, &elems) ||
          elems > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "GGUF byte %d: tensor '%s' element count overflows", at, t.name));
      }
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    ASSIGN_OR_RETURN(uint32_t type, c.Read<uint32_t>("tensor type"));
    if (!IsKnownDType(type)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "GGUF byte %d: tensor '%s' has unknown type id %d", at, t.name, type));
    }
    t.type = static_cast<DType>(type);
    const DTypeTraits traits = GetDTypeTraits(t.type);
    if (static_cast<uint64_t>(t.shape[0]) % traits.block_elems != 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "GGUF byte %d: tensor '%s' row length %d is not a multiple of the %s block size %d",
          at, t.name, t.shape[0], traits.name, traits.block_elems));
    }
    if (!CheckedMul(elems / traits.block_elems, traits.block_bytes, &t.num_bytes)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("GGUF byte %d: tensor '%s' byte size overflows", at, t.name));
    }
    ASSIGN_OR_RETURN(t.offset, c.Read<uint64_t>("tensor offset"));
    if (t.offset % alignment_ != 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "GGUF byte %d: tensor '%s' offset %d is not a multiple of the alignment %d", at,
          t.name, t.offset, alignment_));
    }
    if (!tensor_index_.emplace(t.name, tensors_.size()).second) {
      return absl::InvalidArgumentError(
          absl::StrFormat("GGUF byte %d: duplicate tensor name '%s'", at, t.name));
    }
    tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment.
  uint64_t data_start = c.pos();
  if (const uint64_t rem = data_start % alignment_; rem != 0) data_start += alignment_ - rem;
  const uint64_t file_size = bytes.size();

  for (GgufTensorInfo& t : tensors_) {
    uint64_t begin = 0, end = 0;
    if (!CheckedAdd(data_start, t.offset, &begin) || !CheckedAdd(begin, t.num_bytes, &end) ||
        end > file_size) {
      return absl::DataLossError(absl::StrFormat(
          "GGUF: tensor '%s' (%d bytes at data offset %d; the data section starts at byte %d) "
          "lies outside the %d-byte file",
          t.name, t.num_bytes, t.offset, data_start, file_size));
    }
    t.data = bytes.subspan(begin, t.num_bytes);
  }

  // Tensors must not share bytes: sort by offset and compare neighbours.
  std::vector<size_t> order(tensors_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return tensors_[a].offset < tensors_[b].offset; });
  for (size_t i = 1; i < order.size(); ++i) {
    const GgufTensorInfo& prev = tensors_[order[i - 1]];
    const GgufTensorInfo& cur = tensors_[order[i]];
    if (prev.offset + prev.num_bytes > cur.offset) {  // no overflow: both checked above
      return absl::InvalidArgumentError(absl::StrFormat(
          "GGUF: tensors '%s' [%d, %d) and '%s' [%d, %d) overlap in the data section",
          prev.name, prev.offset, prev.offset + prev.num_bytes, cur.name, cur.offset,
          cur.offset + cur.num_bytes));
    }
  }
  data_offset_ = data_start;
  return absl::OkStatus();
}

const GgufValue* GgufFile::FindValue(std::string_view key) const {
  auto it = metadata_index_.find(absl::string_view(key.data(), key.size()));
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

const GgufTensorInfo* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(absl::string_view(name.data(), name.size()));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {
absl::Status NotFound(std::string_view key) {
  return absl::NotFoundError(absl::StrFormat("GGUF key '%s' not found", key));
}
}  // namespace

absl::StatusOr<int64_t> GgufFile::GetInt(std::string_view key) const {
  const GgufValue* v = FindValue(key);
  if (v == nullptr) return NotFound(key);
  return AsInt(key, *v);
}

absl::StatusOr<double> GgufFile::GetFloat(std::string_view key) const {
  const GgufValue* v = FindValue(key);
  if (v == nullptr) return NotFound(key);
  return AsFloat(key, *v);
}

absl::StatusOr<bool> GgufFile::GetBool(std::string_view key) const {
  const GgufValue* v = FindValue(key);
  if (v == nullptr) return NotFound(key);
  if (const auto* b = std::get_if<bool>(&v->value)) return *b;
  return TypeMismatch(key, "a bool", *v);
}

absl::StatusOr<std::string> GgufFile::GetString(std::string_view key) const {
  const GgufValue* v = FindValue(key);
  if (v == nullptr) return NotFound(key);
  if (const auto* s = std::get_if<std::string>(&v->value)) return *s;
  return TypeMismatch(key, "a string", *v);
}

namespace {
absl::StatusOr<const GgufArray*> GetArray(const GgufFile& f, std::string_view key) {
  const GgufValue* v = f.FindValue(key);
  if (v == nullptr) return NotFound(key);
  const auto* a = std::get_if<std::shared_ptr<GgufArray>>(&v->value);
  if (a == nullptr) return TypeMismatch(key, "an array", *v);
  return a->get();
}
}  // namespace

absl::StatusOr<std::vector<std::string>> GgufFile::GetStringArray(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufArray* a, GetArray(*this, key));
  if (a->element_type != GgufValueType::kString) {
    return absl::InvalidArgumentError(
        absl::StrFormat("GGUF key '%s': expected an array of string, found an array of %s", key,
                        TypeName(a->element_type)));
  }
  std::vector<std::string> out;
  out.reserve(a->elements.size());
  for (const GgufValue& e : a->elements) out.push_back(std::get<std::string>(e.value));
  return out;
}

absl::StatusOr<std::vector<int64_t>> GgufFile::GetIntArray(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufArray* a, GetArray(*this, key));
  std::vector<int64_t> out;
  out.reserve(a->elements.size());
  for (const GgufValue& e : a->elements) {
    ASSIGN_OR_RETURN(int64_t x, AsInt(key, e));
    out.push_back(x);
  }
  return out;
}

absl::StatusOr<std::vector<double>> GgufFile::GetFloatArray(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufArray* a, GetArray(*this, key));
  std::vector<double> out;
  out.reserve(a->elements.size());
  for (const GgufValue& e : a->elements) {
    ASSIGN_OR_RETURN(double x, AsFloat(key, e));
    out.push_back(x);
  }
  return out;
}

}  // namespace radixserve::model
