// Rotary position embedding applied in place to Q and K, shared by the CPU twin and CUDA.
//
// For each token t (position pos = positions[t]) and each head, the first rotary_dim
// elements of the head vector are rotated in pairs (x_a, x_b) by angle pos * inv_freq[i]:
//   x_a' = x_a * cos - x_b * sin;   x_b' = x_b * cos + x_a * sin;
// for i in 0 .. rotary_dim/2 - 1, with the pair chosen by the style:
//   kNormal (GGUF / llama.cpp "normal", Meta's original): (a, b) = (2i, 2i+1)
//   kNeox   (GPT-NeoX, Hugging Face rotate_half):          (a, b) = (i, i + rotary_dim/2)
// Elements past rotary_dim are left as they are.
//
// inv_freq[i] = theta ^ (-2i / rotary_dim), then, for kLlama3 scaling (Llama 3.1+):
//   wavelen = 2*pi / inv_freq[i]
//   low_wavelen = original_max_position / low_freq_factor
//   high_wavelen = original_max_position / high_freq_factor
//   wavelen < high_wavelen: unchanged
//   wavelen > low_wavelen:  inv_freq[i] / factor
//   otherwise: smooth = (original_max_position / wavelen - low_freq_factor) /
//                       (high_freq_factor - low_freq_factor)
//              inv_freq[i] = (1 - smooth) * inv_freq[i] / factor + smooth * inv_freq[i]
// kLinear divides every inv_freq by factor (position interpolation).
// Angles and their cos/sin are computed in double precision (positions reach 10^5 and
// more, where a float angle loses the low bits), then the rotation runs in float.
#pragma once

#include <cstdint>

#include "kernels/kernel_types.h"
#include "kernels/memory_ops_params.h"

namespace radixserve::kernels {

enum class RopeStyle : uint8_t { kNormal = 0, kNeox = 1 };
enum class RopeScaling : uint8_t { kNone = 0, kLinear = 1, kLlama3 = 2 };

struct RopeParams {
  ScalarType dtype = ScalarType::kBF16;  // of q and k (kF32, kF16, kBF16)
  RopeStyle style = RopeStyle::kNeox;

  void* q = nullptr;  // [num_tokens, num_q_heads, head_dim] (row stride q_token_stride)
  void* k = nullptr;  // [num_tokens, num_kv_heads, head_dim] (row stride k_token_stride); may be null
  const int32_t* positions = nullptr;  // [num_tokens]
  int32_t num_tokens = 0;
  int32_t num_q_heads = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  int32_t rotary_dim = 0;  // even, <= head_dim; 0 means head_dim
  // Elements between consecutive tokens; 0 means packed (num_heads * head_dim). Lets the
  // kernel rotate Q and K in place inside a fused QKV projection output.
  int64_t q_token_stride = 0;
  int64_t k_token_stride = 0;

  float theta = 10000.0f;
  RopeScaling scaling = RopeScaling::kNone;
  float factor = 1.0f;
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int32_t original_max_position = 8192;
  // [rotary_dim / 2] divisors of inv_freq (GGUF's rope_freqs.weight, Llama 3.x). When set
  // they replace `scaling`: inv_freq[i] = theta ^ (-2i / rotary_dim) / maybe_freq_factors[i].
  const float* maybe_freq_factors = nullptr;
};

// RoPE fused with the KV write, for the rows of a fused QKV projection: rotates rope.q
// into q_out (packed [num_tokens, num_q_heads, head_dim]) and write.k_new, then writes the
// rotated K and write.v_new of every token with write.slot_mapping[t] >= 0 into its cache
// slot (KvWriteParams). Reads its inputs without modifying them. rope.k is unused (K is
// write.k_new with write.k_token_stride); rope.num_tokens must equal write.num_tokens.
// Equivalent to ApplyRope in place on q and k, then WriteKv, then copying q out.
struct RopeWriteKvParams {
  RopeParams rope;
  KvWriteParams write;
  void* q_out = nullptr;
};

}  // namespace radixserve::kernels
