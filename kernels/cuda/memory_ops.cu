#include "kernels/cuda/memory_ops.cuh"

#include <cstdint>

namespace radixserve::kernels::cuda {
namespace {

// grid: [num_tokens]; block: 128 threads over the token's num_kv_heads * head_dim
// elements of K and V, in 16-byte chunks.
__global__ void WriteKvKernel(const __grid_constant__ KvWriteParams p, int elem_bytes) {
  const int t = blockIdx.x;
  const int32_t slot = p.slot_mapping[t];
  if (slot < 0) return;
  const int32_t block = slot / p.kv.block_size, offset = slot % p.kv.block_size;
  const int chunks_per_head = p.kv.head_dim * elem_bytes / 16;
  const int chunks = p.kv.num_kv_heads * chunks_per_head;
  const int64_t row_elems = static_cast<int64_t>(p.kv.num_kv_heads) * p.kv.head_dim;
  const int64_t k_stride = (p.k_token_stride > 0 ? p.k_token_stride : row_elems) * elem_bytes;
  const int64_t v_stride = (p.v_token_stride > 0 ? p.v_token_stride : row_elems) * elem_bytes;
  const char* k_src = static_cast<const char*>(p.k_new) + t * k_stride;
  const char* v_src = static_cast<const char*>(p.v_new) + t * v_stride;
  for (int i = threadIdx.x; i < chunks; i += blockDim.x) {
    const int h = i / chunks_per_head, c = i - h * chunks_per_head;
    const int64_t dst = (((static_cast<int64_t>(block) * p.kv.num_kv_heads + h) * p.kv.block_size + offset) *
                         p.kv.head_dim) * elem_bytes + c * 16;
    const int64_t src = static_cast<int64_t>(h) * p.kv.head_dim * elem_bytes + c * 16;
    *reinterpret_cast<uint4*>(static_cast<char*>(p.k_cache) + dst) = *reinterpret_cast<const uint4*>(k_src + src);
    *reinterpret_cast<uint4*>(static_cast<char*>(p.v_cache) + dst) = *reinterpret_cast<const uint4*>(v_src + src);
  }
}

// grid: [num_pairs, num_pools]; block: 256 threads copying one block in 16-byte chunks.
__global__ void CopyBlocksKernel(const __grid_constant__ BlockCopyParams p) {
  const int pair = blockIdx.x, pool = blockIdx.y;
  char* base = static_cast<char*>(p.pools[pool]);
  const uint4* src = reinterpret_cast<const uint4*>(base + p.pairs[2 * pair] * p.block_bytes);
  uint4* dst = reinterpret_cast<uint4*>(base + p.pairs[2 * pair + 1] * p.block_bytes);
  const int64_t n = p.block_bytes / 16;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) dst[i] = src[i];
}

}  // namespace

KernelStatus WriteKv(const KvWriteParams& p, cudaStream_t stream) {
  KERNEL_CHECK_ARG(p.k_new && p.v_new && p.k_cache && p.v_cache && p.slot_mapping, "write_kv: null pointer");
  const int elem_bytes = ScalarTypeBytes(p.dtype);
  KERNEL_CHECK_ARG((p.kv.head_dim * elem_bytes) % 16 == 0, "write_kv: head_dim not a multiple of 16 bytes");
  if (p.num_tokens == 0) return KernelStatus::Ok();
  WriteKvKernel<<<p.num_tokens, 128, 0, stream>>>(p, elem_bytes);
  CUDA_RETURN_IF_LAUNCH_ERROR();
  return KernelStatus::Ok();
}

KernelStatus CopyBlocks(const BlockCopyParams& p, cudaStream_t stream) {
  KERNEL_CHECK_ARG(p.block_bytes % 16 == 0, "copy_blocks: block_bytes not a multiple of 16");
  if (p.num_pairs == 0 || p.num_pools == 0) return KernelStatus::Ok();
  KERNEL_CHECK_ARG(p.pools != nullptr && p.pairs != nullptr && p.num_pools <= 65535, "copy_blocks: bad arguments");
  CopyBlocksKernel<<<dim3(p.num_pairs, p.num_pools), 256, 0, stream>>>(p);
  CUDA_RETURN_IF_LAUNCH_ERROR();
  return KernelStatus::Ok();
}

KernelStatus SwapBlocks(const SwapBlocksParams& p, cudaStream_t stream) {
  if (p.num_pairs == 0 || p.num_pools == 0) return KernelStatus::Ok();
  KERNEL_CHECK_ARG(p.src_pools && p.dst_pools && p.pairs && p.block_bytes > 0, "swap_blocks: bad arguments");
  for (int l = 0; l < p.num_pools; ++l) {
    const char* src = static_cast<const char*>(p.src_pools[l]);
    char* dst = static_cast<char*>(p.dst_pools[l]);
    int i = 0;
    while (i < p.num_pairs) {
      // Extend the run while both source and destination ids stay consecutive.
      int j = i + 1;
      while (j < p.num_pairs && p.pairs[2 * j] == p.pairs[2 * (j - 1)] + 1 &&
             p.pairs[2 * j + 1] == p.pairs[2 * (j - 1) + 1] + 1) {
        ++j;
      }
      CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst + p.pairs[2 * i + 1] * p.block_bytes,
                                           src + p.pairs[2 * i] * p.block_bytes,
                                           (j - i) * p.block_bytes, cudaMemcpyDefault, stream));
      i = j;
    }
  }
  return KernelStatus::Ok();
}

}  // namespace radixserve::kernels::cuda
