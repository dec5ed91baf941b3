#include "kernels/cuda/paged_attention.cuh"

#include "kernels/cuda/attention_core.cuh"
#include "kernels/cuda/type_utils.cuh"

namespace radixserve::kernels::cuda {
namespace {

constexpr int kNumSms = 132;
constexpr int kDecodeTargetCtas = kNumSms * 8;  // 1-warp CTAs; about 8 resident per SM
constexpr int kDecodeMinChunk = 256;

int64_t DecodeBaseCtas(int32_t num_seqs, int32_t num_q_heads, int32_t num_kv_heads) {
  const int group_size = num_q_heads / num_kv_heads;
  return static_cast<int64_t>(num_seqs) * num_kv_heads * ((group_size + 15) / 16);
}

AttentionLaunch PlanDecodeLaunch(int32_t num_seqs, int32_t num_q_heads, int32_t num_kv_heads, int32_t max_kv_len) {
  if (num_kv_heads <= 0 || num_seqs <= 0) return AttentionLaunch{};
  AttentionLaunch l = PlanSplit(1, DecodeBaseCtas(num_seqs, num_q_heads, num_kv_heads), num_seqs, max_kv_len,
                                kDecodeMinChunk, kDecodeTargetCtas);
  l.num_q_tokens = num_seqs;
  return l;
}

// grid: [num_rows * num_heads]; block: head_dim threads.
template <typename T>
__global__ void MergeStateKernel(const __grid_constant__ MergeStateParams p) {
  const int64_t row = blockIdx.x;
  const int d = threadIdx.x;
  const float la = p.lse_a[row], lb = p.lse_b[row];
  const float mm = fmaxf(la, lb);
  T* oa = static_cast<T*>(p.o_a) + row * p.head_dim;
  const T* ob = static_cast<const T*>(p.o_b) + row * p.head_dim;
  float out = 0.0f, lse = -INFINITY;
  if (mm != -INFINITY) {
    const float wa = expf(la - mm), wb = expf(lb - mm);
    const float sum = wa + wb;
    out = (ToFloat(oa[d]) * wa + ToFloat(ob[d]) * wb) / sum;
    lse = mm + logf(sum);
  }
  __syncthreads();  // every thread has read lse_a before it is overwritten
  oa[d] = FromFloat<T>(out);
  if (d == 0) p.lse_a[row] = lse;
}

}  // namespace

DecodePlan PlanDecode(int32_t num_seqs, int32_t num_q_heads, int32_t num_kv_heads, int32_t max_kv_len) {
  const AttentionLaunch l = PlanDecodeLaunch(num_seqs, num_q_heads, num_kv_heads, max_kv_len);
  return DecodePlan{l.num_chunks, l.chunk_size};
}

int64_t DecodeWorkspaceBytes(int32_t num_seqs, int32_t num_q_heads, int32_t num_kv_heads, int32_t head_dim,
                             int32_t max_kv_len) {
  const AttentionLaunch l = PlanDecodeLaunch(num_seqs, num_q_heads, num_kv_heads, max_kv_len);
  return SplitWorkspaceBytes(l.num_chunks, num_seqs, num_q_heads, head_dim);
}

KernelStatus DecodeWithPagedKv(const DecodeParams& p, cudaStream_t stream) {
  KERNEL_CHECK_ARG(p.q && p.o && p.k_cache && p.v_cache && p.batch.kv_lens && p.batch.block_indptr &&
                       p.batch.block_ids,
                   "decode: null pointer");
  KERNEL_CHECK_ARG(p.kv.num_kv_heads > 0 && p.num_q_heads % p.kv.num_kv_heads == 0, "decode: bad GQA ratio");
  if (p.batch.num_seqs == 0) return KernelStatus::Ok();
  // Decode is the tensor-core kernel with one query token per sequence (q_indptr null):
  // the GQA group's heads are the packed rows of one 16-row tile, so each KV head is
  // read once per sequence (and chunk).
  PrefillParams a;
  a.dtype = p.dtype;
  a.kv_source = KvSource::kPaged;
  a.q = p.q;
  a.o = p.o;
  a.maybe_lse = p.maybe_lse;
  a.k_cache = p.k_cache;
  a.v_cache = p.v_cache;
  a.kv = p.kv;
  a.batch = p.batch;
  a.batch.q_indptr = nullptr;
  a.num_q_heads = p.num_q_heads;
  a.sm_scale = p.sm_scale;
  a.causal = false;
  a.max_q_len = 1;
  AttentionLaunch l = PlanDecodeLaunch(p.batch.num_seqs, p.num_q_heads, p.kv.num_kv_heads, p.max_kv_len);
  l.workspace = p.workspace;
  l.workspace_bytes = p.workspace_bytes;
  return LaunchAttentionCore(a, l, stream);
}

KernelStatus MergeState(const MergeStateParams& p, cudaStream_t stream) {
  KERNEL_CHECK_ARG(p.o_a && p.lse_a && p.o_b && p.lse_b, "merge_state: null pointer");
  KERNEL_CHECK_ARG(p.head_dim > 0 && p.head_dim <= 1024, "merge_state: bad head_dim");
  const int64_t rows = static_cast<int64_t>(p.num_rows) * p.num_heads;
  if (rows == 0) return KernelStatus::Ok();
  switch (p.dtype) {
    case ScalarType::kF32: MergeStateKernel<float><<<rows, p.head_dim, 0, stream>>>(p); break;
    case ScalarType::kF16: MergeStateKernel<__half><<<rows, p.head_dim, 0, stream>>>(p); break;
    case ScalarType::kBF16: MergeStateKernel<__nv_bfloat16><<<rows, p.head_dim, 0, stream>>>(p); break;
  }
  CUDA_RETURN_IF_LAUNCH_ERROR();
  return KernelStatus::Ok();
}

}  // namespace radixserve::kernels::cuda
