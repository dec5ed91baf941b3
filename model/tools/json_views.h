// JSON renderings of model-layer values for the CLI (stable: tests parse them).
#pragma once

#include <cstddef>
#include <string>

#include "model/gguf.h"
#include "model/model_config.h"
#include "nlohmann/json.hpp"

namespace radixserve::model::cli {

// {"type": "uint32", "value": 7}; arrays: {"type": "array", "element_type": T,
// "count": N, "value": [...]}, where scalar elements are plain JSON values and nested arrays
// are objects of this same form. max_elems > 0 keeps only that many elements and adds
// "truncated": true.
nlohmann::ordered_json GgufValueToJson(const GgufValue& v, size_t max_elems);

nlohmann::ordered_json ModelConfigToJson(const ModelConfig& c);

// One-line human rendering of a GgufValueToJson result.
std::string JsonValueSummary(const nlohmann::ordered_json& v);

}  // namespace radixserve::model::cli
