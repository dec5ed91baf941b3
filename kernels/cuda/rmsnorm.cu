#include "kernels/cuda/rmsnorm.cuh"

#include "kernels/cuda/type_utils.cuh"

namespace radixserve::kernels::cuda {
namespace {

constexpr int kMaxVecsPerThread = 8;

// grid: [num_tokens]; block: enough threads that each holds <= kVecs vectors of its row
// in registers between the sum-of-squares pass and the scaling pass. kVecs = 2 for rows
// up to 2048 vectors keeps registers low enough for a full SM of warps (the loads are
// latency-bound, so occupancy is bandwidth); 8 covers rows up to 8192 vectors.
template <typename T, int kVecs>
__global__ void RmsNormKernel(const __grid_constant__ RmsNormParams p) {
  using V = Vec16<T>;
  constexpr int kVec = V::kSize;
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  const int num_vecs = p.hidden / kVec;
  const T* x = static_cast<const T*>(p.x) + row * p.hidden;
  T* residual = p.maybe_residual ? static_cast<T*>(p.maybe_residual) + row * p.hidden : nullptr;
  T* out = static_cast<T*>(p.out) + row * p.hidden;
  const T* w = static_cast<const T*>(p.weight);

  float vals[kVecs][kVec];
  float sum_sq = 0.0f;
#pragma unroll
  for (int i = 0; i < kVecs; ++i) {
    const int c = threadIdx.x + i * blockDim.x;
    if (c < num_vecs) {
      V xv = LoadVec16(x + c * kVec);
      if (residual != nullptr) {
        V rv = LoadVec16(residual + c * kVec);
#pragma unroll
        for (int j = 0; j < kVec; ++j) rv.v[j] = FromFloat<T>(ToFloat(xv.v[j]) + ToFloat(rv.v[j]));
        StoreVec16(residual + c * kVec, rv);
        xv = rv;
      }
#pragma unroll
      for (int j = 0; j < kVec; ++j) {
        vals[i][j] = ToFloat(xv.v[j]);
        sum_sq += vals[i][j] * vals[i][j];
      }
    }
  }
  sum_sq = BlockSum(sum_sq, scratch);
  const float inv_rms = rsqrtf(sum_sq / static_cast<float>(p.hidden) + p.eps);
#pragma unroll
  for (int i = 0; i < kVecs; ++i) {
    const int c = threadIdx.x + i * blockDim.x;
    if (c < num_vecs) {
      const V wv = LoadVec16(w + c * kVec);
      V ov;
#pragma unroll
      for (int j = 0; j < kVec; ++j) ov.v[j] = FromFloat<T>(vals[i][j] * inv_rms * ToFloat(wv.v[j]));
      StoreVec16(out + c * kVec, ov);
    }
  }
}

template <typename T>
KernelStatus Launch(const RmsNormParams& p, cudaStream_t stream) {
  constexpr int kVec = Vec16<T>::kSize;
  KERNEL_CHECK_ARG(p.hidden > 0 && p.hidden % kVec == 0, "rmsnorm: hidden must be a multiple of 16 bytes");
  const int num_vecs = p.hidden / kVec;
  KERNEL_CHECK_ARG(num_vecs <= 1024 * kMaxVecsPerThread, "rmsnorm: hidden too large");
  constexpr int kSmallVecs = 2;
  const bool small = num_vecs <= 1024 * kSmallVecs;
  const int per_thread = small ? kSmallVecs : kMaxVecsPerThread;
  int threads = (num_vecs + per_thread - 1) / per_thread;
  threads = threads < 32 ? 32 : (threads + 31) / 32 * 32;
  if (threads > 1024) threads = 1024;
  if (small) {
    RmsNormKernel<T, kSmallVecs><<<p.num_tokens, threads, 0, stream>>>(p);
  } else {
    RmsNormKernel<T, kMaxVecsPerThread><<<p.num_tokens, threads, 0, stream>>>(p);
  }
  CUDA_RETURN_IF_LAUNCH_ERROR();
  return KernelStatus::Ok();
}

}  // namespace

KernelStatus RmsNorm(const RmsNormParams& p, cudaStream_t stream) {
  KERNEL_CHECK_ARG(p.x != nullptr && p.out != nullptr && p.weight != nullptr, "rmsnorm: null pointer");
  if (p.num_tokens == 0) return KernelStatus::Ok();
  switch (p.dtype) {
    case ScalarType::kF32: return Launch<float>(p, stream);
    case ScalarType::kF16: return Launch<__half>(p, stream);
    case ScalarType::kBF16: return Launch<__nv_bfloat16>(p, stream);
  }
  return InvalidArgument("rmsnorm: unsupported dtype", __FILE__, __LINE__);
}

}  // namespace radixserve::kernels::cuda
