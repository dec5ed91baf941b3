#include "backend/cuda/cuda_gemm.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "backend/cuda/step_kernels.h"
#include "common/status_macros.h"
#include "kernels/cuda/dense_gemv.cuh"
#include "kernels/cuda/quant_gemm.cuh"

namespace radixserve::backend::cuda {
namespace {

constexpr int64_t kWorkspaceBytes = int64_t{32} << 20;
constexpr int32_t kQuantGemmMaxRows = 64;  // the weight-only kernel's batch limit
constexpr size_t kMaxCachedPlans = 4096;
// cuBLASLt's tensor-core kernels win from two rows on (bench/cuda/bench_dense_gemv.py).
constexpr int32_t kGemvMaxRows = 1;

}  // namespace

absl::StatusOr<std::unique_ptr<Gemm>> Gemm::Create() {
  std::unique_ptr<Gemm> g(new Gemm());
  RS_CUBLAS_OK(cublasLtCreate(&g->handle_));
  RETURN_IF_ERROR(g->workspace_.Allocate(kWorkspaceBytes));
  const char* gemv = std::getenv("RADIXSERVE_CUDA_GEMV");
  g->use_gemv_ = gemv == nullptr || std::string(gemv) != "0";
  return g;
}

Gemm::~Gemm() {
  for (auto& [key, plan] : plans_) {
    cublasLtMatrixLayoutDestroy(plan->a);
    cublasLtMatrixLayoutDestroy(plan->b);
    cublasLtMatrixLayoutDestroy(plan->d);
    cublasLtMatmulDescDestroy(plan->desc);
  }
  if (handle_ != nullptr) cublasLtDestroy(handle_);
}

// Column-major view: D (n x m) = op(A) * B with A = W stored as k x n (transposed) and
// B = x stored as k x m, so D is y in row-major [m, n].
absl::StatusOr<const Gemm::Plan*> Gemm::GetPlan(int32_t m, int32_t n, int32_t k, bool out_f32, bool bias) {
  const auto key = std::make_tuple(m, n, k, out_f32, bias);
  if (auto it = plans_.find(key); it != plans_.end()) return it->second.get();
  if (plans_.size() >= kMaxCachedPlans) {  // many distinct prefill lengths: start over
    for (auto& [unused, plan] : plans_) {
      cublasLtMatrixLayoutDestroy(plan->a);
      cublasLtMatrixLayoutDestroy(plan->b);
      cublasLtMatrixLayoutDestroy(plan->d);
      cublasLtMatmulDescDestroy(plan->desc);
    }
    plans_.clear();
  }
  auto plan = std::make_unique<Plan>();
  const cudaDataType_t out_type = out_f32 ? CUDA_R_32F : CUDA_R_16BF;
  RS_CUBLAS_OK(cublasLtMatmulDescCreate(&plan->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t trans = CUBLAS_OP_T;
  RS_CUBLAS_OK(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSA, &trans, sizeof(trans)));
  if (bias) {
    const cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
    RS_CUBLAS_OK(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue,
                                                sizeof(epilogue)));
    const cudaDataType_t bias_type = CUDA_R_16BF;
    RS_CUBLAS_OK(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type,
                                                sizeof(bias_type)));
  }
  RS_CUBLAS_OK(cublasLtMatrixLayoutCreate(&plan->a, CUDA_R_16BF, k, n, k));
  RS_CUBLAS_OK(cublasLtMatrixLayoutCreate(&plan->b, CUDA_R_16BF, k, m, k));
  RS_CUBLAS_OK(cublasLtMatrixLayoutCreate(&plan->d, out_type, n, m, n));

  cublasLtMatmulPreference_t pref = nullptr;
  RS_CUBLAS_OK(cublasLtMatmulPreferenceCreate(&pref));
  const uint64_t ws = static_cast<uint64_t>(workspace_.bytes());
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  const cublasStatus_t st =
      cublasLtMatmulAlgoGetHeuristic(handle_, plan->desc, plan->a, plan->b, plan->d, plan->d, pref, 1, &result, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  if (st != CUBLAS_STATUS_SUCCESS || found == 0) {
    cublasLtMatrixLayoutDestroy(plan->a);
    cublasLtMatrixLayoutDestroy(plan->b);
    cublasLtMatrixLayoutDestroy(plan->d);
    cublasLtMatmulDescDestroy(plan->desc);
    return absl::InternalError(absl::StrCat("cuBLASLt has no algorithm for m=", m, " n=", n, " k=", k));
  }
  plan->algo = result.algo;
  const Plan* p = plan.get();
  plans_.emplace(key, std::move(plan));
  return p;
}

bool Gemm::UsesGemv(const LinearWeight& w, int32_t m) const {
  return w.kind == LinearKind::kBf16 && use_gemv_ && m <= kGemvMaxRows && w.k % 8 == 0;
}

absl::Status Gemm::Run(const LinearWeight& w, const void* x, int32_t m, void* y, bool out_f32, void* bf16_scratch,
                       cudaStream_t stream, const GemvFusion* fusion) {
  if (m <= 0) return absl::OkStatus();
  if (UsesGemv(w, m)) {
    kernels::cuda::DenseGemvParams p;
    p.x = static_cast<const uint16_t*>(x);
    p.w = static_cast<const uint16_t*>(w.w);
    p.maybe_bias = w.bias;
    p.y = y;
    p.out_f32 = out_f32;
    p.m = m;
    p.n = w.n;
    p.k = w.k;
    if (fusion != nullptr) {
      p.maybe_norm_weight = fusion->norm_weight;
      p.norm_eps = fusion->norm_eps;
      p.maybe_residual = fusion->residual;
    }
    RS_KERNEL_OK(kernels::cuda::DenseGemv(p, stream));
    return absl::OkStatus();
  }
  if (fusion != nullptr) return absl::InternalError("GEMM fusion asked of a non-GEMV product");
  if (w.kind == LinearKind::kBf16) {
    ASSIGN_OR_RETURN(const Plan* plan, GetPlan(m, w.n, w.k, out_f32, w.bias != nullptr));
    if (w.bias != nullptr) {
      RS_CUBLAS_OK(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &w.bias,
                                                  sizeof(w.bias)));
    }
    const float alpha = 1.0f, beta = 0.0f;
    RS_CUBLAS_OK(cublasLtMatmul(handle_, plan->desc, &alpha, w.w, plan->a, x, plan->b, &beta, y, plan->d, y,
                                plan->d, &plan->algo, workspace_.get(), static_cast<size_t>(workspace_.bytes()),
                                stream));
    return absl::OkStatus();
  }
  uint16_t* out = static_cast<uint16_t*>(out_f32 ? bf16_scratch : y);
  for (int32_t r = 0; r < m; r += kQuantGemmMaxRows) {
    kernels::QuantGemmParams p;
    p.quant = w.kind == LinearKind::kInt8 ? kernels::WeightQuant::kInt8PerChannel
                                          : kernels::WeightQuant::kInt4Group128Tiled;
    p.x = static_cast<const uint16_t*>(x) + static_cast<int64_t>(r) * w.k;
    p.w_q = static_cast<const uint8_t*>(w.w);
    p.scales = w.scales;
    p.maybe_bias = w.bias;
    p.y = out + static_cast<int64_t>(r) * w.n;
    p.m = std::min(kQuantGemmMaxRows, m - r);
    p.n = w.n;
    p.k = w.k;
    RS_KERNEL_OK(kernels::cuda::QuantGemm(p, stream));
  }
  if (out_f32) RS_CUDA_OK(LaunchBf16ToF32(bf16_scratch, static_cast<float*>(y), int64_t{m} * w.n, stream));
  return absl::OkStatus();
}

}  // namespace radixserve::backend::cuda
