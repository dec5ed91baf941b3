// Batched token sampling on one row of logits per sequence, shared by the CPU twin and
// CUDA. Each row carries its own parameters, so one launch serves a mixed batch.
//
// The distribution, identical in both twins (float arithmetic):
//   1. temperature <= 0 or top_k == 1: greedy, the argmax (lowest index on ties); stop.
//   2. p = softmax(logits / temperature).
//   3. top-k (top_k > 0): keep i iff p_i >= the k-th largest p (ties at the edge kept).
//   4. top-p (top_p < 1): among the top-k survivors with mass Z, keep i iff the mass of
//      survivors with probability strictly greater than p_i is < top_p * Z.
//   5. min-p (min_p > 0): keep i iff p_i >= min_p * max(p).
//      The most likely token always survives steps 3-5 (so top_p <= 0 acts as greedy).
//   6. Draw u = SampleUniform(seed, offset) in [0, 1); walk the kept tokens in index
//      order accumulating p and return the first index whose running sum exceeds
//      u * (sum of kept p); the last kept index if rounding leaves none.
// maybe_probs receives the kept p renormalized to sum 1 (0 elsewhere; one-hot for greedy).
#pragma once

#include <cstdint>

#include "kernels/kernel_types.h"

namespace radixserve::kernels {

struct SamplingParams {
  const float* logits = nullptr;  // [batch, vocab] (row stride logits_stride)
  int64_t logits_stride = 0;      // elements; 0 means vocab
  int32_t batch = 0;
  int32_t vocab = 0;

  const float* temperature = nullptr;  // [batch]
  const int32_t* maybe_top_k = nullptr;    // [batch]; null or <= 0: off
  const float* maybe_top_p = nullptr;      // [batch]; null or >= 1: off
  const float* maybe_min_p = nullptr;      // [batch]; null or <= 0: off
  const uint64_t* seeds = nullptr;         // [batch]
  const uint64_t* offsets = nullptr;       // [batch]; e.g. the step index of the sequence

  int32_t* out_tokens = nullptr;   // [batch]
  float* maybe_probs = nullptr;    // [batch, vocab]

  void* workspace = nullptr;  // see the launcher header
  int64_t workspace_bytes = 0;
};

// Counter-based RNG: a pure function of (seed, offset), so a sequence that is replayed,
// forked or moved between backends draws the same numbers. SplitMix64 finaliser over the
// seed mixed with the counter; the top 24 bits make a float in [0, 1).
RS_HOST_DEVICE inline uint64_t SampleHash64(uint64_t seed, uint64_t offset) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (offset + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

RS_HOST_DEVICE inline float SampleUniform(uint64_t seed, uint64_t offset) {
  return static_cast<float>(SampleHash64(seed, offset) >> 40) * (1.0f / 16777216.0f);
}

}  // namespace radixserve::kernels
