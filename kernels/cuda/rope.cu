#include "kernels/cuda/rope.cuh"

#include <type_traits>

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

// cos/sin of the rotary_dim/2 angles of tokens t0 .. t0 + kTokensPerBlock - 1.
__device__ void FillCosSin(const RopeParams& p, int t0, float (*cos_s)[kMaxRotaryDim / 2],
                           float (*sin_s)[kMaxRotaryDim / 2]) {
  const int rotary_dim = p.rotary_dim > 0 ? p.rotary_dim : p.head_dim;
  const int half = rotary_dim / 2;
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
}

// Rotates rotary chunk c of one head vector from `src` into `dst` (which may be src).
//   kNormal: a chunk holds kVec adjacent elements = kVec/2 whole pairs.
//   kNeox:   a chunk pairs kVec elements of the first half with the same of the second.
template <typename T, RopeStyle kStyle>
__device__ __forceinline__ void RotateChunk(const T* src, T* dst, int c, int half, const float* cos_t,
                                            const float* sin_t) {
  using V = Vec16<T>;
  constexpr int kVec = V::kSize;
  if constexpr (kStyle == RopeStyle::kNeox) {
    V a = LoadVec16(src + c * kVec), b = LoadVec16(src + c * kVec + half);
#pragma unroll
    for (int j = 0; j < kVec; ++j) {
      const float cs = cos_t[c * kVec + j], sn = sin_t[c * kVec + j];
      const float xa = ToFloat(a.v[j]), xb = ToFloat(b.v[j]);
      a.v[j] = FromFloat<T>(xa * cs - xb * sn);
      b.v[j] = FromFloat<T>(xb * cs + xa * sn);
    }
    StoreVec16(dst + c * kVec, a);
    StoreVec16(dst + c * kVec + half, b);
  } else {
    V x = LoadVec16(src + c * kVec);
#pragma unroll
    for (int j = 0; j < kVec; j += 2) {
      const int f = (c * kVec + j) / 2;
      const float cs = cos_t[f], sn = sin_t[f];
      const float xa = ToFloat(x.v[j]), xb = ToFloat(x.v[j + 1]);
      x.v[j] = FromFloat<T>(xa * cs - xb * sn);
      x.v[j + 1] = FromFloat<T>(xb * cs + xa * sn);
    }
    StoreVec16(dst + c * kVec, x);
  }
}

template <typename T, RopeStyle kStyle>
__device__ __forceinline__ int RotaryChunksPerHead(int rotary_dim) {
  constexpr int kVec = Vec16<T>::kSize;
  return kStyle == RopeStyle::kNeox ? rotary_dim / 2 / kVec : rotary_dim / kVec;
}

// grid: [ceil(num_tokens / kTokensPerBlock)]; block: 128 threads. For each token the
// block first fills cos/sin of its rotary_dim/2 angles in shared memory, then rotates
// 16-byte chunks of every Q and K head in place.
template <typename T, RopeStyle kStyle>
__global__ void RopeKernel(const __grid_constant__ RopeParams p) {
  __shared__ float cos_s[kTokensPerBlock][kMaxRotaryDim / 2];
  __shared__ float sin_s[kTokensPerBlock][kMaxRotaryDim / 2];
  const int t0 = blockIdx.x * kTokensPerBlock;
  FillCosSin(p, t0, cos_s, sin_s);
  __syncthreads();
  const int rotary_dim = p.rotary_dim > 0 ? p.rotary_dim : p.head_dim;
  const int chunks_per_head = RotaryChunksPerHead<T, kStyle>(rotary_dim);
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
    RotateChunk<T, kStyle>(head, head, c, rotary_dim / 2, cos_s[tt], sin_s[tt]);
  }
}

// grid and block as RopeKernel. Per token: rotary chunks of the Q heads (to q_out) and K
// heads (to the cache slot), then plain 16-byte copies: the elements past rotary_dim of Q
// and K, and all of V.
template <typename T, RopeStyle kStyle>
__global__ void RopeWriteKvKernel(const __grid_constant__ RopeWriteKvParams p) {
  constexpr int kVec = Vec16<T>::kSize;
  __shared__ float cos_s[kTokensPerBlock][kMaxRotaryDim / 2];
  __shared__ float sin_s[kTokensPerBlock][kMaxRotaryDim / 2];
  const int t0 = blockIdx.x * kTokensPerBlock;
  FillCosSin(p.rope, t0, cos_s, sin_s);
  __syncthreads();
  const int head_dim = p.rope.head_dim, nq = p.rope.num_q_heads, nkv = p.rope.num_kv_heads;
  const int rotary_dim = p.rope.rotary_dim > 0 ? p.rope.rotary_dim : head_dim;
  const int rot_chunks = RotaryChunksPerHead<T, kStyle>(rotary_dim);
  const int tail_chunks = (head_dim - rotary_dim) / kVec;
  const int head_chunks = head_dim / kVec;
  // Per token: rotations of nq + nkv heads, tails of nq + nkv heads, V copies of nkv heads.
  const int rot_jobs = (nq + nkv) * rot_chunks, tail_jobs = (nq + nkv) * tail_chunks;
  const int per_token = rot_jobs + tail_jobs + nkv * head_chunks;
  const int64_t q_stride = p.rope.q_token_stride > 0 ? p.rope.q_token_stride : static_cast<int64_t>(nq) * head_dim;
  const int64_t kv_row = static_cast<int64_t>(nkv) * head_dim;
  const int64_t k_stride = p.write.k_token_stride > 0 ? p.write.k_token_stride : kv_row;
  const int64_t v_stride = p.write.v_token_stride > 0 ? p.write.v_token_stride : kv_row;
  const int bs = p.write.kv.block_size;
  for (int i = threadIdx.x; i < kTokensPerBlock * per_token; i += blockDim.x) {
    const int tt = i / per_token;
    const int t = t0 + tt;
    if (t >= p.rope.num_tokens) break;
    int r = i - tt * per_token;
    const int32_t slot = p.write.slot_mapping[t];
    // Head h of the token: q heads first, then k heads; V heads only in the copy jobs.
    auto source = [&](int h) -> const T* {
      return h < nq ? static_cast<const T*>(p.rope.q) + t * q_stride + static_cast<int64_t>(h) * head_dim
                    : static_cast<const T*>(p.write.k_new) + t * k_stride + static_cast<int64_t>(h - nq) * head_dim;
    };
    auto cache_head = [&](void* cache, int kv_head) -> T* {
      return static_cast<T*>(cache) +
             ((static_cast<int64_t>(slot / bs) * nkv + kv_head) * bs + slot % bs) * head_dim;
    };
    auto dest = [&](int h) -> T* {
      return h < nq ? static_cast<T*>(p.q_out) + (static_cast<int64_t>(t) * nq + h) * head_dim
                    : cache_head(p.write.k_cache, h - nq);
    };
    if (r < rot_jobs) {
      const int h = r / rot_chunks, c = r - h * rot_chunks;
      if (h >= nq && slot < 0) continue;
      RotateChunk<T, kStyle>(source(h), dest(h), c, rotary_dim / 2, cos_s[tt], sin_s[tt]);
      continue;
    }
    r -= rot_jobs;
    if (r < tail_jobs) {
      const int h = r / tail_chunks, c = r - h * tail_chunks;
      if (h >= nq && slot < 0) continue;
      const int at = rotary_dim + c * kVec;
      StoreVec16(dest(h) + at, LoadVec16(source(h) + at));
      continue;
    }
    r -= tail_jobs;
    if (slot < 0) continue;
    const int h = r / head_chunks, c = r - h * head_chunks;
    const T* v = static_cast<const T*>(p.write.v_new) + t * v_stride + static_cast<int64_t>(h) * head_dim;
    StoreVec16(cache_head(p.write.v_cache, h) + c * kVec, LoadVec16(v + c * kVec));
  }
}

template <typename T, typename Params>
KernelStatus Launch(const RopeParams& rope, const Params& p, cudaStream_t stream) {
  constexpr int kVec = Vec16<T>::kSize;
  constexpr bool kFused = std::is_same_v<Params, RopeWriteKvParams>;
  const int rotary_dim = rope.rotary_dim > 0 ? rope.rotary_dim : rope.head_dim;
  KERNEL_CHECK_ARG(rotary_dim <= rope.head_dim && rotary_dim <= kMaxRotaryDim, "rope: bad rotary_dim");
  KERNEL_CHECK_ARG(rope.head_dim % kVec == 0, "rope: head_dim must be a multiple of 16 bytes");
  const int blocks = (rope.num_tokens + kTokensPerBlock - 1) / kTokensPerBlock;
  switch (rope.style) {
    case RopeStyle::kNeox:
      KERNEL_CHECK_ARG(rotary_dim % (2 * kVec) == 0, "rope: rotary_dim not a multiple of 2 vectors");
      if constexpr (kFused) {
        RopeWriteKvKernel<T, RopeStyle::kNeox><<<blocks, 128, 0, stream>>>(p);
      } else {
        RopeKernel<T, RopeStyle::kNeox><<<blocks, 128, 0, stream>>>(p);
      }
      break;
    case RopeStyle::kNormal:
      KERNEL_CHECK_ARG(rotary_dim % kVec == 0, "rope: rotary_dim not a multiple of a vector");
      if constexpr (kFused) {
        RopeWriteKvKernel<T, RopeStyle::kNormal><<<blocks, 128, 0, stream>>>(p);
      } else {
        RopeKernel<T, RopeStyle::kNormal><<<blocks, 128, 0, stream>>>(p);
      }
      break;
    default:
      return InvalidArgument("rope: unknown style", __FILE__, __LINE__);
  }
  CUDA_RETURN_IF_LAUNCH_ERROR();
  return KernelStatus::Ok();
}

template <typename Params>
KernelStatus Dispatch(const RopeParams& rope, const Params& p, cudaStream_t stream) {
  if (rope.num_tokens == 0) return KernelStatus::Ok();
  switch (rope.dtype) {
    case ScalarType::kF32: return Launch<float>(rope, p, stream);
    case ScalarType::kF16: return Launch<__half>(rope, p, stream);
    case ScalarType::kBF16: return Launch<__nv_bfloat16>(rope, p, stream);
  }
  return InvalidArgument("rope: unsupported dtype", __FILE__, __LINE__);
}

}  // namespace

KernelStatus ApplyRope(const RopeParams& p, cudaStream_t stream) {
  KERNEL_CHECK_ARG(p.q != nullptr && p.positions != nullptr && p.head_dim > 0, "rope: bad arguments");
  return Dispatch(p, p, stream);
}

KernelStatus ApplyRopeAndWriteKv(const RopeWriteKvParams& p, cudaStream_t stream) {
  const RopeParams& r = p.rope;
  KERNEL_CHECK_ARG(r.q != nullptr && r.positions != nullptr && r.head_dim > 0 && p.q_out != nullptr,
                   "rope_write_kv: bad arguments");
  KERNEL_CHECK_ARG(p.write.k_new && p.write.v_new && p.write.k_cache && p.write.v_cache && p.write.slot_mapping,
                   "rope_write_kv: null pointer");
  KERNEL_CHECK_ARG(r.dtype == p.write.dtype && r.num_tokens == p.write.num_tokens &&
                       r.num_kv_heads == p.write.kv.num_kv_heads && r.head_dim == p.write.kv.head_dim,
                   "rope_write_kv: rope and write disagree on dtype, tokens or heads");
  return Dispatch(r, p, stream);
}

}  // namespace radixserve::kernels::cuda
