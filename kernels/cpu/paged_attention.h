// Decode attention over the paged KV cache: one query token per sequence, the CPU twin
// of kernels::DecodeParams (kernels/attention_params.h).
//
// GQA: the num_q_heads / num_kv_heads query heads that share a KV head are computed
// together, so each KV block is read once per group. Long contexts are split along the
// keys into pieces (internal::kDecodeSplitTokens) computed in parallel and merged by
// log-sum-exp, so a single sequence still uses every thread.
#pragma once

#include "absl/status/status.h"
#include "kernels/attention_params.h"
#include "kernels/cpu/thread_pool.h"

namespace radixserve::kernels::cpu {

// Supports dtype kF32 (q, o and the cache); other dtypes return InvalidArgument, as do
// num_q_heads not a multiple of num_kv_heads. p.workspace is unused (scratch is internal).
// p.maybe_lse, when set, receives the natural-log LSE of each (sequence, head).
absl::Status PagedAttentionDecode(const DecodeParams& p, ThreadPool* pool = nullptr);

}  // namespace radixserve::kernels::cpu
