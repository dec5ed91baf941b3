#include "kernels/cpu/matmul.h"

#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/matmul_internal.h"

namespace radixserve::kernels::cpu {
namespace {

const internal::MatmulIsa& SelectIsa() {
#if defined(RADIXSERVE_KERNELS_X86)
  switch (ActiveCpuIsa()) {
    case CpuIsa::kAvx512: return internal::Avx512MatmulIsa();
    case CpuIsa::kAvx2: return internal::Avx2MatmulIsa();
    case CpuIsa::kScalar: break;
  }
#endif
  return internal::ScalarMatmulIsa();
}

bool IsQuantized(DType t) { return t == DType::kQ8_0 || t == DType::kQ4_0 || t == DType::kQ4_1; }

}  // namespace

bool MatmulSupports(DType t) { return IsCpuWeightType(t); }

void Matmul(const float* x, int64_t m, int64_t ldx, const MatmulWeight& w, float* y, int64_t ldy,
            ThreadPool* pool) {
  if (m <= 0 || w.n <= 0) return;
  const internal::MatmulIsa& isa = SelectIsa();
  internal::MatmulArgs args{w.dtype, static_cast<const uint8_t*>(w.data), RowBytes(w.dtype, w.k),
                            w.k, x, ldx, nullptr, m, y, ldy};
  if (IsQuantized(w.dtype)) {
    // Scratch owned by the calling thread; workers only read it during this call.
    thread_local std::vector<BlockQ8Act> xq;
    const int64_t blocks = w.k / kQkBlock;
    if (static_cast<int64_t>(xq.size()) < m * blocks) xq.resize(m * blocks);
    BlockQ8Act* xq_data = xq.data();
    auto quantize = [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) isa.quantize_row(x + i * ldx, w.k, xq_data + i * blocks);
    };
    if (m >= 16) {
      MaybeParallelFor(pool, m, 4, quantize);
    } else {
      quantize(0, m);
    }
    args.xq = xq_data;
  }
  // Chunks are whole register tiles; a thread's chunk of W is read once per m-block.
  MaybeParallelFor(pool, w.n, isa.nr, [&](int64_t b, int64_t e) { isa.range(args, b, e); });
}

}  // namespace radixserve::kernels::cpu
