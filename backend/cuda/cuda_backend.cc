// CudaBackend: the Backend interface on one NVIDIA GPU, built as the plugin
// libradixserve_backend_cuda.so (the server never links CUDA itself; see plugin_abi.h).
//
// Streams: every step runs on `compute_`; block copies and swaps run on `copy_`, ordered
// against the steps with events both ways (a copy waits for the step that wrote its
// source; the next step waits for the copy), so they overlap whatever the engine does in
// between. Forward() returns after its results reach the host.
#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "backend/cpu/cpu_sampler.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_forward.h"
#include "backend/cuda/cuda_gemm.h"
#include "backend/cuda/cuda_weights.h"
#include "backend/cuda/device_buffer.h"
#include "backend/model_description.h"
#include "backend/plugin_abi.h"
#include "backend/step_packing.h"
#include "common/status_macros.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/cuda/memory_ops.cuh"
#include "model/model_source.h"

namespace radixserve::backend::cuda {
namespace {

constexpr int64_t kActivationReserveBytes = int64_t{2} << 30;  // kept free for activations and cuBLAS

// Whether every sampled row can be finished on the device: the device path samples and
// reports the chosen token's logprob; penalties, alternatives and raw logits go through
// the host sampler (the CPU backend's, so both backends agree on them).
bool DeviceCanFinish(const StepBatch& batch, std::span<const int32_t> logit_seqs) {
  for (int32_t s : logit_seqs) {
    const SequenceStep& seq = batch.sequences[s];
    const SamplingOptions& o = seq.sampling;
    if (!seq.sample || seq.return_logits || seq.num_top_logprobs > 0) return false;
    const bool penalties = o.repetition_penalty != 1.0f || o.presence_penalty != 0.0f || o.frequency_penalty != 0.0f;
    if (penalties && !seq.penalty_history.empty()) return false;
  }
  return true;
}

class CudaBackend final : public Backend {
 public:
  ~CudaBackend() override {
    forward_.reset();
    if (compute_ != nullptr) cudaStreamSynchronize(compute_);
    if (copy_ != nullptr) cudaStreamSynchronize(copy_);
    for (cudaEvent_t e : {step_done_, copy_done_}) {
      if (e != nullptr) cudaEventDestroy(e);
    }
    for (cudaStream_t s : {compute_, copy_}) {
      if (s != nullptr) cudaStreamDestroy(s);
    }
  }

  std::string_view name() const override { return "cuda"; }

  absl::StatusOr<ModelInfo> Load(const std::string& path, const BackendOptions& options) override {
    if (source_ != nullptr) return absl::FailedPreconditionError("the CUDA backend already holds a model");
    if (!options.kv_dtype.empty() && options.kv_dtype != "bf16") {
      return absl::InvalidArgumentError(
          absl::StrCat("the CUDA backend keeps its KV cache in bf16; kv_dtype \"", options.kv_dtype, "\" is not offered"));
    }
    if (options.block_size <= 0 || options.block_size > 1024) {
      return absl::InvalidArgumentError(absl::StrCat("block size ", options.block_size, " is outside 1..1024"));
    }
    RS_CUDA_OK(cudaSetDevice(options.device_index));
    RS_CUDA_OK(cudaStreamCreateWithFlags(&compute_, cudaStreamNonBlocking));
    RS_CUDA_OK(cudaStreamCreateWithFlags(&copy_, cudaStreamNonBlocking));
    RS_CUDA_OK(cudaEventCreateWithFlags(&step_done_, cudaEventDisableTiming));
    RS_CUDA_OK(cudaEventCreateWithFlags(&copy_done_, cudaEventDisableTiming));

    ASSIGN_OR_RETURN(std::unique_ptr<model::ModelSource> source, model::ModelSource::Open(path));
    const model::ModelConfig& config = source->config();
    if (config.head_dim != 64 && config.head_dim != 128) {
      return absl::InvalidArgumentError(
          absl::StrCat("the CUDA backend runs head_dim 64 or 128; this model has ", config.head_dim));
    }
    ASSIGN_OR_RETURN(weights_, LoadCudaWeights(*source));
    ASSIGN_OR_RETURN(gemm_, Gemm::Create());

    layout_.block_size = options.block_size;
    layout_.num_layers = static_cast<int32_t>(config.num_layers);
    layout_.num_kv_heads = static_cast<int32_t>(config.num_kv_heads);
    layout_.head_dim = static_cast<int32_t>(config.head_dim);
    pool_block_bytes_ = int64_t{2} * config.num_kv_heads * config.head_dim * options.block_size;  // bf16
    layout_.bytes_per_block = 2 * config.num_layers * pool_block_bytes_;
    size_t free_bytes = 0, total_bytes = 0;
    RS_CUDA_OK(cudaMemGetInfo(&free_bytes, &total_bytes));
    int64_t kv_bytes = options.device_kv_bytes;
    if (kv_bytes <= 0) {
      kv_bytes = static_cast<int64_t>(static_cast<double>(static_cast<int64_t>(free_bytes) - kActivationReserveBytes) *
                                      std::clamp(options.device_memory_fraction, 0.0, 1.0));
    }
    layout_.num_device_blocks =
        options.num_device_blocks > 0 ? options.num_device_blocks : kv_bytes / layout_.bytes_per_block;
    layout_.num_host_blocks = std::max<int64_t>(0, options.num_host_blocks);
    if (layout_.num_device_blocks < 1 || layout_.num_device_blocks > (int64_t{1} << 30)) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "KV pool of ", layout_.num_device_blocks, " blocks is unusable (", layout_.bytes_per_block,
          " bytes per block, ", free_bytes, " bytes free on the device after ", weights_.device_bytes,
          " bytes of weights)"));
    }
    RETURN_IF_ERROR(device_pool_.Allocate(layout_.num_device_blocks * layout_.bytes_per_block));
    RETURN_IF_ERROR(host_pool_.Allocate(layout_.num_host_blocks * layout_.bytes_per_block));

    kv_.view = {static_cast<int32_t>(layout_.num_device_blocks), layout_.block_size, layout_.num_kv_heads,
                layout_.head_dim};
    for (int32_t l = 0; l < layout_.num_layers; ++l) {
      for (int kv = 0; kv < 2; ++kv) {
        const int64_t pool = 2 * l + kv;
        void* d = device_pool_.as<uint8_t>() + pool * layout_.num_device_blocks * pool_block_bytes_;
        (kv == 0 ? kv_.k : kv_.v).push_back(d);
        device_pools_.push_back(d);
        host_pools_.push_back(host_pool_.get() == nullptr
                                  ? nullptr
                                  : host_pool_.as<uint8_t>() + pool * layout_.num_host_blocks * pool_block_bytes_);
      }
    }
    RETURN_IF_ERROR(device_pool_ptrs_.Allocate(static_cast<int64_t>(device_pools_.size() * sizeof(void*))));
    RS_CUDA_OK(cudaMemcpy(device_pool_ptrs_.get(), device_pools_.data(), device_pools_.size() * sizeof(void*),
                          cudaMemcpyHostToDevice));
    RETURN_IF_ERROR(pairs_pinned_.Allocate(int64_t{1} << 20));
    RETURN_IF_ERROR(pairs_device_.Allocate(int64_t{1} << 20));

    source_ = std::move(source);
    forward_ = std::make_unique<CudaForward>(source_->config(), weights_, kv_, *gemm_, compute_);
    host_threads_ = std::make_unique<kernels::cpu::ThreadPool>(4);

    return DescribeModel(*source_, path);
  }

  KvLayout kv_layout() const override { return layout_; }

  absl::StatusOr<StepResult> Forward(const StepBatch& batch) override {
    if (forward_ == nullptr) return absl::FailedPreconditionError("no model loaded");
    ASSIGN_OR_RETURN(PackedStep step,
                     PackStep(batch, source_->config(), layout_.block_size, layout_.num_device_blocks));
    RS_CUDA_OK(cudaStreamWaitEvent(compute_, copy_done_, 0));
    const bool on_device = DeviceCanFinish(batch, step.logit_seqs);
    if (on_device) {
      sampling_.temperature.clear();
      sampling_.top_p.clear();
      sampling_.min_p.clear();
      sampling_.top_k.clear();
      sampling_.seeds.clear();
      sampling_.offsets.clear();
      for (int32_t s : step.logit_seqs) {
        const SequenceStep& seq = batch.sequences[s];
        sampling_.temperature.push_back(seq.sampling.temperature);
        sampling_.top_p.push_back(seq.sampling.top_p);
        sampling_.min_p.push_back(seq.sampling.min_p);
        sampling_.top_k.push_back(seq.sampling.top_k);
        sampling_.seeds.push_back(seq.sampling.seed);
        sampling_.offsets.push_back(seq.sample_index);
      }
    }
    absl::StatusOr<ForwardOutput> out = forward_->Run(step, on_device ? &sampling_ : nullptr);
    if (!out.ok()) {
      cudaStreamSynchronize(compute_);
      return out.status();
    }
    const size_t rows = step.logit_rows.size();
    const int64_t vocab = source_->config().vocab_size;
    StepResult result;
    result.sequences.resize(batch.sequences.size());
    if (rows == 0) {
      RS_CUDA_OK(cudaStreamSynchronize(compute_));
      RS_CUDA_OK(cudaEventRecord(step_done_, compute_));
      return result;
    }
    if (on_device) {
      RETURN_IF_ERROR(results_pinned_.Reserve(static_cast<int64_t>(rows * 8)));
      int32_t* tokens = results_pinned_.as<int32_t>();
      float* logprobs = reinterpret_cast<float*>(tokens + rows);
      RS_CUDA_OK(cudaMemcpyAsync(tokens, out->tokens, rows * 4, cudaMemcpyDeviceToHost, compute_));
      RS_CUDA_OK(cudaMemcpyAsync(logprobs, out->logprobs, rows * 4, cudaMemcpyDeviceToHost, compute_));
      RS_CUDA_OK(cudaEventRecord(step_done_, compute_));
      RS_CUDA_OK(cudaStreamSynchronize(compute_));
      for (size_t i = 0; i < rows; ++i) {
        SequenceResult& r = result.sequences[step.logit_seqs[i]];
        r.token = tokens[i];
        r.logprob = logprobs[i];
      }
      return result;
    }
    const int64_t bytes = static_cast<int64_t>(rows) * vocab * static_cast<int64_t>(sizeof(float));
    RETURN_IF_ERROR(results_pinned_.Reserve(bytes));
    RS_CUDA_OK(cudaMemcpyAsync(results_pinned_.get(), out->logits, static_cast<size_t>(bytes), cudaMemcpyDeviceToHost,
                               compute_));
    RS_CUDA_OK(cudaEventRecord(step_done_, compute_));
    RS_CUDA_OK(cudaStreamSynchronize(compute_));
    host_sampler_.Run(std::span<const float>(results_pinned_.as<const float>(), rows * vocab),
                      static_cast<int32_t>(vocab), step.logit_seqs, batch, result, host_threads_.get());
    return result;
  }

  absl::Status CopyBlocks(std::span<const BlockCopy> pairs) override {
    RETURN_IF_ERROR(CheckPairs(pairs, layout_.num_device_blocks, layout_.num_device_blocks, "copy"));
    if (pairs.empty()) return absl::OkStatus();
    RETURN_IF_ERROR(BeginCopy());
    const int64_t bytes = static_cast<int64_t>(pairs.size() * sizeof(BlockCopy));
    RETURN_IF_ERROR(pairs_pinned_.Reserve(bytes));
    RETURN_IF_ERROR(pairs_device_.Reserve(bytes));
    std::memcpy(pairs_pinned_.get(), pairs.data(), static_cast<size_t>(bytes));
    RS_CUDA_OK(cudaMemcpyAsync(pairs_device_.get(), pairs_pinned_.get(), static_cast<size_t>(bytes),
                               cudaMemcpyHostToDevice, copy_));
    kernels::BlockCopyParams p;
    p.pools = device_pool_ptrs_.as<void* const>();
    p.num_pools = static_cast<int32_t>(device_pools_.size());
    p.block_bytes = pool_block_bytes_;
    p.pairs = pairs_device_.as<const int32_t>();
    p.num_pairs = static_cast<int32_t>(pairs.size());
    RS_KERNEL_OK(kernels::cuda::CopyBlocks(p, copy_));
    return EndCopy();
  }

  absl::Status SwapOut(std::span<const BlockCopy> pairs) override {
    return Swap(pairs, layout_.num_device_blocks, layout_.num_host_blocks, device_pools_, host_pools_, "swap-out");
  }
  absl::Status SwapIn(std::span<const BlockCopy> pairs) override {
    return Swap(pairs, layout_.num_host_blocks, layout_.num_device_blocks, host_pools_, device_pools_, "swap-in");
  }

 private:
  absl::Status CheckPairs(std::span<const BlockCopy> pairs, int64_t src_blocks, int64_t dst_blocks, const char* what) {
    if (forward_ == nullptr) return absl::FailedPreconditionError("no model loaded");
    return CheckBlockPairs(pairs, src_blocks, dst_blocks, what);
  }

  // The copy stream waits for the last step (which may have written the source blocks)
  // and for its own previous work (whose pinned staging is about to be reused).
  absl::Status BeginCopy() {
    RS_CUDA_OK(cudaStreamSynchronize(copy_));
    RS_CUDA_OK(cudaStreamWaitEvent(copy_, step_done_, 0));
    return absl::OkStatus();
  }
  absl::Status EndCopy() {
    RS_CUDA_OK(cudaEventRecord(copy_done_, copy_));
    return absl::OkStatus();
  }

  absl::Status Swap(std::span<const BlockCopy> pairs, int64_t src_blocks, int64_t dst_blocks,
                    const std::vector<void*>& src, const std::vector<void*>& dst, const char* what) {
    RETURN_IF_ERROR(CheckPairs(pairs, src_blocks, dst_blocks, what));
    if (pairs.empty()) return absl::OkStatus();
    RETURN_IF_ERROR(BeginCopy());
    kernels::SwapBlocksParams p;
    std::vector<const void*> src_ptrs(src.begin(), src.end());
    p.src_pools = src_ptrs.data();
    p.dst_pools = dst.data();
    p.num_pools = static_cast<int32_t>(src.size());
    p.block_bytes = pool_block_bytes_;
    p.pairs = reinterpret_cast<const int32_t*>(pairs.data());
    p.num_pairs = static_cast<int32_t>(pairs.size());
    RS_KERNEL_OK(kernels::cuda::SwapBlocks(p, copy_));
    return EndCopy();
  }

  std::unique_ptr<model::ModelSource> source_;
  CudaWeights weights_;
  std::unique_ptr<Gemm> gemm_;
  KvLayout layout_;
  int64_t pool_block_bytes_ = 0;  // one block of one layer's K (or V)
  DeviceBuffer device_pool_, device_pool_ptrs_, pairs_device_;
  PinnedBuffer host_pool_, pairs_pinned_, results_pinned_;
  std::vector<void*> device_pools_, host_pools_;  // [2 * layers]: K0, V0, K1, V1, ...
  DeviceKv kv_;
  std::unique_ptr<CudaForward> forward_;
  DeviceSampling sampling_;
  cpu::CpuSampler host_sampler_;
  std::unique_ptr<kernels::cpu::ThreadPool> host_threads_;
  cudaStream_t compute_ = nullptr, copy_ = nullptr;
  cudaEvent_t step_done_ = nullptr, copy_done_ = nullptr;
};

// Why this machine cannot run the backend, or empty when it can.
std::string WhyNoGpu() {
  // cudart reports a missing driver as "insufficient driver"; name the real cause.
  if (void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL); driver == nullptr) {
    return absl::StrCat("no NVIDIA driver on this machine (libcuda.so.1: ", dlerror(), ")");
  } else {
    dlclose(driver);
  }
  int count = 0;
  if (const cudaError_t e = cudaGetDeviceCount(&count); e != cudaSuccess) {
    return absl::StrCat("no usable CUDA device: ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ")");
  }
  return count == 0 ? "no CUDA device found" : "";
}

Backend* Create(char* error_buf, uint32_t error_buf_len) {
  if (const std::string why = WhyNoGpu(); !why.empty()) {
    if (error_buf != nullptr && error_buf_len > 0) std::snprintf(error_buf, error_buf_len, "%s", why.c_str());
    return nullptr;
  }
  return new CudaBackend();
}

void Destroy(Backend* backend) { delete backend; }

const RadixserveBackendPlugin kPlugin = {kBackendAbiVersion, RADIXSERVE_CXX_ABI_TAG, "cuda", &Create, &Destroy};

}  // namespace
}  // namespace radixserve::backend::cuda

extern "C" __attribute__((visibility("default"))) const RadixserveBackendPlugin* radixserve_backend_plugin() {
  return &radixserve::backend::cuda::kPlugin;
}
