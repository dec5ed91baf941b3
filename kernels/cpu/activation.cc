#include "kernels/cpu/activation.h"

#include <vector>

#include "kernels/cpu/element.h"
#include "kernels/cpu/vec_ops.h"

namespace radixserve::kernels::cpu {

void SiluAndMul(const float* gate, const float* up, float* out, int64_t n) {
  internal::ActiveVecOps().silu_mul(gate, up, out, n);
}

void SiluAndMul(const SiluAndMulParams& p, ThreadPool* pool) {
  const internal::VecOps& ops = internal::ActiveVecOps();
  const int64_t d = p.d;
  VisitScalarType(p.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(p.x);
    T* out = static_cast<T*>(p.out);
    MaybeParallelFor(p.num_tokens >= 4 ? pool : nullptr, p.num_tokens, 1, [&](int64_t b, int64_t e) {
      if constexpr (std::is_same_v<T, float>) {
        for (int64_t t = b; t < e; ++t) ops.silu_mul(x + t * 2 * d, x + t * 2 * d + d, out + t * d, d);
      } else {
        thread_local std::vector<float> buf;
        buf.resize(3 * d);
        for (int64_t t = b; t < e; ++t) {
          for (int64_t i = 0; i < 2 * d; ++i) buf[i] = ToFloat(x[t * 2 * d + i]);
          ops.silu_mul(buf.data(), buf.data() + d, buf.data() + 2 * d, d);
          for (int64_t i = 0; i < d; ++i) out[t * d + i] = FromFloat<T>(buf[2 * d + i]);
        }
      }
    });
  });
}

}  // namespace radixserve::kernels::cpu
