// y = x * W^T (+ bias) for every LinearWeight kind: bf16 weights through cuBLASLt (an
// algorithm picked by its heuristic once per shape and cached), INT8/INT4 weights
// through our weight-only GEMM (kernels/cuda/quant_gemm.cuh) in slices of 64 rows.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "backend/cuda/cuda_weights.h"
#include "backend/cuda/device_buffer.h"

namespace radixserve::backend::cuda {

class Gemm {
 public:
  static absl::StatusOr<std::unique_ptr<Gemm>> Create();
  ~Gemm();

  // x: bf16 [m, w.k]; y: [m, w.n], bf16, or f32 when out_f32 (then `bf16_scratch` must hold
  // m * w.n bf16 values for the quantized kinds, whose kernel writes bf16).
  absl::Status Run(const LinearWeight& w, const void* x, int32_t m, void* y, bool out_f32, void* bf16_scratch,
                   cudaStream_t stream);

 private:
  Gemm() = default;
  struct Plan {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  absl::StatusOr<const Plan*> GetPlan(int32_t m, int32_t n, int32_t k, bool out_f32, bool bias);

  cublasLtHandle_t handle_ = nullptr;
  DeviceBuffer workspace_;
  absl::flat_hash_map<std::tuple<int32_t, int32_t, int32_t, bool, bool>, std::unique_ptr<Plan>> plans_;
};

}  // namespace radixserve::backend::cuda
