#include "kernels/cuda/paged_attention.cuh"

#include "kernels/cuda/type_utils.cuh"

namespace radixserve::kernels::cuda {
namespace {

constexpr int kDecodeWarps = 4;
constexpr int kHeadsPerBlock = 4;  // query heads of one KV head handled by one block
constexpr int kUnroll = 4;         // tokens per lane group in flight per step
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
constexpr int kNumSms = 132;

// Partial results of one split: o [num_seqs, num_q_heads, num_splits, head_dim] float and
// lse [num_seqs, num_q_heads, num_splits] (log2 domain, scaled scores).
struct SplitWorkspace {
  float* o;
  float* lse;
};

__host__ __device__ inline SplitWorkspace CarveWorkspace(void* ws, int32_t num_seqs, int32_t num_q_heads,
                                                         int32_t num_splits, int32_t head_dim) {
  float* base = static_cast<float*>(ws);
  const int64_t o_elems = static_cast<int64_t>(num_seqs) * num_q_heads * num_splits * head_dim;
  return {base, base + o_elems};
}

// grid: [num_splits, num_kv_heads * head_groups, num_seqs]; block: kDecodeWarps warps.
// Lanes form groups of kLanesPerToken lanes, each lane holding 8 consecutive dims (16
// bytes) of one token's K and V row; a warp covers kGroups tokens x kUnroll per step.
//
//   warp w, step s:  tokens base + (s * kDecodeWarps + w) * kTokensPerWarpStep + u * kGroups + g
//                    for u in [0, kUnroll), lane group g in [0, kGroups)
//
// Each lane group keeps its own online-softmax state for the block's query heads; the
// states of all groups and warps merge in shared memory at the end.
template <typename T, int kHeadDim>
__global__ void __launch_bounds__(kDecodeWarps * 32)
    BatchDecodeWithPagedKvKernel(const __grid_constant__ DecodeParams p, int32_t num_splits, int32_t chunk_size) {
  constexpr int kLanesPerToken = kHeadDim / 8;
  constexpr int kGroups = 32 / kLanesPerToken;
  constexpr int kTokensPerWarpStep = kGroups * kUnroll;
  __shared__ float s_m[kDecodeWarps * kGroups][kHeadsPerBlock];
  __shared__ float s_l[kDecodeWarps * kGroups][kHeadsPerBlock];
  __shared__ float s_acc[kDecodeWarps * kGroups][kHeadsPerBlock][kHeadDim];

  const int split = blockIdx.x;
  const int seq = blockIdx.z;
  const int group_size = p.num_q_heads / p.kv.num_kv_heads;
  const int head_groups = (group_size + kHeadsPerBlock - 1) / kHeadsPerBlock;
  const int kv_head = blockIdx.y / head_groups;
  const int head_begin = kv_head * group_size + (blockIdx.y % head_groups) * kHeadsPerBlock;
  const int num_heads = min(kHeadsPerBlock, kv_head * group_size + group_size - head_begin);
  const int kv_len = p.batch.kv_lens[seq];
  const int t_begin = split * chunk_size;
  const int t_end = min(kv_len, t_begin + chunk_size);
  if (num_splits > 1 && t_begin >= kv_len && t_begin > 0) return;  // this split is empty

  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int lg = lane / kLanesPerToken;     // lane group: which token of a step
  const int li = lane % kLanesPerToken;     // which 8 dims
  const float qk_scale = p.sm_scale * kLog2e;

  float q[kHeadsPerBlock][8];
#pragma unroll
  for (int h = 0; h < kHeadsPerBlock; ++h) {
    if (h < num_heads) {
      const T* qp = static_cast<const T*>(p.q) + (static_cast<int64_t>(seq) * p.num_q_heads + head_begin + h) * kHeadDim + li * 8;
      const Vec16<T> qv = LoadVec16(qp);
#pragma unroll
      for (int e = 0; e < 8; ++e) q[h][e] = ToFloat(qv.v[e]) * qk_scale;
    } else {
#pragma unroll
      for (int e = 0; e < 8; ++e) q[h][e] = 0.0f;
    }
  }
  float m[kHeadsPerBlock], l[kHeadsPerBlock], acc[kHeadsPerBlock][8];
#pragma unroll
  for (int h = 0; h < kHeadsPerBlock; ++h) {
    m[h] = -INFINITY;
    l[h] = 0.0f;
#pragma unroll
    for (int e = 0; e < 8; ++e) acc[h][e] = 0.0f;
  }

  const int32_t* blocks = p.batch.block_ids + p.batch.block_indptr[seq];
  const int bs = p.kv.block_size;
  const int64_t head_off = static_cast<int64_t>(kv_head) * bs * kHeadDim + li * 8;
  const int64_t block_stride = static_cast<int64_t>(p.kv.num_kv_heads) * bs * kHeadDim;
  const T* k_cache = static_cast<const T*>(p.k_cache);
  const T* v_cache = static_cast<const T*>(p.v_cache);

  for (int base = t_begin + warp * kTokensPerWarpStep; base < t_end; base += kDecodeWarps * kTokensPerWarpStep) {
    Vec16<T> kv[kUnroll], vv[kUnroll];
    bool valid[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int t = base + u * kGroups + lg;
      valid[u] = t < t_end;
      if (valid[u]) {
        const int64_t off = blocks[t / bs] * block_stride + head_off + static_cast<int64_t>(t % bs) * kHeadDim;
        kv[u] = LoadVec16(k_cache + off);
        vv[u] = LoadVec16(v_cache + off);
      }
    }
    float s[kUnroll][kHeadsPerBlock];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      float kf[8];
#pragma unroll
      for (int e = 0; e < 8; ++e) kf[e] = ToFloat(kv[u].v[e]);
#pragma unroll
      for (int h = 0; h < kHeadsPerBlock; ++h) {
        float d = 0.0f;
#pragma unroll
        for (int e = 0; e < 8; ++e) d = fmaf(q[h][e], kf[e], d);
        s[u][h] = d;
      }
    }
    // Reduce the partial dots across the lane group.
#pragma unroll
    for (int o = kLanesPerToken / 2; o > 0; o >>= 1) {
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
        for (int h = 0; h < kHeadsPerBlock; ++h) s[u][h] += __shfl_xor_sync(0xffffffffu, s[u][h], o);
      }
    }
#pragma unroll
    for (int h = 0; h < kHeadsPerBlock; ++h) {
      float m_new = m[h];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        if (!valid[u]) s[u][h] = -INFINITY;
        m_new = fmaxf(m_new, s[u][h]);
      }
      if (m_new == -INFINITY) continue;  // nothing valid yet for this lane group
      const float scale = exp2f(m[h] - m_new);
      l[h] *= scale;
#pragma unroll
      for (int e = 0; e < 8; ++e) acc[h][e] *= scale;
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const float pr = exp2f(s[u][h] - m_new);
        l[h] += pr;
        if (valid[u]) {
#pragma unroll
          for (int e = 0; e < 8; ++e) acc[h][e] = fmaf(pr, ToFloat(vv[u].v[e]), acc[h][e]);
        }
      }
      m[h] = m_new;
    }
  }

  // Merge the kDecodeWarps * kGroups partial states.
  const int state = warp * kGroups + lg;
#pragma unroll
  for (int h = 0; h < kHeadsPerBlock; ++h) {
    if (li == 0) {
      s_m[state][h] = m[h];
      s_l[state][h] = l[h];
    }
#pragma unroll
    for (int e = 0; e < 8; ++e) s_acc[state][h][li * 8 + e] = acc[h][e];
  }
  __syncthreads();
  for (int i = threadIdx.x; i < num_heads * kHeadDim; i += blockDim.x) {
    const int h = i / kHeadDim, d = i % kHeadDim;
    float mm = -INFINITY;
#pragma unroll
    for (int st = 0; st < kDecodeWarps * kGroups; ++st) mm = fmaxf(mm, s_m[st][h]);
    float ll = 0.0f, oo = 0.0f;
    if (mm != -INFINITY) {
#pragma unroll
      for (int st = 0; st < kDecodeWarps * kGroups; ++st) {
        const float w = exp2f(s_m[st][h] - mm);
        ll += s_l[st][h] * w;
        oo += s_acc[st][h][d] * w;
      }
    }
    const int qh = head_begin + h;
    const float out = ll > 0.0f ? oo / ll : 0.0f;
    const float lse2 = ll > 0.0f ? mm + log2f(ll) : -INFINITY;
    if (num_splits == 1) {
      static_cast<T*>(p.o)[(static_cast<int64_t>(seq) * p.num_q_heads + qh) * kHeadDim + d] = FromFloat<T>(out);
      if (d == 0 && p.maybe_lse) p.maybe_lse[static_cast<int64_t>(seq) * p.num_q_heads + qh] = lse2 * kLn2;
    } else {
      const SplitWorkspace ws = CarveWorkspace(p.workspace, p.batch.num_seqs, p.num_q_heads, num_splits, kHeadDim);
      const int64_t row = (static_cast<int64_t>(seq) * p.num_q_heads + qh) * num_splits + split;
      ws.o[row * kHeadDim + d] = out;
      if (d == 0) ws.lse[row] = lse2;
    }
  }
}

// grid: [num_seqs * num_q_heads]; block: head_dim threads. Merges the splits that hold
// keys of this sequence (ceil(kv_len / chunk_size) of them).
template <typename T>
__global__ void MergeDecodeSplitsKernel(const __grid_constant__ DecodeParams p, int32_t num_splits,
                                        int32_t chunk_size, int32_t head_dim) {
  const int row = blockIdx.x;
  const int seq = row / p.num_q_heads;
  const int kv_len = p.batch.kv_lens[seq];
  const int used = max(1, min(num_splits, (kv_len + chunk_size - 1) / chunk_size));
  const SplitWorkspace ws = CarveWorkspace(p.workspace, p.batch.num_seqs, p.num_q_heads, num_splits, head_dim);
  const float* lse = ws.lse + static_cast<int64_t>(row) * num_splits;
  float mm = -INFINITY;
  for (int s = 0; s < used; ++s) mm = fmaxf(mm, lse[s]);
  const int d = threadIdx.x;
  float ll = 0.0f, oo = 0.0f;
  if (mm != -INFINITY) {
    for (int s = 0; s < used; ++s) {
      const float w = exp2f(lse[s] - mm);
      ll += w;
      oo += w * ws.o[(static_cast<int64_t>(row) * num_splits + s) * head_dim + d];
    }
  }
  static_cast<T*>(p.o)[static_cast<int64_t>(row) * head_dim + d] = FromFloat<T>(ll > 0.0f ? oo / ll : 0.0f);
  if (d == 0 && p.maybe_lse) p.maybe_lse[row] = ll > 0.0f ? (mm + log2f(ll)) * kLn2 : -INFINITY;
}

template <typename T, int kHeadDim>
KernelStatus LaunchDecode(const DecodeParams& p, cudaStream_t stream) {
  const DecodePlan plan = PlanDecode(p.batch.num_seqs, p.num_q_heads, p.kv.num_kv_heads, p.max_kv_len);
  const int group_size = p.num_q_heads / p.kv.num_kv_heads;
  const int head_groups = (group_size + kHeadsPerBlock - 1) / kHeadsPerBlock;
  if (plan.num_splits > 1) {
    KERNEL_CHECK_ARG(p.workspace != nullptr &&
                         p.workspace_bytes >= DecodeWorkspaceBytes(p.batch.num_seqs, p.num_q_heads, p.kv.num_kv_heads,
                                                                   kHeadDim, p.max_kv_len),
                     "decode: workspace too small");
  }
  const dim3 grid(plan.num_splits, p.kv.num_kv_heads * head_groups, p.batch.num_seqs);
  BatchDecodeWithPagedKvKernel<T, kHeadDim><<<grid, kDecodeWarps * 32, 0, stream>>>(p, plan.num_splits, plan.chunk_size);
  CUDA_RETURN_IF_LAUNCH_ERROR();
  if (plan.num_splits > 1) {
    MergeDecodeSplitsKernel<T><<<p.batch.num_seqs * p.num_q_heads, kHeadDim, 0, stream>>>(
        p, plan.num_splits, plan.chunk_size, kHeadDim);
    CUDA_RETURN_IF_LAUNCH_ERROR();
  }
  return KernelStatus::Ok();
}

template <typename T>
KernelStatus DispatchHeadDim(const DecodeParams& p, cudaStream_t stream) {
  switch (p.kv.head_dim) {
    case 64: return LaunchDecode<T, 64>(p, stream);
    case 128: return LaunchDecode<T, 128>(p, stream);
    default: return InvalidArgument("decode: head_dim must be 64 or 128", __FILE__, __LINE__);
  }
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
  DecodePlan plan;
  if (num_kv_heads <= 0 || num_seqs <= 0) return plan;
  const int group_size = num_q_heads / num_kv_heads;
  const int64_t base_blocks =
      static_cast<int64_t>(num_seqs) * num_kv_heads * ((group_size + kHeadsPerBlock - 1) / kHeadsPerBlock);
  // Aim for about 8 blocks per SM, splits no shorter than 256 keys.
  constexpr int kMinChunk = 256;
  int64_t splits = (static_cast<int64_t>(kNumSms) * 8 + base_blocks - 1) / base_blocks;
  const int64_t max_by_len = (static_cast<int64_t>(max_kv_len) + kMinChunk - 1) / kMinChunk;
  if (splits > max_by_len) splits = max_by_len;
  if (splits < 1) splits = 1;
  if (splits > 64) splits = 64;
  plan.num_splits = static_cast<int32_t>(splits);
  int64_t chunk = (max_kv_len + splits - 1) / splits;
  chunk = (chunk + 15) / 16 * 16;
  plan.chunk_size = static_cast<int32_t>(chunk > 0 ? chunk : 16);
  if (plan.num_splits == 1) plan.chunk_size = max_kv_len > 0 ? max_kv_len : 1;
  return plan;
}

int64_t DecodeWorkspaceBytes(int32_t num_seqs, int32_t num_q_heads, int32_t num_kv_heads, int32_t head_dim,
                             int32_t max_kv_len) {
  const DecodePlan plan = PlanDecode(num_seqs, num_q_heads, num_kv_heads, max_kv_len);
  if (plan.num_splits == 1) return 0;
  return static_cast<int64_t>(num_seqs) * num_q_heads * plan.num_splits * (head_dim + 1) *
         static_cast<int64_t>(sizeof(float));
}

KernelStatus DecodeWithPagedKv(const DecodeParams& p, cudaStream_t stream) {
  KERNEL_CHECK_ARG(p.q && p.o && p.k_cache && p.v_cache && p.batch.kv_lens && p.batch.block_indptr &&
                       p.batch.block_ids,
                   "decode: null pointer");
  KERNEL_CHECK_ARG(p.kv.num_kv_heads > 0 && p.num_q_heads % p.kv.num_kv_heads == 0, "decode: bad GQA ratio");
  if (p.batch.num_seqs == 0) return KernelStatus::Ok();
  switch (p.dtype) {
    case ScalarType::kF16: return DispatchHeadDim<__half>(p, stream);
    case ScalarType::kBF16: return DispatchHeadDim<__nv_bfloat16>(p, stream);
    default: return InvalidArgument("decode: dtype must be kF16 or kBF16", __FILE__, __LINE__);
  }
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
