// Translation between radixserve.v1 messages and the engine's plain C++ types, and
// between absl::Status and grpc::Status. Stateless; any thread.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/support/status.h"
#include "model/tokenizer.h"
#include "radixserve/v1/cache.pb.h"
#include "radixserve/v1/common.pb.h"
#include "service/engine.h"

namespace radixserve::service {

grpc::Status ToGrpc(const absl::Status& status);

// Token ids of `input` (text is tokenized here, on the calling thread).
absl::StatusOr<std::vector<int32_t>> InputTokens(const v1::Input& input, const model::Tokenizer& tokenizer);

// Fills the sampling and stop fields of `spec`; max_tokens 0 becomes `default_max_tokens`.
void ApplySampling(const v1::SamplingParams& sampling, GenerateSpec* spec);
void ApplyStop(const v1::StopConditions& stop, int32_t default_max_tokens, GenerateSpec* spec);

v1::FinishReason ToProto(FinishReason reason);
void ToProto(const TokenEvent& event, bool logprobs, v1::GeneratedToken* out);
void ToProto(const GenerateOutcome& outcome, v1::Usage* usage, v1::Timings* timings);
void ToProto(const SessionView& view, v1::Session* out);

}  // namespace radixserve::service
