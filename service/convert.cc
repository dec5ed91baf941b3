#include "service/convert.h"

namespace radixserve::service {

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::StatusOr<std::vector<int32_t>> InputTokens(const v1::Input& input, const model::Tokenizer& tokenizer) {
  switch (input.kind_case()) {
    case v1::Input::kText: {
      model::EncodeOptions options;
      options.add_special = input.add_special_tokens();
      return tokenizer.Encode(input.text(), options);
    }
    case v1::Input::kTokens:
      return std::vector<int32_t>(input.tokens().ids().begin(), input.tokens().ids().end());
    case v1::Input::KIND_NOT_SET:
      break;
  }
  return std::vector<int32_t>();
}

void ApplySampling(const v1::SamplingParams& s, GenerateSpec* spec) {
  spec->sampling.temperature = s.temperature();
  spec->sampling.top_k = s.top_k();
  spec->sampling.top_p = s.top_p();
  spec->sampling.min_p = s.min_p();
  spec->sampling.repetition_penalty = s.repetition_penalty();
  spec->sampling.presence_penalty = s.presence_penalty();
  spec->sampling.frequency_penalty = s.frequency_penalty();
  spec->sampling.seed = s.seed();
  spec->logprobs = s.logprobs() || s.top_logprobs() > 0;
  spec->top_logprobs = s.top_logprobs();
}

void ApplyStop(const v1::StopConditions& stop, int32_t default_max_tokens, GenerateSpec* spec) {
  spec->max_tokens = stop.max_tokens() != 0 ? stop.max_tokens() : default_max_tokens;
  spec->stop_strings.assign(stop.stop_strings().begin(), stop.stop_strings().end());
  spec->stop_token_ids.assign(stop.stop_token_ids().begin(), stop.stop_token_ids().end());
  spec->ignore_eos = stop.ignore_eos();
}

v1::FinishReason ToProto(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone: return v1::FINISH_REASON_UNSPECIFIED;
    case FinishReason::kLength: return v1::FINISH_REASON_LENGTH;
    case FinishReason::kEos: return v1::FINISH_REASON_EOS;
    case FinishReason::kStopString: return v1::FINISH_REASON_STOP_STRING;
    case FinishReason::kStopToken: return v1::FINISH_REASON_STOP_TOKEN;
    case FinishReason::kContextFull: return v1::FINISH_REASON_CONTEXT_FULL;
  }
  return v1::FINISH_REASON_UNSPECIFIED;
}

void ToProto(const TokenEvent& event, bool logprobs, v1::GeneratedToken* out) {
  out->set_id(event.token);
  if (!logprobs) return;
  out->set_logprob(event.logprob);
  for (const backend::TokenLogprob& t : event.top_logprobs) {
    v1::TokenLogprob* p = out->add_top_logprobs();
    p->set_token(t.token);
    p->set_logprob(t.logprob);
  }
}

void ToProto(const GenerateOutcome& outcome, v1::Usage* usage, v1::Timings* timings) {
  usage->set_prompt_tokens(outcome.prompt_tokens);
  usage->set_cached_tokens(outcome.cached_tokens);
  usage->set_generated_tokens(outcome.generated_tokens);
  timings->set_queue_ms(outcome.queue_ms);
  timings->set_time_to_first_token_ms(outcome.ttft_ms);
  timings->set_total_ms(outcome.total_ms);
}

void ToProto(const SessionView& view, v1::Session* out) {
  const cache::SessionInfo& s = view.info;
  out->set_session_id(s.id);
  switch (s.state) {
    case cache::SessionState::kIdle: out->set_state(v1::SESSION_STATE_IDLE); break;
    case cache::SessionState::kRunning: out->set_state(v1::SESSION_STATE_RUNNING); break;
    case cache::SessionState::kSwapped: out->set_state(v1::SESSION_STATE_SWAPPED); break;
  }
  out->set_pinned(s.pinned);
  out->set_num_tokens(s.num_tokens);
  out->set_num_computed(s.num_computed);
  out->set_device_blocks(s.device_blocks);
  out->set_host_blocks(s.host_blocks);
  out->set_shared_blocks(s.shared_blocks);
  out->set_cached_tokens(s.cached_tokens);
  out->set_created_unix_ms(absl::ToUnixMillis(s.created));
  out->set_last_used_unix_ms(absl::ToUnixMillis(s.last_used));
  out->set_busy_operation(view.busy_operation);
}

}  // namespace radixserve::service
