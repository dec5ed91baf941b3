// Parameters of the attention kernels (prefill, paged decode, cascade/radix decode and
// the state merge), shared by the CPU twins (kernels/cpu) and CUDA (kernels/cuda).
// All pointers are in the memory of the device that runs the kernel (host memory for
// the CPU twin); `maybe_` pointers may be null. The paged layout is kernels/paged_kv.h.
//
// Softmax conventions, identical in both twins:
//   score(i, j) = sm_scale * dot(q_i, k_j), with sm_scale usually 1/sqrt(head_dim);
//   lse(i)      = natural log of sum_j exp(score(i, j)) over the keys i attends to;
//   a causal query at position p attends keys 0..p (positions as in paged_kv.h: the
//   queries of a sequence are its LAST tokens).
// Two partial results over disjoint key sets (o_a, lse_a), (o_b, lse_b) merge exactly:
//   lse = log(exp(lse_a) + exp(lse_b)); o = o_a * exp(lse_a - lse) + o_b * exp(lse_b - lse).
// A partial over zero keys has lse = -inf and contributes nothing.
#pragma once

#include <cstdint>

#include "kernels/kernel_types.h"
#include "kernels/paged_kv.h"

namespace radixserve::kernels {

// Where a prefill kernel reads K and V from.
enum class KvSource : uint8_t {
  kPaged = 0,       // k_cache/v_cache + PagedBatch block tables (the new K/V already written)
  kContiguous = 1,  // k/v: [num_kv_tokens, num_kv_heads, head_dim] packed by kv_indptr
};

// Causal prefill (also chunked prefill with a cached prefix) over a variable-length batch.
// Query rows of sequence s: q_indptr[s] .. q_indptr[s+1]; q_len(s) = their count;
// kv_len(s) = batch.kv_lens[s] (paged) or kv_indptr[s+1] - kv_indptr[s] (contiguous),
// which counts the cached prefix plus the new tokens, so kv_len(s) >= q_len(s).
struct PrefillParams {
  ScalarType dtype = ScalarType::kBF16;  // of q, o and K/V (kF16 or kBF16 on CUDA; kF32 on the CPU twin)
  KvSource kv_source = KvSource::kPaged;

  const void* q = nullptr;   // [num_q_tokens, num_q_heads, head_dim]
  void* o = nullptr;         // [num_q_tokens, num_q_heads, head_dim]
  float* maybe_lse = nullptr;  // [num_q_tokens, num_q_heads], natural log

  // kPaged: q_indptr, kv_lens, block_indptr, block_ids of `batch` are all used.
  const void* k_cache = nullptr;  // [num_blocks, num_kv_heads, block_size, head_dim]
  const void* v_cache = nullptr;  // [num_blocks, num_kv_heads, block_size, head_dim]
  PagedKvView kv;                 // num_kv_heads and head_dim are read from here in both modes
  PagedBatch batch;               // batch.q_indptr and batch.num_seqs are used in both modes

  // kContiguous only.
  const void* k = nullptr;             // [num_kv_tokens, num_kv_heads, head_dim]
  const void* v = nullptr;             // [num_kv_tokens, num_kv_heads, head_dim]
  const int32_t* kv_indptr = nullptr;  // [num_seqs + 1]

  int32_t num_q_heads = 0;  // a multiple of kv.num_kv_heads (GQA)
  float sm_scale = 0.0f;
  bool causal = true;  // false: every query row attends to all kv_len(s) keys
  // Host-side upper bound of q_len(s) over the batch; sizes the launch grid.
  int32_t max_q_len = 0;
};

// Decode: exactly one query token per sequence over its paged KV (batch.q_indptr unused).
// Split-KV: the kernel may cut long contexts into chunks computed in parallel and merged,
// using `workspace` (device memory of at least DecodeWorkspaceBytes(...) bytes, see the
// backend's launcher header).
struct DecodeParams {
  ScalarType dtype = ScalarType::kBF16;  // of q, o and the cache (kF16 or kBF16 on CUDA; kF32 on the CPU twin)

  const void* q = nullptr;     // [num_seqs, num_q_heads, head_dim]
  void* o = nullptr;           // [num_seqs, num_q_heads, head_dim]
  float* maybe_lse = nullptr;  // [num_seqs, num_q_heads], natural log

  const void* k_cache = nullptr;  // [num_blocks, num_kv_heads, block_size, head_dim]
  const void* v_cache = nullptr;  // [num_blocks, num_kv_heads, block_size, head_dim]
  PagedKvView kv;
  PagedBatch batch;  // kv_lens, block_indptr, block_ids; kv_lens[s] >= 0 (0: o = 0, lse = -inf)

  int32_t num_q_heads = 0;
  float sm_scale = 0.0f;
  // Host-side upper bound of kv_lens over the batch; picks the split.
  int32_t max_kv_len = 0;

  void* workspace = nullptr;
  int64_t workspace_bytes = 0;
};

// Cascade (radix) decode: sequences come in groups that share a cached prefix. Sequences
// of group g are the contiguous range group_indptr[g] .. group_indptr[g+1] of the batch;
// the group's prefix is prefix_lens[g] tokens in blocks
// prefix_block_ids[prefix_block_indptr[g] .. prefix_block_indptr[g+1]).
// Each sequence s then has its own suffix in `suffix` (a PagedBatch whose kv_lens count
// suffix tokens only; the suffix's first token follows the prefix's last). The query of
// s attends to prefix + suffix; the result equals decode over the concatenation.
// A group of one sequence, or prefix_lens[g] == 0, is valid.
struct CascadeDecodeParams {
  ScalarType dtype = ScalarType::kBF16;  // as DecodeParams::dtype

  const void* q = nullptr;     // [num_seqs, num_q_heads, head_dim]
  void* o = nullptr;           // [num_seqs, num_q_heads, head_dim]
  float* maybe_lse = nullptr;  // [num_seqs, num_q_heads]

  const void* k_cache = nullptr;  // [num_blocks, num_kv_heads, block_size, head_dim]
  const void* v_cache = nullptr;
  PagedKvView kv;

  int32_t num_groups = 0;
  const int32_t* group_indptr = nullptr;         // [num_groups + 1], into the batch's sequences
  const int32_t* prefix_lens = nullptr;          // [num_groups]
  const int32_t* prefix_block_indptr = nullptr;  // [num_groups + 1]
  const int32_t* prefix_block_ids = nullptr;     // [prefix_block_indptr[num_groups]]
  PagedBatch suffix;  // num_seqs sequences; kv_lens = suffix lengths; q_indptr unused

  int32_t num_q_heads = 0;
  float sm_scale = 0.0f;
  int32_t max_group_size = 0;   // host-side: max sequences in a group
  int32_t max_prefix_len = 0;   // host-side
  int32_t max_suffix_len = 0;   // host-side

  void* workspace = nullptr;  // see CascadeWorkspaceBytes(...) in the launcher header
  int64_t workspace_bytes = 0;
};

// Merges two partial attention states in place into (o_a, lse_a) (formula at the top).
struct MergeStateParams {
  ScalarType dtype = ScalarType::kBF16;  // of o_a, o_b (kF32 allowed)
  void* o_a = nullptr;        // [num_rows, num_heads, head_dim]   in/out
  float* lse_a = nullptr;     // [num_rows, num_heads]             in/out
  const void* o_b = nullptr;  // [num_rows, num_heads, head_dim]
  const float* lse_b = nullptr;  // [num_rows, num_heads]
  int32_t num_rows = 0;
  int32_t num_heads = 0;
  int32_t head_dim = 0;
};

}  // namespace radixserve::kernels
