// y = x * W^T (+ bias) for every LinearWeight kind: bf16 weights through our GEMV
// (kernels/cuda/dense_gemv.cuh) for a single row (batch-1 decode), cuBLASLt
// otherwise (an algorithm picked by its heuristic once per shape and cached); INT8/INT4
// weights through our weight-only GEMM (kernels/cuda/quant_gemm.cuh) in slices of 64
// rows. RADIXSERVE_CUDA_GEMV=0 sends the single rows to cuBLASLt too (A/B timing).
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

// What the GEMV of a decode step fuses (see kernels/cuda/dense_gemv.cuh): the RMSNorm of
// its input rows and the residual add of its output.
struct GemvFusion {
  const uint16_t* norm_weight = nullptr;  // bf16 [w.k]
  float norm_eps = 0.0f;
  const uint16_t* residual = nullptr;  // bf16 [m, w.n]; y may be this buffer
};

class Gemm {
 public:
  static absl::StatusOr<std::unique_ptr<Gemm>> Create();
  ~Gemm();

  // x: bf16 [m, w.k]; y: [m, w.n], bf16, or f32 when out_f32 (then `bf16_scratch` must hold
  // m * w.n bf16 values for the quantized kinds, whose kernel writes bf16).
  // `fusion` only where UsesGemv(w, m).
  absl::Status Run(const LinearWeight& w, const void* x, int32_t m, void* y, bool out_f32, void* bf16_scratch,
                   cudaStream_t stream, const GemvFusion* fusion = nullptr);

  // Whether Run takes the GEMV path for this weight and row count.
  bool UsesGemv(const LinearWeight& w, int32_t m) const;

 private:
  Gemm() = default;
  struct Plan {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  absl::StatusOr<const Plan*> GetPlan(int32_t m, int32_t n, int32_t k, bool out_f32, bool bias);

  cublasLtHandle_t handle_ = nullptr;
  bool use_gemv_ = true;
  DeviceBuffer workspace_;
  absl::flat_hash_map<std::tuple<int32_t, int32_t, int32_t, bool, bool>, std::unique_ptr<Plan>> plans_;
};

}  // namespace radixserve::backend::cuda
