#include "client/radixctl/sampling_flags.h"

namespace radixctl {

void SamplingFlags::Register(CLI::App* app, int default_max_tokens) {
  max_tokens = default_max_tokens;
  app->add_option("-n,--max-tokens", max_tokens, "tokens to generate at most (0: the server's default)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->group("Sampling");
  app->add_option("-t,--temperature", temperature, "softmax temperature; 0 = greedy")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->group("Sampling");
  app->add_option("--top-k", top_k, "keep the k most likely tokens (0: off)")->group("Sampling");
  app->add_option("--top-p", top_p, "nucleus sampling mass in (0, 1] (0: off)")->group("Sampling");
  app->add_option("--min-p", min_p, "drop tokens below min-p x the best one's probability")->group("Sampling");
  app->add_option("--repetition-penalty", repetition_penalty, "> 1 discourages repeats (0: off)")->group("Sampling");
  app->add_option("--presence-penalty", presence_penalty, "subtracted once per seen token")->group("Sampling");
  app->add_option("--frequency-penalty", frequency_penalty, "subtracted per occurrence")->group("Sampling");
  app->add_option("--seed", seed, "RNG seed (same seed + params + input = same output)")->group("Sampling");
  app->add_option("--stop", stop, "stop when the text contains this string (repeatable)")->group("Sampling");
  app->add_option("--stop-token", stop_token_ids, "stop after generating this token id (repeatable)")
      ->group("Sampling");
  app->add_flag("--ignore-eos", ignore_eos, "do not stop at the model's end-of-generation tokens")->group("Sampling");
}

void SamplingFlags::Fill(radixserve::v1::SamplingParams* s, radixserve::v1::StopConditions* c) const {
  s->set_temperature(temperature);
  s->set_top_k(top_k);
  s->set_top_p(top_p);
  s->set_min_p(min_p);
  s->set_repetition_penalty(repetition_penalty);
  s->set_presence_penalty(presence_penalty);
  s->set_frequency_penalty(frequency_penalty);
  s->set_seed(seed);
  c->set_max_tokens(max_tokens);
  for (const auto& x : stop) c->add_stop_strings(x);
  for (int id : stop_token_ids) c->add_stop_token_ids(id);
  c->set_ignore_eos(ignore_eos);
}

}  // namespace radixctl
