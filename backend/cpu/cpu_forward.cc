#include "backend/cpu/cpu_forward.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "kernels/attention_params.h"
#include "kernels/cpu/activation.h"
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

absl::StatusOr<PackedStep> PackStep(const StepBatch& batch, const model::ModelConfig& config,
                                    int32_t block_size, int64_t num_blocks) {
  PackedStep p;
  p.q_indptr.push_back(0);
  p.block_indptr.push_back(0);
  for (size_t s = 0; s < batch.sequences.size(); ++s) {
    const SequenceStep& seq = batch.sequences[s];
    const int64_t n = static_cast<int64_t>(seq.tokens.size());
    if (n == 0) return absl::InvalidArgumentError(absl::StrCat("sequence ", s, " brings no tokens"));
    if (seq.start_position < 0) {
      return absl::InvalidArgumentError(absl::StrCat("sequence ", s, " has a negative start position"));
    }
    const int64_t kv_len = seq.start_position + n;
    if (config.max_position_embeddings > 0 && kv_len > config.max_position_embeddings) {
      return absl::InvalidArgumentError(absl::StrCat("sequence ", s, " reaches position ", kv_len,
                                                     ", past the model's context of ",
                                                     config.max_position_embeddings));
    }
    const int64_t blocks_needed = (kv_len + block_size - 1) / block_size;
    if (static_cast<int64_t>(seq.block_table.size()) < blocks_needed) {
      return absl::InvalidArgumentError(absl::StrCat("sequence ", s, " needs ", blocks_needed,
                                                     " blocks for ", kv_len, " tokens but its table has ",
                                                     seq.block_table.size()));
    }
    for (int64_t b = 0; b < blocks_needed; ++b) {
      const int32_t id = seq.block_table[b];
      if (id < 0 || id >= num_blocks) {
        return absl::InvalidArgumentError(absl::StrCat("sequence ", s, " block ", b, " is ", id,
                                                       ", outside the pool of ", num_blocks, " blocks"));
      }
      p.block_ids.push_back(id);
    }
    for (int64_t i = 0; i < n; ++i) {
      const int32_t token = seq.tokens[i];
      if (token < 0 || token >= config.vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat("sequence ", s, " token ", i, " is ", token,
                                                       ", outside the vocabulary of ", config.vocab_size));
      }
      const int64_t pos = seq.start_position + i;
      p.tokens.push_back(token);
      p.positions.push_back(static_cast<int32_t>(pos));
      p.slot_mapping.push_back(seq.block_table[pos / block_size] * block_size + pos % block_size);
    }
    if (seq.sample || seq.return_logits) {
      p.logit_rows.push_back(static_cast<int32_t>(p.tokens.size() - 1));
      p.logit_seqs.push_back(static_cast<int32_t>(s));
    }
    p.q_indptr.push_back(static_cast<int32_t>(p.tokens.size()));
    p.kv_lens.push_back(static_cast<int32_t>(kv_len));
    p.block_indptr.push_back(static_cast<int32_t>(p.block_ids.size()));
    p.max_q_len = std::max<int32_t>(p.max_q_len, static_cast<int32_t>(n));
    p.max_kv_len = std::max<int32_t>(p.max_kv_len, static_cast<int32_t>(kv_len));
  }
  return p;
}

CpuForward::CpuForward(const model::ModelConfig& config, const CpuWeights& weights, CpuKvPool& kv,
                       int32_t block_size, kernels::cpu::ThreadPool& pool)
    : config_(config), weights_(weights), kv_(kv), pool_(pool) {
  view_.num_blocks = static_cast<int32_t>(kv.num_blocks());
  view_.block_size = block_size;
  view_.num_kv_heads = static_cast<int32_t>(config.num_kv_heads);
  view_.head_dim = static_cast<int32_t>(config.head_dim);

  rope_base_.dtype = ScalarType::kF32;
  rope_base_.style = weights.rope_style;
  rope_base_.num_q_heads = static_cast<int32_t>(config.num_heads);
  rope_base_.num_kv_heads = static_cast<int32_t>(config.num_kv_heads);
  rope_base_.head_dim = static_cast<int32_t>(config.head_dim);
  rope_base_.theta = static_cast<float>(config.rope_theta);
  if (config.rope_scaling.type == model::RopeScalingType::kLinear) {
    rope_base_.scaling = kernels::RopeScaling::kLinear;
    rope_base_.factor = static_cast<float>(config.rope_scaling.factor);
  }
  rope_base_.maybe_freq_factors = weights.rope_freq_factors.empty() ? nullptr : weights.rope_freq_factors.data();
  // cos/sin for the positions most sequences use; later ones are computed on the fly.
  const int64_t table_positions = std::min<int64_t>(
      config.max_position_embeddings > 0 ? config.max_position_embeddings : 4096, 16384);
  rope_table_ = std::make_unique<kernels::cpu::RopeTable>(rope_base_, static_cast<int32_t>(table_positions));
}

absl::Status CpuForward::Attention(int32_t layer, const PackedStep& step) {
  kernels::PagedBatch batch;
  batch.num_seqs = static_cast<int32_t>(step.kv_lens.size());
  batch.q_indptr = step.q_indptr.data();
  batch.kv_lens = step.kv_lens.data();
  batch.block_indptr = step.block_indptr.data();
  batch.block_ids = step.block_ids.data();
  const float sm_scale = 1.0f / std::sqrt(static_cast<float>(config_.head_dim));
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

  kernels::KvWriteParams write;
  write.dtype = ScalarType::kF32;
  write.k_new = kv_new_.data();
  write.v_new = kv_new_.data() + kv_dim;
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
