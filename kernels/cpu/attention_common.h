// Building blocks shared by the CPU attention kernels (flash_attention, paged_attention,
// radix_attention): an online-softmax accumulator over chunks of keys, the partial-state
// merge, and a task runner for "these query rows over this key range of a paged KV".
// Internal to kernels/cpu. KV is float32 here; an f16 cache would convert a block into
// a thread-local float buffer in KvChunkOf (the one place that reads cache memory).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/cpu/thread_pool.h"
#include "kernels/cpu/vec_ops.h"
#include "kernels/paged_kv.h"

namespace radixserve::kernels::cpu::internal {

inline constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// n keys of one KV head: row j at k + j * ld (and v + j * ld).
struct KvChunk {
  const float* k;
  const float* v;
  int64_t ld;
  int n;
};

// Running softmax(q K^T * scale) V for nq query rows of one head dimension.
// State per row i: m (running max score), l (sum of exp(score - m)), o (unnormalized).
class AttnAccumulator {
 public:
  void Reset(int nq, int hd);
  // Adds a chunk of keys. maybe_limit[i]: row i attends chunk keys j < limit (causal
  // masking); null: all keys.
  void Add(const VecOps& ops, const float* q, int64_t ldq, float scale, const KvChunk& c,
           const int* maybe_limit);
  // Row i -> o_out + i * ldo = o / l and lse_out[i] = m + log(l); a row that saw no key
  // gets o = 0 and lse = -inf.
  void Finish(float* o_out, int64_t ldo, float* maybe_lse) const;

 private:
  int nq_ = 0;
  int hd_ = 0;
  std::vector<float> o_, m_, l_, s_;
};

// Merges (o_b, lse_b) into (o_a, lse_a) over disjoint key sets (attention_params.h).
void MergeStateRow(float* o_a, float* lse_a, const float* o_b, float lse_b, int hd);

// Query rows `rows[0..nq)` (float [hd] each) over tokens [tok_begin, tok_end) of a paged
// sequence whose blocks are block_ids[0..]; writes normalized partial o [nq, hd] and lse [nq].
struct AttnTask {
  const float* const* rows;
  int nq;
  const int32_t* block_ids;
  int32_t tok_begin;
  int32_t tok_end;
  float* o;
  float* lse;
};

struct PagedKvF32 {
  const float* k_cache;  // [num_blocks, num_kv_heads, block_size, head_dim]
  const float* v_cache;
  PagedKvView kv;
};

// Runs tasks of one KV head each (kv_heads[i] for task i) over the pool; tasks are
// handed out round-robin so unequal lengths spread over threads.
void RunAttnTasks(const std::vector<AttnTask>& tasks, const std::vector<int32_t>& kv_heads,
                  const PagedKvF32& cache, float scale, ThreadPool* pool);

// Decode work is split along the keys into pieces of this many tokens (rounded to whole
// blocks), so one long sequence still keeps every thread busy; pieces merge by LSE.
inline constexpr int32_t kDecodeSplitTokens = 256;

inline int32_t SplitTokens(int32_t block_size) {
  return std::max<int32_t>(block_size, kDecodeSplitTokens / block_size * block_size);
}

}  // namespace radixserve::kernels::cpu::internal

namespace radixserve::kernels::cpu::internal {

// Partial results of AttnTasks, each row owned by one output row (token, head); merged
// in creation order into o [num_out_rows, hd] and lse, so results are deterministic.
struct AttnPartials {
  std::vector<float> o;          // [num_slots, hd]
  std::vector<float> lse;        // [num_slots]
  std::vector<int64_t> owner;    // [num_slots] output row
  std::vector<const float*> rows;  // [num_slots] query row of each slot
  struct Spec {
    int64_t first_slot;
    int nq;
    int32_t kv_head;
    const int32_t* block_ids;
    int32_t tok_begin, tok_end;
  };
  std::vector<Spec> specs;

  // Adds a task over tokens [tok_begin, tok_end) for query rows q_rows[0..nq) owned by
  // out_rows[0..nq) (their slots are the next nq).
  void AddTask(const float* const* q_rows, const int64_t* out_rows, int nq, int32_t kv_head,
               const int32_t* block_ids, int32_t tok_begin, int32_t tok_end);
  // Runs the tasks, then writes every output row: merged partials, or o = 0 and
  // lse = -inf for rows with no keys. maybe_lse may be null.
  void Run(const PagedKvF32& cache, float scale, ThreadPool* pool, float* o, float* maybe_lse,
           int64_t num_out_rows);
};

// Adds the decode tasks of every sequence of `batch` over its own KV: for each KV head,
// the sequence's query heads of that group attend together (the KV is read once for the
// group), the context cut every `split` tokens. q: [num_seqs, nqh, hd]; output row
// s * nqh + h.
void AddPagedDecodeTasks(const PagedBatch& batch, const float* q, int32_t nqh, int32_t nkv, int32_t hd,
                         int32_t split, AttnPartials& parts);

}  // namespace radixserve::kernels::cpu::internal
