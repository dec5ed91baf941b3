#include "backend/cpu/cpu_forward.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "backend/model_description.h"
#include "common/status_macros.h"
#include "kernels/attention_params.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/f16_kv_attention.h"
#include "kernels/cpu/flash_attention.h"
#include "kernels/cpu/memory_ops.h"
#include "kernels/cpu/paged_attention.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cpu/rmsnorm.h"
#include "kernels/cpu/rope.h"

namespace radixserve::backend::cpu {
namespace {

using kernels::ScalarType;

void AddBias(float* rows, int64_t num_rows, int64_t stride, const std::vector<float>& bias) {
  if (bias.empty()) return;
  for (int64_t r = 0; r < num_rows; ++r) {
    float* row = rows + r * stride;
    for (size_t i = 0; i < bias.size(); ++i) row[i] += bias[i];
  }
}

void Grow(std::vector<float>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

}  // namespace

CpuForward::CpuForward(const model::ModelConfig& config, const CpuWeights& weights, CpuKvPool& kv,
                       int32_t block_size, kernels::cpu::ThreadPool& pool)
    : config_(config), weights_(weights), kv_(kv), pool_(pool) {
  view_.num_blocks = static_cast<int32_t>(kv.num_blocks());
  view_.block_size = block_size;
  view_.num_kv_heads = static_cast<int32_t>(config.num_kv_heads);
  view_.head_dim = static_cast<int32_t>(config.head_dim);

  rope_base_ = RopeParamsFor(config, weights.rope_style, ScalarType::kF32,
                             weights.rope_freq_factors.empty() ? nullptr : weights.rope_freq_factors.data());
  // cos/sin for the positions most sequences use; later ones are computed on the fly.
  const int64_t table_positions = std::min<int64_t>(
      config.max_position_embeddings > 0 ? config.max_position_embeddings : 4096, 16384);
  // llama.cpp's angle computation: see RopeAngles::kLlamaCpp.
  rope_table_ = std::make_unique<kernels::cpu::RopeTable>(rope_base_, static_cast<int32_t>(table_positions),
                                                          kernels::cpu::RopeAngles::kLlamaCpp);
}

absl::Status CpuForward::Attention(int32_t layer, const PackedStep& step) {
  const float sm_scale_f = 1.0f / std::sqrt(static_cast<float>(config_.head_dim));
  if (kv_.dtype() == ScalarType::kF16) {  // llama.cpp's numerics (f16_kv_attention.h)
    kernels::cpu::F16KvAttentionParams a;
    a.q = q_.data();
    a.o = attn_.data();
    a.k_cache = static_cast<const uint16_t*>(kv_.k(layer));
    a.v_cache = static_cast<const uint16_t*>(kv_.v(layer));
    a.kv = view_;
    a.batch.num_seqs = static_cast<int32_t>(step.kv_lens.size());
    a.batch.q_indptr = step.q_indptr.data();
    a.batch.kv_lens = step.kv_lens.data();
    a.batch.block_indptr = step.block_indptr.data();
    a.batch.block_ids = step.block_ids.data();
    a.num_q_heads = static_cast<int32_t>(config_.num_heads);
    a.sm_scale = sm_scale_f;
    a.causal = true;
    return kernels::cpu::F16KvAttention(a, &pool_);
  }
  kernels::PagedBatch batch;
  batch.num_seqs = static_cast<int32_t>(step.kv_lens.size());
  batch.q_indptr = step.q_indptr.data();
  batch.kv_lens = step.kv_lens.data();
  batch.block_indptr = step.block_indptr.data();
  batch.block_ids = step.block_ids.data();
  const float sm_scale = sm_scale_f;
  const int32_t num_q_heads = static_cast<int32_t>(config_.num_heads);

  if (step.max_q_len == 1) {  // pure decode step: one query per sequence
    kernels::DecodeParams d;
    d.dtype = ScalarType::kF32;
    d.q = q_.data();
    d.o = attn_.data();
    d.k_cache = kv_.k(layer);
    d.v_cache = kv_.v(layer);
    d.kv = view_;
    d.batch = batch;
    d.num_q_heads = num_q_heads;
    d.sm_scale = sm_scale;
    d.max_kv_len = step.max_kv_len;
    return kernels::cpu::PagedAttentionDecode(d, &pool_);
  }
  kernels::PrefillParams p;
  p.dtype = ScalarType::kF32;
  p.kv_source = kernels::KvSource::kPaged;
  p.q = q_.data();
  p.o = attn_.data();
  p.k_cache = kv_.k(layer);
  p.v_cache = kv_.v(layer);
  p.kv = view_;
  p.batch = batch;
  p.num_q_heads = num_q_heads;
  p.sm_scale = sm_scale;
  p.causal = true;
  p.max_q_len = step.max_q_len;
  return kernels::cpu::FlashAttentionPrefill(p, &pool_);
}

absl::StatusOr<std::span<const float>> CpuForward::Run(const PackedStep& step) {
  const int64_t t = static_cast<int64_t>(step.tokens.size());
  const int64_t hidden = config_.hidden_size;
  const int64_t q_dim = config_.num_heads * config_.head_dim;
  const int64_t kv_dim = config_.num_kv_heads * config_.head_dim;
  const int64_t ffn = config_.intermediate_size;
  const int64_t vocab = config_.vocab_size;
  Grow(x_, t * hidden);
  Grow(xn_, t * hidden);
  Grow(q_, t * q_dim);
  Grow(kv_new_, t * 2 * kv_dim);
  const bool kv_half = kv_.dtype() == ScalarType::kF16;
  if (kv_half && kv_half_.size() < static_cast<size_t>(t * 2 * kv_dim)) kv_half_.resize(t * 2 * kv_dim);
  Grow(attn_, t * q_dim);
  Grow(tmp_, t * hidden);
  Grow(gate_up_, t * 2 * ffn);
  Grow(act_, t * ffn);

  kernels::cpu::EmbeddingLookup(weights_.token_embd, step.tokens.data(), t, x_.data(), &pool_);

  kernels::RmsNormParams norm;
  norm.dtype = ScalarType::kF32;
  norm.num_tokens = static_cast<int32_t>(t);
  norm.hidden = static_cast<int32_t>(hidden);
  norm.eps = static_cast<float>(config_.rms_norm_eps);

  kernels::RopeParams rope = rope_base_;
  rope.q = q_.data();
  rope.k = kv_new_.data();
  rope.positions = step.positions.data();
  rope.num_tokens = static_cast<int32_t>(t);
  rope.q_token_stride = q_dim;
  rope.k_token_stride = 2 * kv_dim;

  // K and V go into the cache in its type: float rows as they are, or rounded to fp16.
  kernels::KvWriteParams write;
  write.dtype = kv_.dtype();
  write.k_new = kv_half ? static_cast<const void*>(kv_half_.data()) : kv_new_.data();
  write.v_new = kv_half ? static_cast<const void*>(kv_half_.data() + kv_dim) : kv_new_.data() + kv_dim;
  write.kv = view_;
  write.slot_mapping = step.slot_mapping.data();
  write.num_tokens = static_cast<int32_t>(t);
  write.k_token_stride = 2 * kv_dim;
  write.v_token_stride = 2 * kv_dim;

  kernels::SiluAndMulParams silu;
  silu.dtype = ScalarType::kF32;
  silu.x = gate_up_.data();
  silu.out = act_.data();
  silu.num_tokens = static_cast<int32_t>(t);
  silu.d = static_cast<int32_t>(ffn);

  for (int32_t l = 0; l < config_.num_layers; ++l) {
    const CpuLayerWeights& w = weights_.layers[l];
    // x_ holds the residual stream; tmp_ the previous sublayer's output (none at layer 0).
    norm.x = l == 0 ? x_.data() : tmp_.data();
    norm.maybe_residual = l == 0 ? nullptr : x_.data();
    norm.out = xn_.data();
    norm.weight = w.attn_norm.data();
    kernels::cpu::RmsNorm(norm, &pool_);

    // Q, K and V read the same normed rows: one dispatch, activations quantized once.
    const kernels::cpu::MatmulOutput qkv[] = {
        {w.q, q_.data(), q_dim}, {w.k, kv_new_.data(), 2 * kv_dim}, {w.v, kv_new_.data() + kv_dim, 2 * kv_dim}};
    kernels::cpu::MatmulShared(xn_.data(), t, hidden, qkv, 3, &pool_);
    AddBias(q_.data(), t, q_dim, w.q_bias);
    AddBias(kv_new_.data(), t, 2 * kv_dim, w.k_bias);
    AddBias(kv_new_.data() + kv_dim, t, 2 * kv_dim, w.v_bias);
    kernels::cpu::ApplyRope(rope, rope_table_.get(), &pool_);

    if (kv_half) kernels::cpu::ConvertToHalf(kv_new_.data(), kv_half_.data(), t * 2 * kv_dim);
    write.k_cache = kv_.k(l);
    write.v_cache = kv_.v(l);
    kernels::cpu::WriteKv(write);
    RETURN_IF_ERROR(Attention(l, step));

    kernels::cpu::Matmul(attn_.data(), t, q_dim, w.o, tmp_.data(), hidden, &pool_);
    norm.x = tmp_.data();
    norm.maybe_residual = x_.data();
    norm.out = xn_.data();
    norm.weight = w.ffn_norm.data();
    kernels::cpu::RmsNorm(norm, &pool_);

    const kernels::cpu::MatmulOutput gate_up[] = {{w.gate, gate_up_.data(), 2 * ffn},
                                                  {w.up, gate_up_.data() + ffn, 2 * ffn}};
    kernels::cpu::MatmulShared(xn_.data(), t, hidden, gate_up, 2, &pool_);
    kernels::cpu::SiluAndMul(silu, &pool_);
    kernels::cpu::Matmul(act_.data(), t, ffn, w.down, tmp_.data(), hidden, &pool_);
  }

  // Final norm (with the last residual add) on the rows that produce logits only.
  const int64_t r = static_cast<int64_t>(step.logit_rows.size());
  Grow(rows_, r * hidden);
  Grow(logits_, r * vocab);
  for (int64_t i = 0; i < r; ++i) {
    const int64_t row = step.logit_rows[i];
    for (int64_t j = 0; j < hidden; ++j) rows_[i * hidden + j] = x_[row * hidden + j] + tmp_[row * hidden + j];
  }
  if (r > 0) {
    norm.x = rows_.data();
    norm.maybe_residual = nullptr;
    norm.out = rows_.data();
    norm.weight = weights_.output_norm.data();
    norm.num_tokens = static_cast<int32_t>(r);
    kernels::cpu::RmsNorm(norm, &pool_);
    kernels::cpu::Matmul(rows_.data(), r, hidden, weights_.output, logits_.data(), vocab, &pool_);
  }
  return std::span<const float>(logits_.data(), r * vocab);
}

}  // namespace radixserve::backend::cpu
