// The paged KV cache layout and the batch description that every attention kernel
// (CPU twin and CUDA) reads. Shared by kernels/cpu, kernels/cuda and the backends.
//
// Per layer, K and V are separate pools of fixed-size blocks, head-major inside a block
// so that one head's tokens of a block are contiguous:
//
//   k_cache, v_cache : [num_blocks, num_kv_heads, block_size, head_dim]
//
// Sequence s owns the blocks block_ids[block_indptr[s] .. block_indptr[s+1]) in order;
// its token t lives in block block_ids[block_indptr[s] + t / block_size] at slot
// t % block_size. kv_lens[s] counts all its tokens, the new ones included.
//
// Queries are packed over the batch (variable length, CSR like FlashInfer):
//
//   q : [num_q_tokens, num_q_heads, head_dim], sequence s owns rows
//       q_indptr[s] .. q_indptr[s+1]; these are its LAST tokens, so query row i of s sits
//       at position kv_lens[s] - (q_indptr[s+1] - q_indptr[s]) + i and attends causally to
//       keys 0 .. that position.
//
// GQA: query head h reads KV head h / (num_q_heads / num_kv_heads).
#pragma once

#include <cstdint>

namespace radixserve::kernels {

struct PagedKvView {
  int32_t num_blocks = 0;
  int32_t block_size = 16;  // tokens per block
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  // Element offset of block b, head h, slot t: ((b * num_kv_heads + h) * block_size + t) * head_dim.
};

struct PagedBatch {
  int32_t num_seqs = 0;
  const int32_t* q_indptr = nullptr;      // [num_seqs + 1]
  const int32_t* kv_lens = nullptr;       // [num_seqs]
  const int32_t* block_indptr = nullptr;  // [num_seqs + 1]
  const int32_t* block_ids = nullptr;     // [block_indptr[num_seqs]]
};

inline int64_t PagedKvOffset(const PagedKvView& v, int32_t block, int32_t kv_head, int32_t slot) {
  return ((static_cast<int64_t>(block) * v.num_kv_heads + kv_head) * v.block_size + slot) * v.head_dim;
}

}  // namespace radixserve::kernels
