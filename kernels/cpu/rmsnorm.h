// RMSNorm, optionally fused with the residual add: the CPU twin of
// kernels::RmsNormParams (kernels/norm_act_params.h, which states the exact semantics:
// with a residual, r = x + residual is rounded to dtype, written back, and normalized).
#pragma once

#include "kernels/cpu/thread_pool.h"
#include "kernels/norm_act_params.h"

namespace radixserve::kernels::cpu {

// Every dtype (kF32, kF16, kBF16); math in float (sum of squares in double for
// hidden sizes in the thousands). Preconditions: pointers valid for the stated shapes;
// out may alias x. pool may be null; rows are split across it.
void RmsNorm(const RmsNormParams& p, ThreadPool* pool = nullptr);

}  // namespace radixserve::kernels::cpu
