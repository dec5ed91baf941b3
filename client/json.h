// Protobuf message -> nlohmann::json, for radixctl's --json output: every field is
// present (zero values included), names are the proto field names, 64-bit integers
// are JSON numbers (not the strings of proto3's canonical JSON), enums are their
// names.
#pragma once

#include "google/protobuf/message.h"
#include "nlohmann/json.hpp"

namespace radixserve::client {

nlohmann::json ToJson(const google::protobuf::Message& message);

}  // namespace radixserve::client
