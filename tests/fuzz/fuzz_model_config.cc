// libFuzzer target: HF config.json (+ generation_config.json) and the safetensors index.
// The input is split at the first NUL: config.json text, then generation_config.json text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model/model_config.h"
#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace radixserve::model;
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const size_t nul = all.find('\0');
  const std::string_view config = all.substr(0, nul);
  const std::string_view generation = nul == std::string_view::npos ? "" : all.substr(nul + 1);
  (void)ModelConfigFromHfJson(config, generation);
  (void)ParseSafetensorsIndex(config);
  return 0;
}
