// Causal prefill attention (also chunked prefill over a cached prefix) for a packed,
// variable-length batch: the CPU twin of kernels::PrefillParams
// (kernels/attention_params.h; the paged layout and query packing are in paged_kv.h).
//
// Tiled with an online softmax (FlashAttention): for each (sequence, KV head, tile of
// query tokens) the tile's rows -- tokens x the query heads of that KV head -- walk the
// keys one KV block at a time, so each K/V block is read once per tile and no
// [q_len, kv_len] score matrix is ever materialized. Causal masking applies only to the
// blocks at the diagonal; blocks past the tile's last position are skipped.
#pragma once

#include "absl/status/status.h"
#include "kernels/attention_params.h"
#include "kernels/cpu/thread_pool.h"

namespace radixserve::kernels::cpu {

// dtype kF32 only; KvSource kPaged or kContiguous. InvalidArgument for an unsupported
// dtype or head layout. p.max_q_len is not needed on the CPU.
absl::Status FlashAttentionPrefill(const PrefillParams& p, ThreadPool* pool = nullptr);

}  // namespace radixserve::kernels::cpu
