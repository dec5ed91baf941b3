// libFuzzer target: GGUF parsing, typed getters, the tokenizer adapter, the model config
// and dequantization of every tensor the parser accepts.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "model/dequantize.h"
#include "model/gguf.h"
#include "model/model_config.h"
#include "model/tokenizer_gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace radixserve::model;
  auto file = GgufFile::FromBytes(std::span<const uint8_t>(data, size));
  if (!file.ok()) return 0;
  const GgufFile& f = **file;
  for (const auto& [key, value] : f.metadata()) {
    (void)f.GetInt(key);
    (void)f.GetFloat(key);
    (void)f.GetString(key);
    (void)f.GetStringArray(key);
    (void)f.GetIntArray(key);
    (void)f.GetFloatArray(key);
  }
  (void)TokenizerDataFromGguf(f);
  (void)ModelConfigFromGguf(f);
  for (const GgufTensorInfo& t : f.tensors()) {
    if (t.num_bytes > (1u << 20)) continue;  // keep each input fast
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    (void)DequantizeToVector(t.type, t.data, n);
  }
  return 0;
}
