// Cascade ("radix") decode for groups of sequences that share a cached prefix: the CPU
// twin of kernels::CascadeDecodeParams (kernels/attention_params.h).
//
//   group g:  prefix blocks (shared)      suffix blocks (one run per sequence)
//             [p0][p1][p2] ........  +    s_a: [a0][a1]   s_b: [b0]   s_c: [c0][c1][c2]
//
// The prefix KV of each KV head is read ONCE for all query rows of the group (every
// sequence x every query head of that KV head), giving a partial state (o, lse) per row;
// each sequence's suffix gives another; the two merge exactly by log-sum-exp
// (MergeState below), so the result equals decode over prefix + suffix.
#pragma once

#include "absl/status/status.h"
#include "kernels/attention_params.h"
#include "kernels/cpu/thread_pool.h"

namespace radixserve::kernels::cpu {

// dtype kF32 only (InvalidArgument otherwise). p.workspace is unused.
absl::Status RadixAttentionDecode(const CascadeDecodeParams& p, ThreadPool* pool = nullptr);

// Merges partial states in place: (o_a, lse_a) <- merge((o_a, lse_a), (o_b, lse_b)),
// formula in attention_params.h; lse = -inf marks an empty partial. Every dtype (o in
// dtype, lse float). Rows are independent.
absl::Status MergeState(const MergeStateParams& p);

}  // namespace radixserve::kernels::cpu
