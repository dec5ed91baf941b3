// Gated activation silu_and_mul: the CPU twin of kernels::SiluAndMulParams
// (kernels/norm_act_params.h): out[t, i] = silu(x[t, i]) * x[t, d + i].
#pragma once

#include <cstdint>

#include "kernels/cpu/thread_pool.h"
#include "kernels/norm_act_params.h"

namespace radixserve::kernels::cpu {

// Every dtype; float math. The AVX2 path uses a polynomial exp (relative error ~1e-7).
// pool may be null; rows are split across it. Precondition: out does not overlap x
// (rows of out would overwrite inputs another thread has yet to read).
void SiluAndMul(const SiluAndMulParams& p, ThreadPool* pool = nullptr);

// Float32 form on separate gate and up rows: out[i] = silu(gate[i]) * up[i], i < n.
// out may alias gate or up.
void SiluAndMul(const float* gate, const float* up, float* out, int64_t n);

}  // namespace radixserve::kernels::cpu
