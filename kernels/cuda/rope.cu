#include "kernels/cuda/rope.cuh"

#include "kernels/cuda/type_utils.cuh"

namespace radixserve::kernels::cuda {
namespace {

constexpr int kMaxRotaryDim = 512;
constexpr int kTokensPerBlock = 4;

__device__ double InvFreq(const RopeParams& p, int rotary_dim, int i) {
  double inv_freq = pow(static_cast<double>(p.theta), -2.0 * i / rotary_dim);
  if (p.scaling == RopeScaling::kLinear) {
    inv_freq /= p.factor;
  } else if (p.scaling == RopeScaling::kLlama3) {
    const double kPi = 3.14159265358979323846;
    const double wavelen = 2.0 * kPi / inv_freq;
    const double low_wavelen = p.original_max_position / static_cast<double>(p.low_freq_factor);
    const double high_wavelen = p.original_max_position / static_cast<double>(p.high_freq_factor);
    if (wavelen > low_wavelen) {
      inv_freq /= p.factor;
    } else if (wavelen >= high_wavelen) {
      const double smooth = (p.original_max_position / wavelen - p.low_freq_factor) /
                            (static_cast<double>(p.high_freq_factor) - p.low_freq_factor);
      inv_freq = (1.0 - smooth) * inv_freq / p.factor + smooth * inv_freq;
    }
  }
  return inv_freq;
}

// grid: [ceil(num_tokens / kTokensPerBlock)]; block: 128 threads. For each token the
// block first fills cos/sin of its rotary_dim/2 angles in shared memory, then rotates
// 16-byte chunks of every Q and K head.
//   kNormal: a chunk holds kVec adjacent elements = kVec/2 whole pairs.
//   kNeox:   a chunk pairs kVec elements of the first half with the same of the second.
template <typename T, RopeStyle kStyle>
__global__ void RopeKernel(const __grid_constant__ RopeParams p) {
  using V = Vec16<T>;
  constexpr int kVec = V::kSize;
  __shared__ float cos_s[kTokensPerBlock][kMaxRotaryDim / 2];
  __shared__ float sin_s[kTokensPerBlock][kMaxRotaryDim / 2];
  const int rotary_dim = p.rotary_dim > 0 ? p.rotary_dim : p.head_dim;
  const int half = rotary_dim / 2;
  const int t0 = blockIdx.x * kTokensPerBlock;
  for (int i = threadIdx.x; i < kTokensPerBlock * half; i += blockDim.x) {
    const int tt = i / half, f = i - tt * half;
    if (t0 + tt < p.num_tokens) {
      const double angle = static_cast<double>(p.positions[t0 + tt]) * InvFreq(p, rotary_dim, f);
      double s, c;
      sincos(angle, &s, &c);
      cos_s[tt][f] = static_cast<float>(c);
      sin_s[tt][f] = static_cast<float>(s);
    }
  }
  __syncthreads();
  const int chunks_per_head = kStyle == RopeStyle::kNeox ? half / kVec : rotary_dim / kVec;
  const int heads = p.num_q_heads + (p.k != nullptr ? p.num_kv_heads : 0);
  const int per_token = heads * chunks_per_head;
  const int64_t q_stride = p.q_token_stride > 0 ? p.q_token_stride : static_cast<int64_t>(p.num_q_heads) * p.head_dim;
  const int64_t k_stride = p.k_token_stride > 0 ? p.k_token_stride : static_cast<int64_t>(p.num_kv_heads) * p.head_dim;
  for (int i = threadIdx.x; i < kTokensPerBlock * per_token; i += blockDim.x) {
    const int tt = i / per_token;
    const int t = t0 + tt;
    if (t >= p.num_tokens) break;
    const int r = i - tt * per_token;
    const int h = r / chunks_per_head, c = r - h * chunks_per_head;
    T* head = h < p.num_q_heads
                  ? static_cast<T*>(p.q) + t * q_stride + static_cast<int64_t>(h) * p.head_dim
                  : static_cast<T*>(p.k) + t * k_stride + static_cast<int64_t>(h - p.num_q_heads) * p.head_dim;
    if constexpr (kStyle == RopeStyle::kNeox) {
      T* a_ptr = head + c * kVec;
      T* b_ptr = a_ptr + half;
      V a = LoadVec16(a_ptr), b = LoadVec16(b_ptr);
#pragma unroll
      for (int j = 0; j < kVec; ++j) {
        const float cs = cos_s[tt][c * kVec + j], sn = sin_s[tt][c * kVec + j];
        const float xa = ToFloat(a.v[j]), xb = ToFloat(b.v[j]);
        a.v[j] = FromFloat<T>(xa * cs - xb * sn);
        b.v[j] = FromFloat<T>(xb * cs + xa * sn);
      }
      StoreVec16(a_ptr, a);
      StoreVec16(b_ptr, b);
    } else {
      T* ptr = head + c * kVec;
      V x = LoadVec16(ptr);
#pragma unroll
      for (int j = 0; j < kVec; j += 2) {
        const int f = (c * kVec + j) / 2;
        const float cs = cos_s[tt][f], sn = sin_s[tt][f];
        const float xa = ToFloat(x.v[j]), xb = ToFloat(x.v[j + 1]);
        x.v[j] = FromFloat<T>(xa * cs - xb * sn);
        x.v[j + 1] = FromFloat<T>(xb * cs + xa * sn);
      }
      StoreVec16(ptr, x);
    }
  }
}

template <typename T>
KernelStatus Launch(const RopeParams& p, cudaStream_t stream) {
  constexpr int kVec = Vec16<T>::kSize;
  const int rotary_dim = p.rotary_dim > 0 ? p.rotary_dim : p.head_dim;
  KERNEL_CHECK_ARG(rotary_dim <= p.head_dim && rotary_dim <= kMaxRotaryDim, "rope: bad rotary_dim");
  KERNEL_CHECK_ARG(p.head_dim % kVec == 0, "rope: head_dim must be a multiple of 16 bytes");
  const int blocks = (p.num_tokens + kTokensPerBlock - 1) / kTokensPerBlock;
  switch (p.style) {
    case RopeStyle::kNeox:
      KERNEL_CHECK_ARG(rotary_dim % (2 * kVec) == 0, "rope: rotary_dim not a multiple of 2 vectors");
      RopeKernel<T, RopeStyle::kNeox><<<blocks, 128, 0, stream>>>(p);
      break;
    case RopeStyle::kNormal:
      KERNEL_CHECK_ARG(rotary_dim % kVec == 0, "rope: rotary_dim not a multiple of a vector");
      RopeKernel<T, RopeStyle::kNormal><<<blocks, 128, 0, stream>>>(p);
      break;
    default:
      return InvalidArgument("rope: unknown style", __FILE__, __LINE__);
  }
  CUDA_RETURN_IF_LAUNCH_ERROR();
  return KernelStatus::Ok();
}

}  // namespace

KernelStatus ApplyRope(const RopeParams& p, cudaStream_t stream) {
  KERNEL_CHECK_ARG(p.q != nullptr && p.positions != nullptr && p.head_dim > 0, "rope: bad arguments");
  if (p.num_tokens == 0) return KernelStatus::Ok();
  switch (p.dtype) {
    case ScalarType::kF32: return Launch<float>(p, stream);
    case ScalarType::kF16: return Launch<__half>(p, stream);
    case ScalarType::kBF16: return Launch<__nv_bfloat16>(p, stream);
  }
  return InvalidArgument("rope: unsupported dtype", __FILE__, __LINE__);
}

}  // namespace radixserve::kernels::cuda
