#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/matmul_internal.h"
#include "kernels/cpu/quantize.h"

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

// Quantized activations of one call; owned by the calling thread, read by the workers
// only during that call.
struct ActScratch {
  std::vector<int8_t> qs;
  std::vector<float> d, s;
};

}  // namespace

bool MatmulSupports(DType t) { return IsCpuWeightType(t); }

void Matmul(const float* x, int64_t m, int64_t ldx, const MatmulWeight& w, float* y, int64_t ldy,
            ThreadPool* pool) {
  if (m <= 0 || w.n <= 0) return;
  const internal::MatmulIsa& isa = SelectIsa();
  internal::MatmulArgs args{w.dtype, static_cast<const uint8_t*>(w.data), RowBytes(w.dtype, w.k),
                            w.k, x, ldx, nullptr, nullptr, nullptr, m, y, ldy};
  if (IsQuantized(w.dtype)) {
    thread_local ActScratch act;
    const int64_t blocks = w.k / kQkBlock;
    const int64_t bpad = internal::PaddedBlocks(w.k);
    if (static_cast<int64_t>(act.qs.size()) < m * w.k) act.qs.resize(m * w.k);
    if (static_cast<int64_t>(act.d.size()) < m * bpad) {
      act.d.resize(m * bpad);
      act.s.resize(m * bpad);
    }
    int8_t* qs = act.qs.data();
    float* d = act.d.data();
    float* s = act.s.data();
    auto quantize = [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        isa.quantize_row(x + i * ldx, w.k, qs + i * w.k, d + i * bpad, s + i * bpad);
        std::fill(d + i * bpad + blocks, d + (i + 1) * bpad, 0.0f);
        std::fill(s + i * bpad + blocks, s + (i + 1) * bpad, 0.0f);
      }
    };
    if (m >= 16) {
      MaybeParallelFor(pool, m, 4, quantize);
    } else {
      quantize(0, m);
    }
    args.xq = qs;
    args.xd = d;
    args.xs = s;
  }
  // Chunks are whole register tiles; a thread's chunk of W is read once per m-block.
  const int64_t scratch_floats = internal::ScratchFloats(w.k);
  MaybeParallelFor(pool, w.n, isa.nr, [&](int64_t b, int64_t e) {
    thread_local std::vector<float> scratch;
    if (static_cast<int64_t>(scratch.size()) < scratch_floats) scratch.resize(scratch_floats);
    isa.range(args, b, e, scratch.data());
  });
}

}  // namespace radixserve::kernels::cpu
