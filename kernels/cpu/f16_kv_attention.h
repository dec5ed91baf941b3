// Attention over an fp16 paged KV cache, computed as llama.cpp's CPU backend computes it
// with its default F16 K/V cache and no flash attention (ggml's mul_mat / soft_max / mul_mat):
//   1. q is rounded to fp16; score(i, j) = sm_scale * dot(q16_i, k16_j) in float (the
//      products of two halves are exact in float);
//   2. softmax over the keys row i attends, normalized in float (sum in double), and
//      each probability then rounded to fp16;
//   3. o_i = sum_j p16(i, j) * v16_j in float.
// Rounding the normalized probabilities to fp16 is what makes this differ from an online
// (flash) softmax at the 1e-4 level; greedy decoding of a quantized model is sensitive
// to that, so the CPU backend uses this form for its F16 KV cache (CpuBackend, kv_dtype).
// The float sums follow llama.cpp's x86 AVX-512 build too (vec_ops.h dot_lanes): a
// sequence with one query token in the step sums its dots as ggml_vec_dot_f16 does (64
// lanes), one with several as llama.cpp's tinyBLAS does (16 lanes), and the softmax sum
// as ggml's soft_max; so a sequence evaluated as llama.cpp evaluates it (one at a time)
// gets llama.cpp's attention output bit for bit.
// A CPU-only kernel: q and o stay float32 while the cache is fp16, which the shared
// attention params (one dtype for q, o and K/V) cannot express.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/paged_kv.h"

namespace radixserve::kernels::cpu {

struct F16KvAttentionParams {
  const float* q = nullptr;           // [num_q_tokens, num_q_heads, head_dim]
  float* o = nullptr;                 // [num_q_tokens, num_q_heads, head_dim]
  const uint16_t* k_cache = nullptr;  // [num_blocks, num_kv_heads, block_size, head_dim] fp16
  const uint16_t* v_cache = nullptr;  // [num_blocks, num_kv_heads, block_size, head_dim] fp16
  PagedKvView kv;
  // q_indptr, kv_lens, block_indptr, block_ids; the queries of sequence s are its last
  // q_len(s) tokens (kv_lens[s] >= q_len(s)), as in attention_params.h.
  PagedBatch batch;
  int32_t num_q_heads = 0;  // a multiple of kv.num_kv_heads
  float sm_scale = 0.0f;
  bool causal = true;  // false: every query attends to all kv_lens[s] keys
};

// Prefill and decode alike (decode: q_len = 1). A row with no visible key gets o = 0.
absl::Status F16KvAttention(const F16KvAttentionParams& p, ThreadPool* pool);

}  // namespace radixserve::kernels::cpu
