#include "backend/cpu/cpu_backend.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "backend/cpu/cpu_forward.h"
#include "backend/cpu/cpu_kv_pool.h"
#include "backend/cpu/cpu_sampler.h"
#include "backend/cpu/cpu_weights.h"
#include "backend/model_description.h"
#include "common/status_macros.h"
#include "kernels/cpu/memory_ops.h"
#include "kernels/cpu/thread_pool.h"
#include "model/model_source.h"

namespace radixserve::backend {
namespace {

constexpr int64_t kDefaultKvBytes = int64_t{256} << 20;

class CpuBackend final : public Backend {
 public:
  std::string_view name() const override { return "cpu"; }

  absl::StatusOr<ModelInfo> Load(const std::string& path, const BackendOptions& options) override {
    if (source_ != nullptr) return absl::FailedPreconditionError("the CPU backend already holds a model");
    if (options.block_size <= 0 || options.block_size > 1024) {
      return absl::InvalidArgumentError(absl::StrCat("block size ", options.block_size, " is outside 1..1024"));
    }
    ASSIGN_OR_RETURN(source_, model::ModelSource::Open(path));
    ASSIGN_OR_RETURN(weights_, cpu::LoadCpuWeights(*source_));
    const model::ModelConfig& config = source_->config();

    layout_.block_size = options.block_size;
    layout_.num_layers = static_cast<int32_t>(config.num_layers);
    layout_.num_kv_heads = static_cast<int32_t>(config.num_kv_heads);
    layout_.head_dim = static_cast<int32_t>(config.head_dim);
    // F16 by default: llama.cpp's default too (its numbers are what the default model is
    // checked against) and half the memory of F32; "f32" for exact-math comparisons.
    kernels::ScalarType kv_dtype;
    if (options.kv_dtype.empty() || options.kv_dtype == "f16") {
      kv_dtype = kernels::ScalarType::kF16;
    } else if (options.kv_dtype == "f32") {
      kv_dtype = kernels::ScalarType::kF32;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("the CPU backend keeps its KV cache in f16 or f32, not \"", options.kv_dtype, "\""));
    }
    layout_.bytes_per_block = int64_t{2} * config.num_layers * config.num_kv_heads * config.head_dim *
                              options.block_size * kernels::ScalarTypeBytes(kv_dtype);
    const int64_t kv_bytes = options.device_kv_bytes > 0 ? options.device_kv_bytes : kDefaultKvBytes;
    layout_.num_device_blocks =
        options.num_device_blocks > 0 ? options.num_device_blocks : kv_bytes / layout_.bytes_per_block;
    layout_.num_host_blocks = std::max<int64_t>(0, options.num_host_blocks);
    if (layout_.num_device_blocks < 1 || layout_.num_device_blocks > (int64_t{1} << 30)) {
      return absl::ResourceExhaustedError(absl::StrCat("KV pool of ", layout_.num_device_blocks,
                                                       " blocks is unusable (", layout_.bytes_per_block,
                                                       " bytes per block)"));
    }

    kernels::PagedKvView view{static_cast<int32_t>(layout_.num_device_blocks), layout_.block_size,
                              layout_.num_kv_heads, layout_.head_dim};
    device_kv_ = std::make_unique<cpu::CpuKvPool>(layout_.num_layers, layout_.num_device_blocks, view, kv_dtype);
    view.num_blocks = static_cast<int32_t>(layout_.num_host_blocks);
    host_kv_ = std::make_unique<cpu::CpuKvPool>(layout_.num_layers, layout_.num_host_blocks, view, kv_dtype);
    pool_ = std::make_unique<kernels::cpu::ThreadPool>(options.num_threads);
    forward_.emplace(config, weights_, *device_kv_, layout_.block_size, *pool_);

    return DescribeModel(*source_, path);
  }

  KvLayout kv_layout() const override { return layout_; }

  absl::StatusOr<StepResult> Forward(const StepBatch& batch) override {
    if (!forward_) return absl::FailedPreconditionError("no model loaded");
    ASSIGN_OR_RETURN(PackedStep step,
                     PackStep(batch, source_->config(), layout_.block_size, layout_.num_device_blocks));
    ASSIGN_OR_RETURN(std::span<const float> logits, forward_->Run(step));
    const int64_t vocab = source_->config().vocab_size;
    StepResult result;
    result.sequences.resize(batch.sequences.size());
    sampler_.Run(logits, static_cast<int32_t>(vocab), step.logit_seqs, batch, result, pool_.get());
    return result;
  }

  absl::Status CopyBlocks(std::span<const BlockCopy> pairs) override {
    return Move(pairs, *device_kv_, *device_kv_, "copy");
  }
  absl::Status SwapOut(std::span<const BlockCopy> pairs) override {
    return Move(pairs, *device_kv_, *host_kv_, "swap-out");
  }
  absl::Status SwapIn(std::span<const BlockCopy> pairs) override {
    return Move(pairs, *host_kv_, *device_kv_, "swap-in");
  }

 private:
  absl::Status Move(std::span<const BlockCopy> pairs, cpu::CpuKvPool& src, cpu::CpuKvPool& dst, const char* what) {
    if (!forward_) return absl::FailedPreconditionError("no model loaded");
    RETURN_IF_ERROR(CheckBlockPairs(pairs, src.num_blocks(), dst.num_blocks(), what));
    if (pairs.empty()) return absl::OkStatus();
    static_assert(sizeof(BlockCopy) == 2 * sizeof(int32_t));
    kernels::SwapBlocksParams p;
    std::vector<const void*> src_ptrs(src.pool_ptrs().begin(), src.pool_ptrs().end());
    p.src_pools = src_ptrs.data();
    p.dst_pools = dst.pool_ptrs().data();
    p.num_pools = static_cast<int32_t>(src_ptrs.size());
    p.block_bytes = src.block_bytes();
    p.pairs = reinterpret_cast<const int32_t*>(pairs.data());
    p.num_pairs = static_cast<int32_t>(pairs.size());
    kernels::cpu::SwapBlocks(p);
    return absl::OkStatus();
  }

  std::unique_ptr<model::ModelSource> source_;
  cpu::CpuWeights weights_;
  KvLayout layout_;
  std::unique_ptr<cpu::CpuKvPool> device_kv_, host_kv_;
  std::unique_ptr<kernels::cpu::ThreadPool> pool_;
  std::optional<cpu::CpuForward> forward_;
  cpu::CpuSampler sampler_;
};

}  // namespace

std::unique_ptr<Backend> CreateCpuBackend() { return std::make_unique<CpuBackend>(); }

}  // namespace radixserve::backend
