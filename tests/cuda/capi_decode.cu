// C ABI (as capi.cu) over the decode-step launchers: the dense bf16 GEMV and RoPE fused
// with the KV write. Returns 0, or the KernelCode; rs_last_error() says why.
#include <cstdint>

#include "kernels/cuda/dense_gemv.cuh"
#include "kernels/cuda/rope.cuh"
#include "tests/cuda/capi_status.cuh"

namespace rk = radixserve::kernels;
namespace rc = radixserve::kernels::cuda;

using radixserve::kernels::cuda::capi::Report;
using radixserve::kernels::cuda::capi::Stream;

extern "C" {

int rs_dense_gemv(const void* x, const void* w, const void* bias, void* y, int out_f32, int m, int n, int k,
                  const void* norm_weight, float norm_eps, const void* residual, void* stream) {
  rc::DenseGemvParams p;
  p.x = static_cast<const uint16_t*>(x);
  p.w = static_cast<const uint16_t*>(w);
  p.maybe_bias = static_cast<const uint16_t*>(bias);
  p.y = y;
  p.out_f32 = out_f32 != 0;
  p.m = m;
  p.n = n;
  p.k = k;
  p.maybe_norm_weight = static_cast<const uint16_t*>(norm_weight);
  p.norm_eps = norm_eps;
  p.maybe_residual = static_cast<const uint16_t*>(residual);
  return Report(rc::DenseGemv(p, Stream(stream)));
}

int rs_rope_write_kv(int dtype, int style, const void* q, const void* k_new, const void* v_new, void* q_out,
                     void* k_cache, void* v_cache, const int32_t* positions, const int32_t* slots, int num_tokens,
                     int num_q_heads, int num_kv_heads, int head_dim, int rotary_dim, int64_t q_stride,
                     int64_t kv_stride, int num_blocks, int block_size, float theta, void* stream) {
  rk::RopeWriteKvParams p;
  p.rope.dtype = static_cast<rk::ScalarType>(dtype);
  p.rope.style = static_cast<rk::RopeStyle>(style);
  p.rope.q = const_cast<void*>(q);
  p.rope.positions = positions;
  p.rope.num_tokens = num_tokens;
  p.rope.num_q_heads = num_q_heads;
  p.rope.num_kv_heads = num_kv_heads;
  p.rope.head_dim = head_dim;
  p.rope.rotary_dim = rotary_dim;
  p.rope.q_token_stride = q_stride;
  p.rope.theta = theta;
  p.write.dtype = p.rope.dtype;
  p.write.k_new = k_new;
  p.write.v_new = v_new;
  p.write.k_cache = k_cache;
  p.write.v_cache = v_cache;
  p.write.kv = {num_blocks, block_size, num_kv_heads, head_dim};
  p.write.slot_mapping = slots;
  p.write.num_tokens = num_tokens;
  p.write.k_token_stride = kv_stride;
  p.write.v_token_stride = kv_stride;
  p.q_out = q_out;
  return Report(rc::ApplyRopeAndWriteKv(p, Stream(stream)));
}

}  // extern "C"
