#include "backend/cuda/cuda_forward.h"

#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <span>

#include "backend/cuda/step_kernels.h"
#include "backend/model_description.h"
#include "common/status_macros.h"
#include "kernels/cuda/activation.cuh"
#include "kernels/cuda/flash_attention.cuh"
#include "kernels/cuda/paged_attention.cuh"
#include "kernels/cuda/radix_attention.cuh"
#include "kernels/cuda/rmsnorm.cuh"
#include "kernels/cuda/rope.cuh"
#include "kernels/cuda/sampling.cuh"

namespace radixserve::backend::cuda {
namespace {

using kernels::ScalarType;

constexpr int64_t kAlign = 256;

int64_t AlignUp(int64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// Appends arrays to a byte image at aligned offsets; pointers are resolved after upload.
class MetaImage {
 public:
  explicit MetaImage(std::vector<uint8_t>& bytes) : bytes_(bytes) { bytes_.clear(); }
  template <typename T>
  int64_t Add(std::span<const T> v) {
    const int64_t at = AlignUp(static_cast<int64_t>(bytes_.size()));
    bytes_.resize(static_cast<size_t>(at + static_cast<int64_t>(v.size_bytes())));
    if (!v.empty()) std::memcpy(bytes_.data() + at, v.data(), v.size_bytes());
    return at;
  }
  template <typename T>
  int64_t Add(const std::vector<T>& v) {
    return Add(std::span<const T>(v));
  }

 private:
  std::vector<uint8_t>& bytes_;
};

}  // namespace

CudaForward::CudaForward(const model::ModelConfig& config, const CudaWeights& weights, const DeviceKv& kv, Gemm& gemm,
                         cudaStream_t stream)
    : config_(config),
      dims_(ModelDims::Of(config)),
      weights_(weights),
      kv_(kv),
      gemm_(gemm),
      stream_(stream),
      profiler_(stream) {
  rope_base_ = RopeParamsFor(config, weights.rope_style, ScalarType::kBF16, weights.rope_freq_factors.as<const float>());
  const char* graphs = std::getenv("RADIXSERVE_CUDA_GRAPHS");
  graphs_enabled_ = (graphs == nullptr || std::string(graphs) != "0") && !profiler_.enabled();
  single_row_fused_ = gemm_.UsesGemv(weights_.output, 1);
  for (const CudaLayerWeights& w : weights_.layers) {
    single_row_fused_ = single_row_fused_ && gemm_.UsesGemv(w.qkv, 1) && gemm_.UsesGemv(w.o, 1) &&
                        gemm_.UsesGemv(w.gate_up, 1) && gemm_.UsesGemv(w.down, 1);
  }
}

absl::Status CudaForward::Attention(int32_t layer, const PackedStep& step, const CascadePlan* cascade) {
  const float sm_scale = 1.0f / std::sqrt(static_cast<float>(dims_.head_dim));
  const int32_t num_seqs = static_cast<int32_t>(step.kv_lens.size());
  kernels::PagedBatch batch;
  batch.num_seqs = num_seqs;
  batch.q_indptr = meta_.q_indptr;
  batch.kv_lens = meta_.kv_lens;
  batch.block_indptr = meta_.block_indptr;
  batch.block_ids = meta_.block_ids;

  if (cascade != nullptr) {
    RS_CUDA_OK(LaunchGatherRows(q_, meta_.order, num_seqs, static_cast<int32_t>(dims_.q_dim), q_perm_, stream_));
    kernels::CascadeDecodeParams c;
    c.dtype = ScalarType::kBF16;
    c.q = q_perm_;
    c.o = o_perm_;
    c.k_cache = kv_.k[layer];
    c.v_cache = kv_.v[layer];
    c.kv = kv_.view;
    c.num_groups = static_cast<int32_t>(cascade->prefix_lens.size());
    c.group_indptr = meta_.group_indptr;
    c.prefix_lens = meta_.prefix_lens;
    c.prefix_block_indptr = meta_.prefix_block_indptr;
    c.prefix_block_ids = meta_.prefix_block_ids;
    c.suffix.num_seqs = num_seqs;
    c.suffix.kv_lens = meta_.suffix_kv_lens;
    c.suffix.block_indptr = meta_.suffix_block_indptr;
    c.suffix.block_ids = meta_.suffix_block_ids;
    c.num_q_heads = dims_.num_q_heads;
    c.sm_scale = sm_scale;
    c.max_group_size = cascade->max_group_size;
    c.max_prefix_len = cascade->max_prefix_len;
    c.max_suffix_len = cascade->max_suffix_len;
    c.workspace = attn_ws_;
    c.workspace_bytes = attn_ws_bytes_;
    RS_KERNEL_OK(kernels::cuda::CascadeDecode(c, stream_));
    RS_CUDA_OK(LaunchGatherRows(o_perm_, meta_.inverse, num_seqs, static_cast<int32_t>(dims_.q_dim), attn_, stream_));
    return absl::OkStatus();
  }
  if (step.max_q_len == 1) {
    kernels::DecodeParams d;
    d.dtype = ScalarType::kBF16;
    d.q = q_;
    d.o = attn_;
    d.k_cache = kv_.k[layer];
    d.v_cache = kv_.v[layer];
    d.kv = kv_.view;
    d.batch = batch;
    d.num_q_heads = dims_.num_q_heads;
    d.sm_scale = sm_scale;
    d.max_kv_len = step.max_kv_len;
    d.workspace = attn_ws_;
    d.workspace_bytes = attn_ws_bytes_;
    RS_KERNEL_OK(kernels::cuda::DecodeWithPagedKv(d, stream_));
    return absl::OkStatus();
  }
  kernels::PrefillParams p;
  p.dtype = ScalarType::kBF16;
  p.kv_source = kernels::KvSource::kPaged;
  p.q = q_;
  p.o = attn_;
  p.k_cache = kv_.k[layer];
  p.v_cache = kv_.v[layer];
  p.kv = kv_.view;
  p.batch = batch;
  p.num_q_heads = dims_.num_q_heads;
  p.sm_scale = sm_scale;
  p.causal = true;
  p.max_q_len = step.max_q_len;
  RS_KERNEL_OK(kernels::cuda::PrefillAttention(p, stream_));
  return absl::OkStatus();
}

absl::Status CudaForward::Prepare(const PackedStep& step, const CascadePlan* cascade, const DeviceSampling* sampling,
                                  StepBuffers& buffers) {
  const int32_t t = static_cast<int32_t>(step.tokens.size());
  const int32_t num_seqs = static_cast<int32_t>(step.kv_lens.size());
  const int32_t r = static_cast<int32_t>(step.logit_rows.size());

  // Metadata image -> pinned -> device, one copy.
  MetaImage image(meta_host_);
  const int64_t o_tokens = image.Add(step.tokens), o_pos = image.Add(step.positions),
                o_slots = image.Add(step.slot_mapping), o_qi = image.Add(step.q_indptr),
                o_kvl = image.Add(step.kv_lens), o_bi = image.Add(step.block_indptr),
                o_bids = image.Add(step.block_ids), o_rows = image.Add(step.logit_rows);
  int64_t o_c[9] = {};
  if (cascade != nullptr) {
    o_c[0] = image.Add(cascade->order);
    o_c[1] = image.Add(cascade->inverse);
    o_c[2] = image.Add(cascade->group_indptr);
    o_c[3] = image.Add(cascade->prefix_lens);
    o_c[4] = image.Add(cascade->prefix_block_indptr);
    o_c[5] = image.Add(cascade->prefix_block_ids);
    o_c[6] = image.Add(cascade->suffix_kv_lens);
    o_c[7] = image.Add(cascade->suffix_block_indptr);
    o_c[8] = image.Add(cascade->suffix_block_ids);
  }
  int64_t o_s[6] = {};
  if (sampling != nullptr) {
    o_s[0] = image.Add(sampling->temperature);
    o_s[1] = image.Add(sampling->top_p);
    o_s[2] = image.Add(sampling->min_p);
    o_s[3] = image.Add(sampling->top_k);
    o_s[4] = image.Add(sampling->seeds);
    o_s[5] = image.Add(sampling->offsets);
  }
  const int64_t meta_bytes = AlignUp(static_cast<int64_t>(meta_host_.size()));
  RETURN_IF_ERROR(buffers.meta_pinned.Reserve(meta_bytes));
  if (&buffers == &graph_buffers_ && meta_bytes > buffers.meta_device.bytes()) DropGraphs();
  RETURN_IF_ERROR(buffers.meta_device.Reserve(meta_bytes));
  std::memcpy(buffers.meta_pinned.get(), meta_host_.data(), meta_host_.size());
  RS_CUDA_OK(cudaMemcpyAsync(buffers.meta_device.get(), buffers.meta_pinned.get(), meta_host_.size(),
                             cudaMemcpyHostToDevice, stream_));
  const uint8_t* base = buffers.meta_device.as<const uint8_t>();
  auto i32 = [&](int64_t off) { return reinterpret_cast<const int32_t*>(base + off); };
  meta_.tokens = i32(o_tokens);
  meta_.positions = i32(o_pos);
  meta_.slots = i32(o_slots);
  meta_.q_indptr = i32(o_qi);
  meta_.kv_lens = i32(o_kvl);
  meta_.block_indptr = i32(o_bi);
  meta_.block_ids = i32(o_bids);
  meta_.logit_rows = i32(o_rows);
  meta_.order = i32(o_c[0]);
  meta_.inverse = i32(o_c[1]);
  meta_.group_indptr = i32(o_c[2]);
  meta_.prefix_lens = i32(o_c[3]);
  meta_.prefix_block_indptr = i32(o_c[4]);
  meta_.prefix_block_ids = i32(o_c[5]);
  meta_.suffix_kv_lens = i32(o_c[6]);
  meta_.suffix_block_indptr = i32(o_c[7]);
  meta_.suffix_block_ids = i32(o_c[8]);
  meta_.temperature = reinterpret_cast<const float*>(base + o_s[0]);
  meta_.top_p = reinterpret_cast<const float*>(base + o_s[1]);
  meta_.min_p = reinterpret_cast<const float*>(base + o_s[2]);
  meta_.top_k = i32(o_s[3]);
  meta_.seeds = reinterpret_cast<const uint64_t*>(base + o_s[4]);
  meta_.offsets = reinterpret_cast<const uint64_t*>(base + o_s[5]);

  // Workspaces of this step's attention and sampling.
  if (cascade != nullptr) {
    attn_ws_bytes_ = kernels::cuda::CascadeWorkspaceBytes(
        static_cast<int32_t>(cascade->prefix_lens.size()), num_seqs, dims_.num_q_heads, dims_.num_kv_heads,
        static_cast<int32_t>(dims_.head_dim), cascade->max_group_size, cascade->max_prefix_len,
        cascade->max_suffix_len);
  } else if (step.max_q_len == 1) {
    attn_ws_bytes_ = kernels::cuda::DecodeWorkspaceBytes(num_seqs, dims_.num_q_heads, dims_.num_kv_heads,
                                                         static_cast<int32_t>(dims_.head_dim), step.max_kv_len);
  } else {
    attn_ws_bytes_ = 0;
  }
  sample_ws_bytes_ =
      sampling != nullptr ? kernels::cuda::SamplingWorkspaceBytes(r, static_cast<int32_t>(dims_.vocab)) : 0;

  // Activations, carved from one buffer.
  const int64_t cascade_q = cascade != nullptr ? num_seqs * dims_.q_dim * 2 : 0;
  const int64_t sizes[] = {
      t * dims_.hidden * 2,   // x_
      t * dims_.hidden * 2,   // tmp_
      t * dims_.hidden * 2,   // xn_
      t * dims_.q_dim * 2,    // q_
      t * dims_.qkv_dim * 2,  // qkv_
      t * dims_.q_dim * 2,    // attn_
      t * 2 * dims_.ffn * 2,  // gate_up_
      t * dims_.ffn * 2,      // act_
      r * dims_.hidden * 2,   // rows_
      r * dims_.vocab * 2,    // logits_bf16_
      cascade_q,              // q_perm_
      cascade_q,              // o_perm_
      attn_ws_bytes_,         // attn_ws_
      sample_ws_bytes_,       // sample_ws_
      r * dims_.vocab * 4,    // logits_
      r * 4,                  // logprobs_
      r * 4};                 // sampled_
  int64_t total = 0;
  for (int64_t s : sizes) total += AlignUp(s);
  if (&buffers == &graph_buffers_ && total > buffers.arena.bytes()) DropGraphs();
  RETURN_IF_ERROR(buffers.arena.Reserve(total));
  void* ptrs[std::size(sizes)];
  int64_t at = 0;
  for (size_t i = 0; i < std::size(sizes); ++i) {
    ptrs[i] = buffers.arena.as<uint8_t>() + at;
    at += AlignUp(sizes[i]);
  }
  x_ = ptrs[0], tmp_ = ptrs[1], xn_ = ptrs[2], q_ = ptrs[3], qkv_ = ptrs[4], attn_ = ptrs[5];
  gate_up_ = ptrs[6], act_ = ptrs[7], rows_ = ptrs[8], logits_bf16_ = ptrs[9], q_perm_ = ptrs[10], o_perm_ = ptrs[11];
  attn_ws_ = ptrs[12], sample_ws_ = ptrs[13];
  logits_ = static_cast<float*>(ptrs[14]);
  logprobs_ = static_cast<float*>(ptrs[15]);
  sampled_ = static_cast<int32_t*>(ptrs[16]);

  return absl::OkStatus();
}

absl::Status CudaForward::EnqueueModel(const PackedStep& step, const CascadePlan* cascade) {
  const int32_t t = static_cast<int32_t>(step.tokens.size());
  const int32_t r = static_cast<int32_t>(step.logit_rows.size());

  profiler_.Begin();
  RS_CUDA_OK(
      LaunchEmbedding(weights_.token_embd.get(), meta_.tokens, t, static_cast<int32_t>(dims_.hidden), x_, stream_));
  profiler_.Mark("embedding");

  kernels::RmsNormParams norm;
  norm.dtype = ScalarType::kBF16;
  norm.num_tokens = t;
  norm.hidden = static_cast<int32_t>(dims_.hidden);
  norm.eps = static_cast<float>(config_.rms_norm_eps);

  // One QKV projection; RoPE then moves Q out packed and writes K and V to their slots.
  kernels::RopeWriteKvParams rope_write;
  rope_write.rope = rope_base_;
  rope_write.rope.q = qkv_;
  rope_write.rope.positions = meta_.positions;
  rope_write.rope.num_tokens = t;
  rope_write.rope.q_token_stride = dims_.qkv_dim;
  rope_write.q_out = q_;
  kernels::KvWriteParams& write = rope_write.write;
  write.dtype = ScalarType::kBF16;
  write.k_new = static_cast<uint16_t*>(qkv_) + dims_.q_dim;
  write.v_new = static_cast<uint16_t*>(qkv_) + dims_.q_dim + dims_.kv_dim;
  write.kv = kv_.view;
  write.slot_mapping = meta_.slots;
  write.num_tokens = t;
  write.k_token_stride = dims_.qkv_dim;
  write.v_token_stride = dims_.qkv_dim;

  kernels::SiluAndMulParams silu;
  silu.dtype = ScalarType::kBF16;
  silu.x = gate_up_;
  silu.out = act_;
  silu.num_tokens = t;
  silu.d = static_cast<int32_t>(dims_.ffn);

  // A single-token step whose products all take the GEMV path fuses each RMSNorm into the
  // product that reads it and each residual add into the product that feeds it, so x_ is
  // the residual stream after every sublayer. Otherwise the norm kernel adds the previous
  // sublayer's output (tmp_) to x_ and writes the normalized rows to xn_.
  const bool fused = t == 1 && single_row_fused_;
  const float eps = static_cast<float>(config_.rms_norm_eps);
  auto normed_product = [&](const LinearWeight& lw, const DeviceBuffer& norm_weight, bool add_residual, void* out,
                            bool out_f32) -> absl::Status {
    if (fused) {
      GemvFusion f{norm_weight.as<const uint16_t>(), eps, nullptr};
      return gemm_.Run(lw, x_, t, out, out_f32, nullptr, stream_, &f);
    }
    norm.x = add_residual ? tmp_ : x_;
    norm.maybe_residual = add_residual ? x_ : nullptr;
    norm.out = xn_;
    norm.weight = norm_weight.get();
    RS_KERNEL_OK(kernels::cuda::RmsNorm(norm, stream_));
    profiler_.Mark("rmsnorm");
    return gemm_.Run(lw, xn_, t, out, out_f32, nullptr, stream_);
  };
  auto residual_product = [&](const LinearWeight& lw, const void* in) -> absl::Status {
    if (fused) {
      GemvFusion f{nullptr, 0.0f, static_cast<const uint16_t*>(x_)};
      return gemm_.Run(lw, in, t, x_, false, nullptr, stream_, &f);
    }
    return gemm_.Run(lw, in, t, tmp_, false, nullptr, stream_);
  };

  for (int32_t l = 0; l < config_.num_layers; ++l) {
    const CudaLayerWeights& w = weights_.layers[l];
    RETURN_IF_ERROR(normed_product(w.qkv, w.attn_norm, l > 0, qkv_, false));
    profiler_.Mark("gemm_qkv");
    write.k_cache = kv_.k[l];
    write.v_cache = kv_.v[l];
    RS_KERNEL_OK(kernels::cuda::ApplyRopeAndWriteKv(rope_write, stream_));
    profiler_.Mark("rope_write_kv");
    RETURN_IF_ERROR(Attention(l, step, cascade));
    profiler_.Mark("attention");
    RETURN_IF_ERROR(residual_product(w.o, attn_));
    profiler_.Mark("gemm_o");
    RETURN_IF_ERROR(normed_product(w.gate_up, w.ffn_norm, true, gate_up_, false));
    profiler_.Mark("gemm_gate_up");
    RS_KERNEL_OK(kernels::cuda::SiluAndMul(silu, stream_));
    profiler_.Mark("silu_mul");
    RETURN_IF_ERROR(residual_product(w.down, act_));
    profiler_.Mark("gemm_down");
  }

  if (r == 0) {
    profiler_.End();
    return absl::OkStatus();
  }
  if (fused) {  // the one row is the logit row
    RETURN_IF_ERROR(normed_product(weights_.output, weights_.output_norm, true, logits_, true));
    profiler_.Mark("lm_head");
    profiler_.End();
    return absl::OkStatus();
  }
  // Final norm with the last residual add, then only the rows that produce logits.
  norm.x = tmp_;
  norm.maybe_residual = x_;
  norm.out = xn_;
  norm.weight = weights_.output_norm.get();
  RS_KERNEL_OK(kernels::cuda::RmsNorm(norm, stream_));
  RS_CUDA_OK(LaunchGatherRows(xn_, meta_.logit_rows, r, static_cast<int32_t>(dims_.hidden), rows_, stream_));
  profiler_.Mark("final_norm");
  RETURN_IF_ERROR(gemm_.Run(weights_.output, rows_, r, logits_, true, logits_bf16_, stream_));
  profiler_.Mark("lm_head");
  profiler_.End();

  return absl::OkStatus();
}

absl::StatusOr<ForwardOutput> CudaForward::Sample(int32_t rows, const DeviceSampling* sampling) {
  const int32_t r = rows;
  ForwardOutput out;
  out.logits = logits_;
  if (sampling != nullptr && rows > 0) {
    kernels::SamplingParams s;
    s.logits = logits_;
    s.batch = r;
    s.vocab = static_cast<int32_t>(dims_.vocab);
    s.temperature = meta_.temperature;
    s.maybe_top_k = meta_.top_k;
    s.maybe_top_p = meta_.top_p;
    s.maybe_min_p = meta_.min_p;
    s.seeds = meta_.seeds;
    s.offsets = meta_.offsets;
    s.out_tokens = sampled_;
    s.workspace = sample_ws_;
    s.workspace_bytes = sample_ws_bytes_;
    RS_KERNEL_OK(kernels::cuda::Sample(s, stream_));
    RS_CUDA_OK(LaunchChosenLogprob(logits_, r, static_cast<int32_t>(dims_.vocab), sampled_, logprobs_, stream_));
    out.tokens = sampled_;
    out.logprobs = logprobs_;
  }
  return out;
}

absl::StatusOr<ForwardOutput> CudaForward::Run(const PackedStep& step, const DeviceSampling* sampling) {
  const int32_t num_seqs = static_cast<int32_t>(step.kv_lens.size());
  std::optional<CascadePlan> cascade = PlanCascade(step, kv_.view.block_size, kCascadeMinSharedTokens);
  if (graphs_enabled_ && !cascade && step.max_q_len == 1 && num_seqs <= kGraphBatches.back() &&
      static_cast<int32_t>(step.logit_rows.size()) == num_seqs) {
    return RunDecodeGraph(step, sampling);
  }
  RETURN_IF_ERROR(Prepare(step, cascade ? &*cascade : nullptr, sampling, eager_buffers_));
  RETURN_IF_ERROR(EnqueueModel(step, cascade ? &*cascade : nullptr));
  return Sample(static_cast<int32_t>(step.logit_rows.size()), sampling);
}

// Decode steps replay a CUDA graph of the whole model, captured once per (batch bucket,
// context bucket): the batch is padded with empty sequences (no KV slot written, no keys
// read) and the context bound rounded up to a power of two, which only picks the
// attention's split, so every argument baked into the graph is a pure function of the key,
// and the per-step data (tokens, positions, block tables, sampling) lives at fixed device
// addresses that one copy refreshes before each replay.
absl::StatusOr<ForwardOutput> CudaForward::RunDecodeGraph(const PackedStep& step, const DeviceSampling* sampling) {
  const int32_t n = static_cast<int32_t>(step.kv_lens.size());
  const int32_t batch = *std::lower_bound(kGraphBatches.begin(), kGraphBatches.end(), n);
  int32_t context = 256;
  while (context < step.max_kv_len) context *= 2;
  const int32_t bs = kv_.view.block_size;

  PackedStep padded = step;
  for (int32_t i = n; i < batch; ++i) {
    padded.tokens.push_back(0);
    padded.positions.push_back(0);
    padded.slot_mapping.push_back(-1);
    padded.kv_lens.push_back(0);
    padded.q_indptr.push_back(i + 1);
    padded.block_indptr.push_back(padded.block_indptr.back());
  }
  padded.block_ids.resize(static_cast<size_t>(batch) * ((context + bs - 1) / bs), 0);
  padded.logit_rows.resize(static_cast<size_t>(batch));
  for (int32_t i = 0; i < batch; ++i) padded.logit_rows[i] = i;
  padded.max_kv_len = context;
  DeviceSampling padded_sampling;
  if (sampling != nullptr) {
    padded_sampling = *sampling;
    padded_sampling.temperature.resize(batch, 0.0f);
    padded_sampling.top_p.resize(batch, 1.0f);
    padded_sampling.min_p.resize(batch, 0.0f);
    padded_sampling.top_k.resize(batch, 0);
    padded_sampling.seeds.resize(batch, 0);
    padded_sampling.offsets.resize(batch, 0);
  }
  RETURN_IF_ERROR(Prepare(padded, nullptr, sampling != nullptr ? &padded_sampling : nullptr, graph_buffers_));
  const auto key = std::make_pair(batch, context);
  auto it = graphs_.find(key);
  if (it == graphs_.end()) {
    cudaGraph_t graph = nullptr;
    RS_CUDA_OK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    const absl::Status captured = EnqueueModel(padded, nullptr);
    const cudaError_t ended = cudaStreamEndCapture(stream_, &graph);
    if (!captured.ok()) {
      if (graph != nullptr) cudaGraphDestroy(graph);
      return captured;
    }
    RS_CUDA_OK(ended);
    cudaGraphExec_t exec = nullptr;
    const cudaError_t instantiated = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    RS_CUDA_OK(instantiated);
    it = graphs_.emplace(key, exec).first;
  }
  RS_CUDA_OK(cudaGraphLaunch(it->second, stream_));
  return Sample(n, sampling);
}

void CudaForward::DropGraphs() {
  for (auto& [key, exec] : graphs_) cudaGraphExecDestroy(exec);
  graphs_.clear();
}

CudaForward::~CudaForward() { DropGraphs(); }

}  // namespace radixserve::backend::cuda
