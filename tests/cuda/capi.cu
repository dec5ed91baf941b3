// A flat C ABI over the CUDA kernel launchers so the Python tests and benchmarks (torch +
// ctypes) can drive them with tensors' device pointers. Test-only: the backend calls the
// C++ launchers directly. Every function returns 0 on success, 1 for an invalid argument,
// 2 for a CUDA error; rs_last_error() describes the last failure.
#include <cstdint>
#include <cstdio>

#include "kernels/cuda/activation.cuh"
#include "kernels/cuda/flash_attention.cuh"
#include "kernels/cuda/memory_ops.cuh"
#include "kernels/cuda/paged_attention.cuh"
#include "kernels/cuda/quant_gemm.cuh"
#include "kernels/cuda/radix_attention.cuh"
#include "kernels/cuda/rmsnorm.cuh"
#include "kernels/cuda/rope.cuh"
#include "kernels/cuda/sampling.cuh"
#include "tests/cuda/capi_status.cuh"

namespace rk = radixserve::kernels;
namespace rc = radixserve::kernels::cuda;

using radixserve::kernels::cuda::capi::Report;
using radixserve::kernels::cuda::capi::Stream;

extern "C" {

const char* rs_last_error() { return radixserve::kernels::cuda::capi::LastError(); }

int rs_rmsnorm(int dtype, const void* x, void* out, void* residual, const void* weight, int num_tokens, int hidden,
               float eps, void* stream) {
  rk::RmsNormParams p;
  p.dtype = static_cast<rk::ScalarType>(dtype);
  p.x = x;
  p.out = out;
  p.maybe_residual = residual;
  p.weight = weight;
  p.num_tokens = num_tokens;
  p.hidden = hidden;
  p.eps = eps;
  return Report(rc::RmsNorm(p, Stream(stream)));
}

int rs_silu_and_mul(int dtype, const void* x, void* out, int num_tokens, int d, void* stream) {
  rk::SiluAndMulParams p;
  p.dtype = static_cast<rk::ScalarType>(dtype);
  p.x = x;
  p.out = out;
  p.num_tokens = num_tokens;
  p.d = d;
  return Report(rc::SiluAndMul(p, Stream(stream)));
}

int rs_rope(int dtype, int style, void* q, void* k, const int32_t* positions, int num_tokens, int num_q_heads,
            int num_kv_heads, int head_dim, int rotary_dim, int64_t q_stride, int64_t k_stride, float theta,
            int scaling, float factor, float low_freq_factor, float high_freq_factor, int original_max_position,
            void* stream) {
  rk::RopeParams p;
  p.dtype = static_cast<rk::ScalarType>(dtype);
  p.style = static_cast<rk::RopeStyle>(style);
  p.q = q;
  p.k = k;
  p.positions = positions;
  p.num_tokens = num_tokens;
  p.num_q_heads = num_q_heads;
  p.num_kv_heads = num_kv_heads;
  p.head_dim = head_dim;
  p.rotary_dim = rotary_dim;
  p.q_token_stride = q_stride;
  p.k_token_stride = k_stride;
  p.theta = theta;
  p.scaling = static_cast<rk::RopeScaling>(scaling);
  p.factor = factor;
  p.low_freq_factor = low_freq_factor;
  p.high_freq_factor = high_freq_factor;
  p.original_max_position = original_max_position;
  return Report(rc::ApplyRope(p, Stream(stream)));
}

int rs_write_kv(int dtype, const void* k_new, const void* v_new, void* k_cache, void* v_cache, int num_blocks,
                int block_size, int num_kv_heads, int head_dim, const int32_t* slot_mapping, int num_tokens,
                int64_t k_stride, int64_t v_stride, void* stream) {
  rk::KvWriteParams p;
  p.dtype = static_cast<rk::ScalarType>(dtype);
  p.k_new = k_new;
  p.v_new = v_new;
  p.k_cache = k_cache;
  p.v_cache = v_cache;
  p.kv = {num_blocks, block_size, num_kv_heads, head_dim};
  p.slot_mapping = slot_mapping;
  p.num_tokens = num_tokens;
  p.k_token_stride = k_stride;
  p.v_token_stride = v_stride;
  return Report(rc::WriteKv(p, Stream(stream)));
}

int rs_copy_blocks(void* const* pools, int num_pools, int64_t block_bytes, const int32_t* pairs, int num_pairs,
                   void* stream) {
  rk::BlockCopyParams p;
  p.pools = pools;
  p.num_pools = num_pools;
  p.block_bytes = block_bytes;
  p.pairs = pairs;
  p.num_pairs = num_pairs;
  return Report(rc::CopyBlocks(p, Stream(stream)));
}

int rs_swap_blocks(const void* const* src_pools, void* const* dst_pools, int num_pools, int64_t block_bytes,
                   const int32_t* pairs, int num_pairs, void* stream) {
  rk::SwapBlocksParams p;
  p.src_pools = src_pools;
  p.dst_pools = dst_pools;
  p.num_pools = num_pools;
  p.block_bytes = block_bytes;
  p.pairs = pairs;
  p.num_pairs = num_pairs;
  return Report(rc::SwapBlocks(p, Stream(stream)));
}

int64_t rs_sampling_workspace_bytes(int batch, int vocab) { return rc::SamplingWorkspaceBytes(batch, vocab); }

int rs_sample(const float* logits, int batch, int vocab, const float* temperature, const int32_t* top_k,
              const float* top_p, const float* min_p, const uint64_t* seeds, const uint64_t* offsets,
              int32_t* out_tokens, float* probs, void* workspace, int64_t workspace_bytes, void* stream) {
  rk::SamplingParams p;
  p.logits = logits;
  p.batch = batch;
  p.vocab = vocab;
  p.temperature = temperature;
  p.maybe_top_k = top_k;
  p.maybe_top_p = top_p;
  p.maybe_min_p = min_p;
  p.seeds = seeds;
  p.offsets = offsets;
  p.out_tokens = out_tokens;
  p.maybe_probs = probs;
  p.workspace = workspace;
  p.workspace_bytes = workspace_bytes;
  return Report(rc::Sample(p, Stream(stream)));
}

float rs_sample_uniform(uint64_t seed, uint64_t offset) { return rk::SampleUniform(seed, offset); }

int rs_quant_gemm(int quant, const uint16_t* x, const uint8_t* w_q, const uint16_t* scales, const uint16_t* bias,
                  uint16_t* y, int m, int n, int k, int path, void* stream) {
  rk::QuantGemmParams p;
  p.quant = static_cast<rk::WeightQuant>(quant);
  p.x = x;
  p.w_q = w_q;
  p.scales = scales;
  p.maybe_bias = bias;
  p.y = y;
  p.m = m;
  p.n = n;
  p.k = k;
  return Report(rc::QuantGemmWithPath(p, static_cast<rc::QuantGemmPath>(path), Stream(stream)));
}

int64_t rs_decode_workspace_bytes(int num_seqs, int num_q_heads, int num_kv_heads, int head_dim, int max_kv_len) {
  return rc::DecodeWorkspaceBytes(num_seqs, num_q_heads, num_kv_heads, head_dim, max_kv_len);
}

int rs_decode(int dtype, const void* q, void* o, float* lse, const void* k_cache, const void* v_cache, int num_blocks,
              int block_size, int num_kv_heads, int head_dim, int num_seqs, const int32_t* kv_lens,
              const int32_t* block_indptr, const int32_t* block_ids, int num_q_heads, float sm_scale, int max_kv_len,
              void* workspace, int64_t workspace_bytes, void* stream) {
  rk::DecodeParams p;
  p.dtype = static_cast<rk::ScalarType>(dtype);
  p.q = q;
  p.o = o;
  p.maybe_lse = lse;
  p.k_cache = k_cache;
  p.v_cache = v_cache;
  p.kv = {num_blocks, block_size, num_kv_heads, head_dim};
  p.batch.num_seqs = num_seqs;
  p.batch.kv_lens = kv_lens;
  p.batch.block_indptr = block_indptr;
  p.batch.block_ids = block_ids;
  p.num_q_heads = num_q_heads;
  p.sm_scale = sm_scale;
  p.max_kv_len = max_kv_len;
  p.workspace = workspace;
  p.workspace_bytes = workspace_bytes;
  return Report(rc::DecodeWithPagedKv(p, Stream(stream)));
}

// kv_source 0: paged (k/v are caches, kv_lens + block tables); 1: contiguous (k/v packed
// by kv_indptr).
int rs_prefill(int dtype, int kv_source, const void* q, void* o, float* lse, const void* k, const void* v,
               int num_blocks, int block_size, int num_kv_heads, int head_dim, int num_seqs, const int32_t* q_indptr,
               const int32_t* kv_lens, const int32_t* block_indptr, const int32_t* block_ids,
               const int32_t* kv_indptr, int num_q_heads, float sm_scale, int causal, int max_q_len, void* stream) {
  rk::PrefillParams p;
  p.dtype = static_cast<rk::ScalarType>(dtype);
  p.kv_source = static_cast<rk::KvSource>(kv_source);
  p.q = q;
  p.o = o;
  p.maybe_lse = lse;
  if (p.kv_source == rk::KvSource::kPaged) {
    p.k_cache = k;
    p.v_cache = v;
  } else {
    p.k = k;
    p.v = v;
  }
  p.kv = {num_blocks, block_size, num_kv_heads, head_dim};
  p.batch.num_seqs = num_seqs;
  p.batch.q_indptr = q_indptr;
  p.batch.kv_lens = kv_lens;
  p.batch.block_indptr = block_indptr;
  p.batch.block_ids = block_ids;
  p.kv_indptr = kv_indptr;
  p.num_q_heads = num_q_heads;
  p.sm_scale = sm_scale;
  p.causal = causal != 0;
  p.max_q_len = max_q_len;
  return Report(rc::PrefillAttention(p, Stream(stream)));
}

// 0 auto, 1 mma.sync, 2 wgmma (rc::PrefillPath); returns the previous setting.
int rs_set_prefill_path(int path) {
  const int prev = static_cast<int>(rc::GetPrefillPath());
  rc::SetPrefillPath(static_cast<rc::PrefillPath>(path));
  return prev;
}

// 0 auto, 1 legacy, 2 fused, 3 fused + programmatic launch (rc::CascadeMode); returns the
// previous setting.
int rs_set_cascade_mode(int mode) {
  const int prev = static_cast<int>(rc::GetCascadeMode());
  rc::SetCascadeMode(static_cast<rc::CascadeMode>(mode));
  return prev;
}

int64_t rs_cascade_workspace_bytes(int num_groups, int num_seqs, int num_q_heads, int num_kv_heads, int head_dim,
                                   int max_group_size, int max_prefix_len, int max_suffix_len) {
  return rc::CascadeWorkspaceBytes(num_groups, num_seqs, num_q_heads, num_kv_heads, head_dim, max_group_size,
                                   max_prefix_len, max_suffix_len);
}

int rs_cascade(int dtype, const void* q, void* o, float* lse, const void* k_cache, const void* v_cache,
               int num_blocks, int block_size, int num_kv_heads, int head_dim, int num_groups,
               const int32_t* group_indptr, const int32_t* prefix_lens, const int32_t* prefix_block_indptr,
               const int32_t* prefix_block_ids, int num_seqs, const int32_t* suffix_lens,
               const int32_t* suffix_block_indptr, const int32_t* suffix_block_ids, int num_q_heads, float sm_scale,
               int max_group_size, int max_prefix_len, int max_suffix_len, void* workspace, int64_t workspace_bytes,
               void* stream) {
  rk::CascadeDecodeParams p;
  p.dtype = static_cast<rk::ScalarType>(dtype);
  p.q = q;
  p.o = o;
  p.maybe_lse = lse;
  p.k_cache = k_cache;
  p.v_cache = v_cache;
  p.kv = {num_blocks, block_size, num_kv_heads, head_dim};
  p.num_groups = num_groups;
  p.group_indptr = group_indptr;
  p.prefix_lens = prefix_lens;
  p.prefix_block_indptr = prefix_block_indptr;
  p.prefix_block_ids = prefix_block_ids;
  p.suffix.num_seqs = num_seqs;
  p.suffix.kv_lens = suffix_lens;
  p.suffix.block_indptr = suffix_block_indptr;
  p.suffix.block_ids = suffix_block_ids;
  p.num_q_heads = num_q_heads;
  p.sm_scale = sm_scale;
  p.max_group_size = max_group_size;
  p.max_prefix_len = max_prefix_len;
  p.max_suffix_len = max_suffix_len;
  p.workspace = workspace;
  p.workspace_bytes = workspace_bytes;
  return Report(rc::CascadeDecode(p, Stream(stream)));
}

int rs_merge_state(int dtype, void* o_a, float* lse_a, const void* o_b, const float* lse_b, int num_rows,
                   int num_heads, int head_dim, void* stream) {
  rk::MergeStateParams p;
  p.dtype = static_cast<rk::ScalarType>(dtype);
  p.o_a = o_a;
  p.lse_a = lse_a;
  p.o_b = o_b;
  p.lse_b = lse_b;
  p.num_rows = num_rows;
  p.num_heads = num_heads;
  p.head_dim = head_dim;
  return Report(rc::MergeState(p, Stream(stream)));
}

}  // extern "C"
