// libFuzzer target: safetensors header parsing and dequantization of accepted tensors.
#include <cstddef>
#include <cstdint>
#include <span>

#include "model/dequantize.h"
#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace radixserve::model;
  auto file = SafetensorsFile::FromBytes(std::span<const uint8_t>(data, size));
  if (!file.ok()) return 0;
  for (const SafetensorsTensor& t : (*file)->tensors()) {
    auto type = SafetensorsFile::LoadableDType(t);
    if (!type.ok() || t.data.size() > (1u << 20)) continue;
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    (void)DequantizeToVector(*type, t.data, n);
  }
  return 0;
}
