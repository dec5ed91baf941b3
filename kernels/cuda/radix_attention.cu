#include "kernels/cuda/radix_attention.cuh"

#include "kernels/cuda/attention_core.cuh"
#include "kernels/cuda/paged_attention.cuh"

namespace radixserve::kernels::cuda {
namespace {

// Workspace layout (each piece 256-byte aligned):
//   suffix_o   [num_seqs, num_q_heads, head_dim]  dtype
//   prefix_lse [num_seqs, num_q_heads]            float (unused; kept for layout stability)
//   suffix_lse [num_seqs, num_q_heads]            float
//   decode workspace for the suffix pass
//   split workspace for the prefix pass
struct CascadeWorkspace {
  void* prefix_ws;
  int64_t prefix_ws_bytes;
  void* suffix_o;
  float* prefix_lse;
  float* suffix_lse;
  void* decode_ws;
  int64_t decode_ws_bytes;
  int64_t total_bytes;
};

int64_t AlignUp(int64_t v) { return (v + 255) / 256 * 256; }

// The suffix decode runs on a side stream, concurrently with the prefix pass (each alone
// leaves most of the GPU idle), and joins before the merge. One side stream and two
// events per host thread, created on first use on the then-current device; the fork/join
// through events is also valid inside CUDA-graph capture.
struct SideStream {
  cudaStream_t stream = nullptr;
  cudaEvent_t fork = nullptr;
  cudaEvent_t join = nullptr;
  cudaError_t status = cudaSuccess;
  SideStream() {
    status = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
    if (status == cudaSuccess) status = cudaEventCreateWithFlags(&fork, cudaEventDisableTiming);
    if (status == cudaSuccess) status = cudaEventCreateWithFlags(&join, cudaEventDisableTiming);
  }
};

SideStream& ThreadSideStream() {
  thread_local SideStream side;
  return side;
}

// The prefix pass: 4-warp CTAs over (group rows, KV head, group); long shared prefixes
// are split so that a handful of groups still fill the GPU.
AttentionLaunch PlanPrefix(int32_t num_groups, int32_t num_seqs, int32_t num_q_heads, int32_t num_kv_heads,
                           int32_t max_group_size, int32_t max_prefix_len) {
  if (num_groups <= 0 || num_kv_heads <= 0) return AttentionLaunch{};
  const int64_t rows = static_cast<int64_t>(max_group_size) * (num_q_heads / num_kv_heads);
  const int64_t base = (rows + 127) / 128 * num_kv_heads * num_groups;  // 128-row prefill CTAs
  // About one CTA per SM; the suffix decode runs alongside. (The wgmma prefix tiles take
  // a whole SM each: at 2 per SM the 256 chunks of the benchmark ran as two waves, 48.4 µs
  // vs 41.1 µs; the mma.sync tiles were 49.0 vs 48.2 µs, H200, same run.)
  AttentionLaunch l = PlanSplit(4, base, num_groups, max_prefix_len, 256, 132);
  l.num_q_tokens = num_seqs;
  return l;
}

CascadeWorkspace Carve(void* base, int32_t num_seqs, int32_t num_q_heads, int32_t num_kv_heads, int32_t head_dim,
                       int32_t max_suffix_len, const AttentionLaunch& prefix) {
  CascadeWorkspace ws{};
  char* p = static_cast<char*>(base);
  const int64_t rows = static_cast<int64_t>(num_seqs) * num_q_heads;
  int64_t off = 0;
  ws.suffix_o = p + off;
  off += AlignUp(rows * head_dim * 2);
  ws.prefix_lse = reinterpret_cast<float*>(p + off);
  off += AlignUp(rows * 4);
  ws.suffix_lse = reinterpret_cast<float*>(p + off);
  off += AlignUp(rows * 4);
  ws.decode_ws = p + off;
  ws.decode_ws_bytes = DecodeWorkspaceBytes(num_seqs, num_q_heads, num_kv_heads, head_dim, max_suffix_len);
  off += AlignUp(ws.decode_ws_bytes);
  ws.prefix_ws = p + off;
  ws.prefix_ws_bytes = SplitWorkspaceBytes(prefix.num_chunks, num_seqs, num_q_heads, head_dim, /*force=*/true);
  off += AlignUp(ws.prefix_ws_bytes);
  ws.total_bytes = off;
  return ws;
}

}  // namespace

int64_t CascadeWorkspaceBytes(int32_t num_groups, int32_t num_seqs, int32_t num_q_heads, int32_t num_kv_heads,
                              int32_t head_dim, int32_t max_group_size, int32_t max_prefix_len,
                              int32_t max_suffix_len) {
  const AttentionLaunch prefix =
      PlanPrefix(num_groups, num_seqs, num_q_heads, num_kv_heads, max_group_size, max_prefix_len);
  return Carve(nullptr, num_seqs, num_q_heads, num_kv_heads, head_dim, max_suffix_len, prefix).total_bytes;
}

KernelStatus CascadeDecode(const CascadeDecodeParams& p, cudaStream_t stream) {
  KERNEL_CHECK_ARG(p.q && p.o && p.k_cache && p.v_cache && p.group_indptr && p.prefix_lens &&
                       p.prefix_block_indptr && p.prefix_block_ids,
                   "cascade: null pointer");
  const int32_t num_seqs = p.suffix.num_seqs;
  if (num_seqs == 0) return KernelStatus::Ok();
  KERNEL_CHECK_ARG(p.num_groups > 0 && p.max_group_size > 0, "cascade: every sequence belongs to a group");
  AttentionLaunch prefix = PlanPrefix(p.num_groups, num_seqs, p.num_q_heads, p.kv.num_kv_heads, p.max_group_size,
                                      p.max_prefix_len);
  const CascadeWorkspace ws =
      Carve(p.workspace, num_seqs, p.num_q_heads, p.kv.num_kv_heads, p.kv.head_dim, p.max_suffix_len, prefix);
  prefix.workspace = ws.prefix_ws;
  prefix.workspace_bytes = ws.prefix_ws_bytes;
  KERNEL_CHECK_ARG(p.workspace != nullptr && p.workspace_bytes >= ws.total_bytes, "cascade: workspace too small");

  // 1. Each sequence's own suffix: paged decode into the workspace (state + lse), on the
  //    side stream.
  SideStream& side = ThreadSideStream();
  CUDA_RETURN_IF_ERROR(side.status);
  CUDA_RETURN_IF_ERROR(cudaEventRecord(side.fork, stream));
  CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(side.stream, side.fork, 0));
  DecodeParams dec;
  dec.dtype = p.dtype;
  dec.q = p.q;
  dec.o = ws.suffix_o;
  dec.maybe_lse = ws.suffix_lse;
  dec.k_cache = p.k_cache;
  dec.v_cache = p.v_cache;
  dec.kv = p.kv;
  dec.batch = p.suffix;
  dec.num_q_heads = p.num_q_heads;
  dec.sm_scale = p.sm_scale;
  dec.max_kv_len = p.max_suffix_len;
  dec.workspace = ws.decode_ws;
  dec.workspace_bytes = ws.decode_ws_bytes;
  KernelStatus suffix_status = DecodeWithPagedKv(dec, side.stream);
  // Join even on failure, so the side stream never outlives a capture unjoined.
  CUDA_RETURN_IF_ERROR(cudaEventRecord(side.join, side.stream));
  if (!suffix_status.ok()) {
    CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(stream, side.join, 0));
    return suffix_status;
  }

  // 2. Shared prefixes: per group, a non-causal "prefill" whose query tokens are the
  //    group's sequences, split over the prefix keys; its merge pass also folds in the
  //    suffix state, writing o and maybe_lse.
  PrefillParams pre;
  pre.dtype = p.dtype;
  pre.kv_source = KvSource::kPaged;
  pre.q = p.q;
  pre.o = p.o;
  pre.maybe_lse = p.maybe_lse;
  pre.k_cache = p.k_cache;
  pre.v_cache = p.v_cache;
  pre.kv = p.kv;
  pre.batch.num_seqs = p.num_groups;
  pre.batch.q_indptr = p.group_indptr;
  pre.batch.kv_lens = p.prefix_lens;
  pre.batch.block_indptr = p.prefix_block_indptr;
  pre.batch.block_ids = p.prefix_block_ids;
  pre.num_q_heads = p.num_q_heads;
  pre.sm_scale = p.sm_scale;
  pre.causal = false;
  pre.max_q_len = p.max_group_size;
  prefix.extra_o = ws.suffix_o;
  prefix.extra_lse = ws.suffix_lse;
  prefix.merge_after = side.join;
  if (KernelStatus s = LaunchAttentionCore(pre, prefix, stream); !s.ok()) {
    CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(stream, side.join, 0));
    return s;
  }
  return KernelStatus::Ok();
}

}  // namespace radixserve::kernels::cuda
