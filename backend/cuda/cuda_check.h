// absl::Status from the three kinds of failure the CUDA backend meets: CUDA runtime
// calls, cuBLASLt calls and our kernel launchers (kernels/cuda/cuda_status.cuh).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kernels/cuda/cuda_status.cuh"

namespace radixserve::backend::cuda {

inline absl::Status CudaError(cudaError_t e, const char* what, const char* file, int line) {
  const std::string message = absl::StrCat(what, ": ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ") at ",
                                           file, ":", line);
  return e == cudaErrorMemoryAllocation ? absl::ResourceExhaustedError(message) : absl::InternalError(message);
}

inline absl::Status CublasError(cublasStatus_t s, const char* what, const char* file, int line) {
  return absl::InternalError(absl::StrCat(what, ": cuBLAS status ", static_cast<int>(s), " at ", file, ":", line));
}

inline absl::Status FromKernelStatus(const kernels::cuda::KernelStatus& s, const char* what) {
  if (s.ok()) return absl::OkStatus();
  const std::string message = absl::StrCat(what, ": ", s.message, " at ", s.file, ":", s.line);
  return s.code == kernels::cuda::KernelCode::kInvalidArgument ? absl::InvalidArgumentError(message)
                                                                : absl::InternalError(message);
}

}  // namespace radixserve::backend::cuda

#define RS_CUDA_OK(expr)                                                                   \
  do {                                                                                     \
    if (cudaError_t rs_e_ = (expr); rs_e_ != cudaSuccess)                                  \
      return ::radixserve::backend::cuda::CudaError(rs_e_, #expr, __FILE__, __LINE__);     \
  } while (0)

#define RS_CUBLAS_OK(expr)                                                                 \
  do {                                                                                     \
    if (cublasStatus_t rs_s_ = (expr); rs_s_ != CUBLAS_STATUS_SUCCESS)                     \
      return ::radixserve::backend::cuda::CublasError(rs_s_, #expr, __FILE__, __LINE__);   \
  } while (0)

#define RS_KERNEL_OK(expr)                                                                     \
  do {                                                                                         \
    if (absl::Status rs_k_ = ::radixserve::backend::cuda::FromKernelStatus((expr), #expr);     \
        !rs_k_.ok())                                                                           \
      return rs_k_;                                                                            \
  } while (0)
