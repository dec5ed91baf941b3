// What every C-ABI file of the test library (tests/cuda/capi*.cu) shares: a launcher's
// KernelStatus becomes 0 or its code, and the message of the last failure is kept for
// rs_last_error().
#pragma once

#include <cstdio>

#include "kernels/cuda/cuda_status.cuh"

namespace radixserve::kernels::cuda::capi {

// One buffer for the whole library (an inline function's static is shared by its files).
inline char* LastError() {
  static char buffer[512] = "";
  return buffer;
}

inline int Report(const KernelStatus& s) {
  if (s.ok()) return 0;
  std::snprintf(LastError(), 512, "%s (%s:%d)", s.message, s.file, s.line);
  return static_cast<int>(s.code);
}

inline cudaStream_t Stream(void* s) { return static_cast<cudaStream_t>(s); }

}  // namespace radixserve::kernels::cuda::capi
