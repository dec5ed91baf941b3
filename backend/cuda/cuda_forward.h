// One engine step of a Llama-family model on the GPU, every sequence's tokens packed into
// one [num_tokens, hidden] bf16 batch: embedding -> per layer RMSNorm (fused with the
// residual add) -> Q and K/V projections -> RoPE -> K/V written into their blocks ->
// attention (flash prefill over the paged cache when any sequence brings more than one
// token; otherwise paged decode, or cascade decode when sequences share a cached prefix)
// -> output projection -> RMSNorm + residual -> gate/up -> SiLU-and-mul -> down; then the
// final norm and the output head on the rows that produce logits (f32).
// All launches go to one stream; the caller synchronises.
#pragma once

#include <cuda_runtime.h>

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

#include "absl/status/statusor.h"
#include "backend/cuda/cascade_plan.h"
#include "backend/cuda/cuda_gemm.h"
#include "backend/cuda/cuda_weights.h"
#include "backend/cuda/device_buffer.h"
#include "backend/cuda/step_profiler.h"
#include "backend/step_packing.h"
#include "kernels/paged_kv.h"
#include "kernels/rope_params.h"
#include "model/model_config.h"

namespace radixserve::backend::cuda {

// Device K and V pools, one pair per layer ([num_blocks, kv_heads, block_size, head_dim]).
struct DeviceKv {
  std::vector<void*> k, v;
  kernels::PagedKvView view;
};

// Host-side extras a step's sampling needs on the device (filled by the backend).
struct DeviceSampling {
  std::vector<float> temperature, top_p, min_p;
  std::vector<int32_t> top_k;
  std::vector<uint64_t> seeds, offsets;
};

struct ForwardOutput {
  const float* logits = nullptr;   // [num_logit_rows, vocab], device
  const int32_t* tokens = nullptr;   // [num_logit_rows] sampled on the device (when asked)
  const float* logprobs = nullptr;   // [num_logit_rows] of those tokens
};

class CudaForward {
 public:
  CudaForward(const model::ModelConfig& config, const CudaWeights& weights, const DeviceKv& kv, Gemm& gemm,
              cudaStream_t stream);
  ~CudaForward();

  // Enqueues the step. With `sampling`, also samples every logit row on the device
  // (all rows must sample). Outputs stay valid until the next Run.
  absl::StatusOr<ForwardOutput> Run(const PackedStep& step, const DeviceSampling* sampling);

 private:
  // Where a step's metadata and activations live: eager steps and graph replays each
  // have their own, so a prefill that grows the eager ones never moves what a captured
  // graph points at.
  struct StepBuffers {
    PinnedBuffer meta_pinned;
    DeviceBuffer meta_device, arena;
  };
  // Decode sequences sharing at least this many cached tokens decode as a cascade.
  static constexpr int32_t kCascadeMinSharedTokens = 64;
  // Decode batch sizes a graph is captured for (a step pads up to the next one).
  static constexpr std::array<int32_t, 14> kGraphBatches = {1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 160, 192, 256};

  // Uploads the step's metadata and carves the activations (sets meta_ and the pointers).
  absl::Status Prepare(const PackedStep& step, const CascadePlan* cascade, const DeviceSampling* sampling,
                       StepBuffers& buffers);
  // Embedding .. logits: only kernel launches and cuBLASLt calls (graph-capturable).
  absl::Status EnqueueModel(const PackedStep& step, const CascadePlan* cascade);
  // Device sampling of the first `rows` logit rows (when asked).
  absl::StatusOr<ForwardOutput> Sample(int32_t rows, const DeviceSampling* sampling);
  absl::StatusOr<ForwardOutput> RunDecodeGraph(const PackedStep& step, const DeviceSampling* sampling);
  void DropGraphs();
  absl::Status Attention(int32_t layer, const PackedStep& step, const CascadePlan* cascade);

  // The sizes every step derives from the config, computed once.
  struct ModelDims {
    int64_t hidden, head_dim, q_dim, kv_dim, qkv_dim, ffn, vocab;
    int32_t num_q_heads, num_kv_heads;
    static ModelDims Of(const model::ModelConfig& c) {
      const int64_t q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim;
      return {c.hidden_size, c.head_dim, q, kv, q + 2 * kv, c.intermediate_size, c.vocab_size,
              static_cast<int32_t>(c.num_heads), static_cast<int32_t>(c.num_kv_heads)};
    }
  };

  const model::ModelConfig& config_;
  const ModelDims dims_;
  const CudaWeights& weights_;
  const DeviceKv& kv_;
  Gemm& gemm_;
  cudaStream_t stream_;
  StepProfiler profiler_;
  kernels::RopeParams rope_base_;

  bool graphs_enabled_ = true;  // RADIXSERVE_CUDA_GRAPHS=0 turns decode graphs off
  // Every product takes the GEMV path at one row, so single-token steps fuse the norms and
  // residual adds into it (EnqueueModel).
  bool single_row_fused_ = false;
  absl::flat_hash_map<std::pair<int32_t, int32_t>, cudaGraphExec_t> graphs_;  // (batch, context) ->

  // Step metadata: built on the host, staged in pinned memory, one copy per step.
  std::vector<uint8_t> meta_host_;
  StepBuffers eager_buffers_, graph_buffers_;
  struct MetaPtrs {
    const int32_t *tokens, *positions, *slots, *q_indptr, *kv_lens, *block_indptr, *block_ids, *logit_rows;
    const int32_t *order, *inverse, *group_indptr, *prefix_lens, *prefix_block_indptr, *prefix_block_ids;
    const int32_t *suffix_kv_lens, *suffix_block_indptr, *suffix_block_ids;
    const float *temperature, *top_p, *min_p;
    const int32_t* top_k;
    const uint64_t *seeds, *offsets;
  } meta_{};

  // Activations (bf16 unless noted), carved from the step's arena.
  void *x_ = nullptr, *tmp_ = nullptr, *xn_ = nullptr, *q_ = nullptr, *qkv_ = nullptr, *attn_ = nullptr;
  void *gate_up_ = nullptr, *act_ = nullptr, *rows_ = nullptr, *logits_bf16_ = nullptr;
  void *q_perm_ = nullptr, *o_perm_ = nullptr, *attn_ws_ = nullptr, *sample_ws_ = nullptr;
  float *logits_ = nullptr, *logprobs_ = nullptr;
  int32_t* sampled_ = nullptr;
  int64_t attn_ws_bytes_ = 0, sample_ws_bytes_ = 0;
};

}  // namespace radixserve::backend::cuda
