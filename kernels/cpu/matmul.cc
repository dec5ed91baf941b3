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
    case CpuIsa::kAvx512Bf16: return internal::Avx512Bf16MatmulIsa();
    case CpuIsa::kAvx512: return internal::Avx512MatmulIsa();
    case CpuIsa::kAvx2: return internal::Avx2MatmulIsa();
    case CpuIsa::kScalar: break;
  }
#endif
  return internal::ScalarMatmulIsa();
}

bool IsQuantized(DType t) { return t == DType::kQ8_0 || t == DType::kQ4_0 || t == DType::kQ4_1; }

// Activations of BF16 products rounded to bf16 (llama.cpp's vec_dot_type for BF16);
// owned by the calling thread like ActScratch.
struct Bf16Scratch {
  std::vector<uint16_t> xb;  // [m, Bf16RowStride(k)]
  std::vector<float> xr;     // [m, k] the same values as floats (ISAs without bf16_dot)
};

// Quantized activations of one call; owned by the calling thread, read by the workers
// only during that call.
struct ActScratch {
  std::vector<int8_t> qs;
  std::vector<float> d, s;
};

}  // namespace

bool MatmulSupports(DType t) { return IsCpuWeightType(t); }

void MatmulShared(const float* x, int64_t m, int64_t ldx, const MatmulOutput* outputs, int num_outputs,
                  ThreadPool* pool) {
  if (m <= 0 || num_outputs <= 0) return;
  const internal::MatmulIsa& isa = SelectIsa();
  const int64_t k = outputs[0].w.k;
  bool any_quantized = false, any_bf16 = false;
  for (int i = 0; i < num_outputs; ++i) {
    any_quantized |= IsQuantized(outputs[i].w.dtype);
    any_bf16 |= outputs[i].w.dtype == DType::kBF16;
  }

  internal::MatmulArgs base{DType::kF32, nullptr, 0, k, x, ldx, nullptr, 0, nullptr, nullptr, nullptr, m, nullptr, 0};
  // BF16 weights multiply activations rounded to bf16, as llama.cpp's do: rounded once
  // per call, read as bf16 pairs (vdpbf16ps) or as floats, by ISA.
  const float* x_bf16_as_float = nullptr;
  if (any_bf16) {
    thread_local Bf16Scratch bs;
    const int64_t kb = internal::Bf16RowStride(k);
    if (static_cast<int64_t>(bs.xb.size()) < m * kb) bs.xb.resize(m * kb);
    if (!isa.bf16_dot && static_cast<int64_t>(bs.xr.size()) < m * k) bs.xr.resize(m * k);
    uint16_t* xb = bs.xb.data();
    float* xr = bs.xr.data();
    auto round = [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        isa.round_bf16_row(x + i * ldx, k, xb + i * kb, kb);
        if (!isa.bf16_dot) {
          for (int64_t j = 0; j < k; ++j) xr[i * k + j] = Bf16ToFloat(xb[i * kb + j]);
        }
      }
    };
    if (m >= 16) {
      MaybeParallelFor(pool, m, 4, round);
    } else {
      round(0, m);
    }
    base.xb = xb;
    base.ldxb = kb;
    if (!isa.bf16_dot) x_bf16_as_float = xr;
  }
  if (any_quantized) {
    // Scratch owned by the calling thread; workers only read it during this call.
    thread_local ActScratch act;
    const int64_t blocks = k / kQkBlock;
    const int64_t bpad = internal::PaddedBlocks(k);
    if (static_cast<int64_t>(act.qs.size()) < m * k) act.qs.resize(m * k);
    if (static_cast<int64_t>(act.d.size()) < m * bpad) {
      act.d.resize(m * bpad);
      act.s.resize(m * bpad);
    }
    int8_t* qs = act.qs.data();
    float* d = act.d.data();
    float* s = act.s.data();
    auto quantize = [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        isa.quantize_row(x + i * ldx, k, qs + i * k, d + i * bpad, s + i * bpad);
        std::fill(d + i * bpad + blocks, d + (i + 1) * bpad, 0.0f);
        std::fill(s + i * bpad + blocks, s + (i + 1) * bpad, 0.0f);
      }
    };
    if (m >= 16) {
      MaybeParallelFor(pool, m, 4, quantize);
    } else {
      quantize(0, m);
    }
    base.xq = qs;
    base.xd = d;
    base.xs = s;
  }
  // The outputs' rows, in units of whole register tiles, laid end to end:
  //   [ out 0: units 0 .. u0 ) [ out 1: u0 .. u0+u1 ) ...   split statically over threads.
  // A unit is isa.nr rows of a quantized output, isa.nr_float rows of a float one.
  int64_t stack_ends[8], stack_nrs[8];
  std::vector<int64_t> heap_ends, heap_nrs;
  int64_t* ends = stack_ends;
  int64_t* nrs = stack_nrs;
  if (num_outputs > 8) {
    heap_ends.resize(num_outputs);
    heap_nrs.resize(num_outputs);
    ends = heap_ends.data();
    nrs = heap_nrs.data();
  }
  int64_t total = 0;
  for (int i = 0; i < num_outputs; ++i) {
    nrs[i] = IsQuantized(outputs[i].w.dtype) ? isa.nr : isa.nr_float;
    total += (outputs[i].w.n + nrs[i] - 1) / nrs[i];
    ends[i] = total;
  }
  const int64_t scratch_floats = internal::ScratchFloats(k);
  auto run = [&](int64_t ub, int64_t ue) {
    thread_local std::vector<float> scratch;
    if (static_cast<int64_t>(scratch.size()) < scratch_floats) scratch.resize(scratch_floats);
    int64_t first = 0;
    for (int i = 0; i < num_outputs; ++i) {
      const int64_t lo = std::max(ub, first), hi = std::min(ue, ends[i]);
      if (lo < hi) {
        const MatmulOutput& o = outputs[i];
        internal::MatmulArgs args = base;
        args.dtype = o.w.dtype;
        args.w = static_cast<const uint8_t*>(o.w.data);
        args.row_bytes = RowBytes(o.w.dtype, k);
        args.y = o.y;
        args.ldy = o.ldy;
        if (o.w.dtype == DType::kBF16 && x_bf16_as_float != nullptr) {
          args.x = x_bf16_as_float;
          args.ldx = k;
        }
        isa.range(args, (lo - first) * nrs[i], std::min(o.w.n, (hi - first) * nrs[i]), scratch.data());
      }
      first = ends[i];
    }
  };
  // Several chunks per thread, taken by whichever thread is free: on a shared machine a
  // thread slowed by another process no longer holds up the whole product.
  constexpr int kChunksPerThread = 4;
  if (pool != nullptr) {
    pool->ParallelForChunked(total, 1, kChunksPerThread, run);
  } else {
    run(0, total);
  }
}

void Matmul(const float* x, int64_t m, int64_t ldx, const MatmulWeight& w, float* y, int64_t ldy,
            ThreadPool* pool) {
  const MatmulOutput out{w, y, ldy};
  MatmulShared(x, m, ldx, &out, 1, pool);
}

}  // namespace radixserve::kernels::cpu
