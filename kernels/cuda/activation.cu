#include "kernels/cuda/activation.cuh"

#include "kernels/cuda/type_utils.cuh"

namespace radixserve::kernels::cuda {
namespace {

__device__ __forceinline__ float Silu(float g) { return g / (1.0f + __expf(-g)); }

// grid-stride over [num_tokens, d / kVec] vectors of the output.
template <typename T>
__global__ void SiluAndMulVecKernel(const __grid_constant__ SiluAndMulParams p) {
  using V = Vec16<T>;
  constexpr int kVec = V::kSize;
  const int64_t vecs_per_row = p.d / kVec;
  const int64_t total = vecs_per_row * p.num_tokens;
  const T* x = static_cast<const T*>(p.x);
  T* out = static_cast<T*>(p.out);
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t t = i / vecs_per_row;
    const int64_t c = (i - t * vecs_per_row) * kVec;
    const V g = LoadVec16(x + t * 2 * p.d + c);
    const V u = LoadVec16(x + t * 2 * p.d + p.d + c);
    V o;
#pragma unroll
    for (int j = 0; j < kVec; ++j) o.v[j] = FromFloat<T>(Silu(ToFloat(g.v[j])) * ToFloat(u.v[j]));
    StoreVec16(out + t * p.d + c, o);
  }
}

template <typename T>
__global__ void SiluAndMulScalarKernel(const __grid_constant__ SiluAndMulParams p) {
  const int64_t total = static_cast<int64_t>(p.d) * p.num_tokens;
  const T* x = static_cast<const T*>(p.x);
  T* out = static_cast<T*>(p.out);
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t t = i / p.d, c = i - t * p.d;
    out[i] = FromFloat<T>(Silu(ToFloat(x[t * 2 * p.d + c])) * ToFloat(x[t * 2 * p.d + p.d + c]));
  }
}

template <typename T>
KernelStatus Launch(const SiluAndMulParams& p, cudaStream_t stream) {
  constexpr int kVec = Vec16<T>::kSize;
  constexpr int kThreads = 256;
  const bool vec = p.d % kVec == 0;
  const int64_t work = static_cast<int64_t>(p.num_tokens) * (vec ? p.d / kVec : p.d);
  int64_t blocks = (work + kThreads - 1) / kThreads;
  if (blocks > 132 * 16) blocks = 132 * 16;  // grid-stride beyond a few waves
  if (vec) {
    SiluAndMulVecKernel<T><<<static_cast<int>(blocks), kThreads, 0, stream>>>(p);
  } else {
    SiluAndMulScalarKernel<T><<<static_cast<int>(blocks), kThreads, 0, stream>>>(p);
  }
  CUDA_RETURN_IF_LAUNCH_ERROR();
  return KernelStatus::Ok();
}

}  // namespace

KernelStatus SiluAndMul(const SiluAndMulParams& p, cudaStream_t stream) {
  KERNEL_CHECK_ARG(p.x != nullptr && p.out != nullptr && p.d > 0, "silu_and_mul: bad arguments");
  if (p.num_tokens == 0) return KernelStatus::Ok();
  switch (p.dtype) {
    case ScalarType::kF32: return Launch<float>(p, stream);
    case ScalarType::kF16: return Launch<__half>(p, stream);
    case ScalarType::kBF16: return Launch<__nv_bfloat16>(p, stream);
  }
  return InvalidArgument("silu_and_mul: unsupported dtype", __FILE__, __LINE__);
}

}  // namespace radixserve::kernels::cuda
