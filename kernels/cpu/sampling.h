// Token sampling on the CPU: the twin of kernels::SamplingParams
// (kernels/sampling_params.h states the exact distribution: greedy, temperature, top-k,
// top-p, min-p, and the counter-based draw SampleUniform(seed, offset)), plus the two
// CPU-side steps the backend runs around it: penalties before, logprobs after.
//
// Order per sequence and step:
//   logits --ApplyPenalties--> penalized logits --SampleTokens--> token
//                                     \--ComputeLogprobs--> logprob of the token and top-n
// Logprobs are the log-softmax of the PENALIZED logits at temperature 1, before top-k /
// top-p / min-p filtering: the model's distribution as the penalties reshape it, the
// convention of OpenAI-style APIs, independent of the sampling knobs.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/cpu/thread_pool.h"
#include "kernels/sampling_params.h"

namespace radixserve::kernels::cpu {

struct PenaltyParams {
  float repetition = 1.0f;  // > 0; 1 = off. A seen token's logit l becomes l / r if l > 0, else l * r
  float presence = 0.0f;    // subtracted once from every seen token's logit
  float frequency = 0.0f;   // subtracted count(token) times
};

// Applies the penalties in place to one logits row [vocab] for the tokens seen so far
// (prompt and generated, as the caller chooses); each distinct token is penalized once
// for repetition/presence and by its count for frequency. Ids outside [0, vocab) are
// ignored (callers validate tokens at the API boundary).
void ApplyPenalties(float* logits, int32_t vocab, const int32_t* seen_tokens, int64_t num_seen,
                    const PenaltyParams& p);

// Samples one token per row following sampling_params.h. p.workspace is unused (scratch
// is internal). Rows are independent and split across the pool. Preconditions: batch,
// vocab > 0 and the per-row arrays hold `batch` entries.
void SampleTokens(const SamplingParams& p, ThreadPool* pool = nullptr);

struct TokenLogprob {
  int32_t token;
  float logprob;  // natural log
};

// log_softmax(logits)[chosen] into *chosen_out, and the top_n most likely tokens (by
// logit, descending; ties by lower id) into *top_out (cleared first). logits: [vocab].
void ComputeLogprobs(const float* logits, int32_t vocab, int32_t chosen, int32_t top_n, TokenLogprob* chosen_out,
                     std::vector<TokenLogprob>* top_out);

}  // namespace radixserve::kernels::cpu
