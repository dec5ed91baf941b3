#include "kernels/cpu/rmsnorm.h"

#include <cmath>
#include <vector>

#include "kernels/cpu/element.h"
#include "kernels/cpu/vec_ops.h"

namespace radixserve::kernels::cpu {
namespace {

template <typename T>
void RmsNormRows(const RmsNormParams& p, int64_t begin, int64_t end) {
  const int64_t h = p.hidden;
  const T* x = static_cast<const T*>(p.x);
  T* out = static_cast<T*>(p.out);
  T* res = static_cast<T*>(p.maybe_residual);
  const T* w = static_cast<const T*>(p.weight);
  thread_local std::vector<float> row;
  row.resize(h);
  for (int64_t t = begin; t < end; ++t) {
    for (int64_t i = 0; i < h; ++i) {
      float v = ToFloat(x[t * h + i]);
      if (res != nullptr) {
        const T r = FromFloat<T>(v + ToFloat(res[t * h + i]));
        res[t * h + i] = r;
        v = ToFloat(r);
      }
      row[i] = v;
    }
    // llama.cpp's order of operations: float squares summed in double, the mean and the
    // scale in float (so that normed rows feeding 8-bit quantization round as its do).
    double ss = 0.0;
    for (int64_t i = 0; i < h; ++i) ss += static_cast<double>(row[i] * row[i]);
    const float mean = static_cast<float>(ss / static_cast<double>(h));
    const float inv = 1.0f / std::sqrt(mean + p.eps);
    for (int64_t i = 0; i < h; ++i) out[t * h + i] = FromFloat<T>(row[i] * inv * ToFloat(w[i]));
  }
}

}  // namespace

void RmsNorm(const RmsNormParams& p, ThreadPool* pool) {
  VisitScalarType(p.dtype, [&](auto tag) {
    using T = decltype(tag);
    MaybeParallelFor(p.num_tokens >= 8 ? pool : nullptr, p.num_tokens, 1,
                     [&](int64_t b, int64_t e) { RmsNormRows<T>(p, b, e); });
  });
}

}  // namespace radixserve::kernels::cpu
