#include "tests/model/gguf_builder.h"

#include "common/tensor_types.h"

namespace radixserve::model::testing {

uint64_t TensorBytes(uint32_t type, const std::vector<uint64_t>& dims) {
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;
  const DTypeTraits t = GetDTypeTraits(static_cast<DType>(type));
  return t.block_elems == 0 ? n : n / t.block_elems * t.block_bytes;
}

std::vector<uint8_t> GgufBuilder::Build() const {
  ByteWriter w;
  w.Pod(magic).Pod(version);
  w.Pod<uint64_t>(tensor_count.value_or(tensors_.size()));
  w.Pod<uint64_t>(kv_count.value_or(kvs_.size()));
  for (const KvEntry& kv : kvs_) {
    w.Str(kv.key).Pod(kv.type).Raw(kv.value);
  }
  uint64_t next = 0, data_end = 0;
  for (const TensorSpec& t : tensors_) {
    w.Str(t.name).Pod<uint32_t>(t.n_dims.value_or(static_cast<uint32_t>(t.dims.size())));
    for (uint64_t d : t.dims) w.Pod(d);
    w.Pod(t.type);
    const uint64_t offset = t.offset.value_or(next);
    w.Pod(offset);
    // Explicitly placed tensors do not grow the data section: tests use them to point
    // outside the file.
    if (t.offset.has_value()) continue;
    const uint64_t end = offset + TensorBytes(t.type, t.dims);
    next = (end + alignment - 1) / alignment * alignment;
    data_end = std::max(data_end, end);
  }
  if (!write_data || data_end > (uint64_t{1} << 24)) return w.bytes();
  std::vector<uint8_t>& b = w.bytes();
  b.resize((b.size() + alignment - 1) / alignment * alignment, 0);
  const size_t data_start = b.size();
  b.resize(data_start + data_end);
  for (size_t i = data_start; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 7);
  return b;
}

}  // namespace radixserve::model::testing
