// Error reporting of the CUDA kernel launchers. The kernels library stays free of Abseil
// (it also builds standalone on the GPU machine); the backend turns a KernelStatus into
// absl::Status (kInvalidArgument -> InvalidArgument, a CUDA failure -> Internal with
// file:line).
#pragma once

#include <cuda_runtime.h>

namespace radixserve::kernels::cuda {

enum class KernelCode : int {
  kOk = 0,
  kInvalidArgument = 1,  // unsupported head_dim, dtype, sizes; null required pointer
  kCudaError = 2,        // a CUDA runtime call or a launch failed
};

struct KernelStatus {
  KernelCode code = KernelCode::kOk;
  cudaError_t cuda_error = cudaSuccess;
  const char* message = "";  // static string
  const char* file = "";
  int line = 0;

  bool ok() const { return code == KernelCode::kOk; }
  static KernelStatus Ok() { return {}; }
};

inline KernelStatus InvalidArgument(const char* message, const char* file, int line) {
  return {KernelCode::kInvalidArgument, cudaSuccess, message, file, line};
}

}  // namespace radixserve::kernels::cuda

// Returns a kCudaError KernelStatus with the call site if `expr` is not cudaSuccess.
#define CUDA_RETURN_IF_ERROR(expr)                                                          \
  do {                                                                                      \
    if (cudaError_t rs_cuda_err_ = (expr); rs_cuda_err_ != cudaSuccess) {                   \
      return ::radixserve::kernels::cuda::KernelStatus{                                     \
          ::radixserve::kernels::cuda::KernelCode::kCudaError, rs_cuda_err_,                \
          cudaGetErrorString(rs_cuda_err_), __FILE__, __LINE__};                            \
    }                                                                                       \
  } while (0)

// Returns kInvalidArgument with the call site unless `cond` holds.
#define KERNEL_CHECK_ARG(cond, msg)                                                         \
  do {                                                                                      \
    if (!(cond)) return ::radixserve::kernels::cuda::InvalidArgument(msg, __FILE__, __LINE__); \
  } while (0)

// Checks the launch that just happened (configuration errors surface here).
#define CUDA_RETURN_IF_LAUNCH_ERROR() CUDA_RETURN_IF_ERROR(cudaGetLastError())
