// The sampling and stop flags shared by generate, chat and bench.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "radixserve/v1/common.pb.h"

namespace radixctl {

struct SamplingFlags {
  int max_tokens = 0;
  float temperature = 0, top_p = 0, min_p = 0;
  int top_k = 0;
  float repetition_penalty = 0, presence_penalty = 0, frequency_penalty = 0;
  uint64_t seed = 0;
  std::vector<std::string> stop;
  std::vector<int> stop_token_ids;
  bool ignore_eos = false;

  // Registers --max-tokens, --temperature, --top-k, --top-p, --min-p,
  // --repetition-penalty, --presence-penalty, --frequency-penalty, --seed, --stop,
  // --stop-token, --ignore-eos.
  void Register(CLI::App* app, int default_max_tokens);
  void Fill(radixserve::v1::SamplingParams* sampling, radixserve::v1::StopConditions* stop_conditions) const;
};

}  // namespace radixctl
