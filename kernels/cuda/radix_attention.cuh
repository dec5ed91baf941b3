// Cascade (radix) decode: groups of sequences that share a cached prefix read its KV once
// per group (all the group's queries attend to it together on tensor cores, as a
// non-causal prefill whose "tokens" are the group's sequences), each sequence attends to
// its own suffix (a fused suffix-attention-and-merge kernel, or the paged decode kernel on
// the legacy path), and the states merge by log-sum-exp.
// Semantics: kernels/attention_params.h (CascadeDecodeParams).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/attention_params.h"
#include "kernels/cuda/cuda_status.cuh"

namespace radixserve::kernels::cuda {

// Device workspace CascadeDecode needs for these shapes (the host-side maxima of params).
int64_t CascadeWorkspaceBytes(int32_t num_groups, int32_t num_seqs, int32_t num_q_heads, int32_t num_kv_heads,
                              int32_t head_dim, int32_t max_group_size, int32_t max_prefix_len,
                              int32_t max_suffix_len);

// head_dim 64 or 128; kF16 or kBF16. Fused (default, suffixes up to kCascadeFusedMaxSuffix):
// two launches on `stream`, the prefix attention split over the prefix keys, then the
// suffix attention merged with the prefix chunks. Legacy: three launches, the suffix decode
// on a side stream (one per host thread, created on first use on the current device; forked
// from and joined back into `stream` with events, so the call is graph-capturable), the
// prefix pass, and one merge of the prefix chunks and the suffix state. Not for concurrent
// use of one thread's calls on several devices.
KernelStatus CascadeDecode(const CascadeDecodeParams& params, cudaStream_t stream);

// How CascadeDecode handles the suffixes (tests and benchmarks force each; RS_CASCADE_MODE=
// auto|legacy|fused|pdl is read once):
//   kLegacy:   suffix decode on a side stream (split-KV), then the prefix pass, then one
//              merge of the prefix chunks and the suffix state (three launches).
//   kFused:    the prefix pass writes its chunk partials; then one kernel per (sequence,
//              KV head) attends to the suffix and merges the prefix partials into o.
//   kFusedPdl: kFused with the second kernel launched programmatically (sm_90): its CTAs
//              start on SMs the prefix pass leaves, load their suffix K/V, and wait
//              (griddepcontrol.wait) for the prefix pass before reading its partials.
//   kAuto:     kFusedPdl where the prefix pass runs on the wgmma kernel (sm_90, prefill
//              path not forced to mma.sync), kLegacy elsewhere; kLegacy whenever
//              max_suffix_len > kCascadeFusedMaxSuffix (the fused kernel reads a suffix
//              serially, 128 keys per CTA step).
enum class CascadeMode : int { kAuto = 0, kLegacy = 1, kFused = 2, kFusedPdl = 3 };
inline constexpr int32_t kCascadeFusedMaxSuffix = 512;
void SetCascadeMode(CascadeMode mode);
CascadeMode GetCascadeMode();

}  // namespace radixserve::kernels::cuda
